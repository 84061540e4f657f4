"""Export a model for TF Serving: a versioned SavedModel with tensor, image-bytes and classify
signatures and warm-up requests (docs/serving.md); --tflite also writes a TFLite file
(docs/tflite.md).

python scripts/export.py --model resnet50 --weights resnet50.tv_in1k --export-base models/r50
python scripts/export.py --keras-model runs/resnet20_digits/model.keras --export-base models/r20
python scripts/export.py --model resnet20 --weights r20.weights.h5 --normalization cifar10 \
    --resize-size 32 --export-base models/resnet20 --tflite models/resnet20.tflite

A model with a preprocessing record (a preset's weights, a .keras file written by train.py or
by `model.save` of a pretrained model) is served with it: no preprocessing flags needed, and a
flag that contradicts the record is an error unless --override-record. Without a record, the
flags say it (defaults: normalization "mean", the model's input size, resize 256 for 224).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines off

import argparse
import sys

import keras

import keras_classics  # noqa: F401 (registers the custom layers for .keras files)
from keras_classics.cli import ArgumentParser, add_model_arguments, positive_int, run_script
from keras_classics.export import export_saved_model, read_class_names, read_metadata, spec
from keras_classics.export.describe import describe_signatures
from keras_classics.export.tflite import check_tflite_path, describe_tflite, export_tflite
from keras_classics.models.common import load_weights
from keras_classics.normalization import NORMALIZATIONS
from keras_classics.registry import get_model


def build_model(args: argparse.Namespace) -> keras.Model:
    """The registry model (with its options and weights) or the `.keras` file."""
    if args.keras_model is None:
        return get_model(args.model, **dict(args.model_option), weights=args.weights)
    if args.model_option:
        raise ValueError("--model-option applies to --model, not to --keras-model")
    model = keras.saving.load_model(args.keras_model, safe_mode=True)
    return load_weights(model, args.weights)


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.add_argument("--keras-model", help="a saved .keras model instead of --model")
    parser.add_argument(
        "--weights",
        help="'imagenet', a preset (keras_classics.list_presets()) or a .weights.h5 / .keras file",
    )
    parser.add_argument("--export-base", required=True, help="TF Serving's model base path")
    parser.add_argument(
        "--version", type=positive_int, help="integer version (default: the next one)"
    )
    parser.add_argument("--top-k", type=positive_int, default=spec.DEFAULT_TOP_K)
    parser.add_argument(
        "--image-size", type=positive_int, help="served crop (default: model input)"
    )
    parser.add_argument(
        "--resize-size", type=positive_int, help="shorter side before the centre crop"
    )
    parser.add_argument(
        "--normalization",
        choices=list(NORMALIZATIONS),
        help="input normalisation (default: the model's record, else 'mean')",
    )
    parser.add_argument("--class-names", help="a text file with one class name per line")
    parser.add_argument(
        "--override-record",
        action="store_true",
        help="serve the flags above even where they contradict the model's record",
    )
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up requests")
    parser.add_argument(
        "--tflite",
        help="also write the serving_images signature as a TFLite (LiteRT) file, e.g. "
        "model.tflite, with the preprocessing record packed in (docs/tflite.md)",
    )
    args = parser.parse_args(argv)

    try:
        tflite = None if args.tflite is None else check_tflite_path(args.tflite)
        model = build_model(args)
        version_dir = export_saved_model(
            model,
            args.export_base,
            class_names=read_class_names(args.class_names) if args.class_names else None,
            normalization=args.normalization,
            image_size=args.image_size,
            resize_size=args.resize_size,
            version=args.version,
            top_k=args.top_k,
            warmup=not args.no_warmup,
            override_record=args.override_record,
        )
        if tflite is not None:
            export_tflite(version_dir, tflite)
    except (ValueError, FileExistsError, OSError) as error:
        raise ValueError(f"export.py: {error}") from error
    metadata = read_metadata(version_dir)
    print(f"exported {model.name} to {version_dir}")
    print(
        f"preprocessing from {metadata['preprocessing_from']}: normalization "
        f"{metadata['normalization']}, resize {metadata['resize_size']} "
        f"({metadata['interpolation']}), crop {metadata['image_size']}"
    )
    print(describe_signatures(version_dir))
    if tflite is not None:
        print(describe_tflite(tflite))


if __name__ == "__main__":
    sys.exit(run_script(main))
