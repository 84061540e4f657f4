"""Input pipelines (TensorFlow): sources, the papers' augmentations, evaluation crops.

source = load_source("cifar10")  # or "digits", an image folder, from_arrays(...)
train = make_dataset(source, "train", recipe="cifar", batch_size=128, training=True)
"""

from keras_classics.data.augment import DEFAULT_RECIPE_BY_FAMILY, RECIPES, Recipe, get_recipe
from keras_classics.data.evaluation import (
    decode_image,
    predict_multi_scale,
    predict_ten_crop,
    preprocess_for_eval,
    ten_crops,
)
from keras_classics.data.pipeline import Extras, distribute_dataset, make_dataset
from keras_classics.data.sources import (
    DataSource,
    from_arrays,
    from_folder,
    from_tfds,
    load_digits,
    load_source,
)

__all__ = [
    "DEFAULT_RECIPE_BY_FAMILY",
    "RECIPES",
    "DataSource",
    "Extras",
    "Recipe",
    "decode_image",
    "distribute_dataset",
    "from_arrays",
    "from_folder",
    "from_tfds",
    "get_recipe",
    "load_digits",
    "load_source",
    "make_dataset",
    "predict_multi_scale",
    "predict_ten_crop",
    "preprocess_for_eval",
    "ten_crops",
]
