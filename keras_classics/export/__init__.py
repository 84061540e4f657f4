"""Export for TF Serving: versioned SavedModels with tensor, image-bytes and classify signatures,
warm-up requests, and clients (REST and gRPC). Uses TensorFlow (not imported by
`keras_classics` itself)."""

from keras_classics.export import spec
from keras_classics.export.labels import default_class_names, read_class_names
from keras_classics.export.serving import export_saved_model, read_metadata
from keras_classics.export.versions import list_versions, next_version

__all__ = [
    "default_class_names",
    "export_saved_model",
    "list_versions",
    "next_version",
    "read_class_names",
    "read_metadata",
    "spec",
]
