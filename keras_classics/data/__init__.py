"""Input pipelines (TensorFlow): sources, the papers' augmentations, evaluation crops."""
