"""The papers' training augmentations as named recipes, with stateless (seeded) random ops.

Each random op takes a `seed`, a [2] int tensor, and uses TensorFlow's stateless random ops, so
a pipeline with a fixed seed augments identically on every run, also with parallel `map`.

Scale augmentation ("resize the shorter side to S, take a random crop") is done in the ORIGINAL
image's coordinates: a square window of side `crop * shorter / S` is cut and resized to
`crop`. That is the same crop as resizing first (up to resampling), but for JPEGs only the window
is decoded (`tf.image.decode_and_crop_jpeg`) and only the window is resized, which is what makes
the pipeline fast. `decode_then_crop` is the naive order, kept as the reference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import tensorflow as tf

from keras_classics.data.decode import check_pixels, decode_image, decode_jpeg_square
from keras_classics.data.evaluation import eval_resize_size
from keras_classics.normalization import (
    IMAGENET_PCA_EIGVAL,
    IMAGENET_PCA_EIGVEC,
    PCA_ALPHA_STD,
)

REFERENCE_CROP = 224  # the crop the papers' scale ranges refer to


@dataclass(frozen=True)
class Recipe:
    """One paper's training augmentation and evaluation crop.

    scale_range: the shorter side S, drawn uniformly from [low, high], for a 224 crop; other
        crop sizes scale it proportionally. None: the CIFAR scheme (pad, random crop).
    central_square: the random crop lies inside the central square (AlexNet: "down-sampled
        ... then cropped out the central 256x256 patch", then random 224 patches of it).
    pad: zero padding on each side before the random crop (CIFAR: 4).
    pca_std: std of AlexNet's PCA lighting noise (0 for none).
    normalization: the name in keras_classics.normalization the recipe uses by default.
    eval_full_image: evaluate on the whole image resized to the crop size (CIFAR) instead of
        resizing to `crop / 0.875` and centre-cropping.
    """

    name: str
    paper: str
    scale_range: tuple[int, int] | None
    central_square: bool = False
    pad: int = 0
    flip: bool = True
    pca_std: float = 0.0
    normalization: str = "mean"
    eval_full_image: bool = False
    default_image_size: int = 224

    def scale_range_for(self, image_size: int) -> tuple[int, int]:
        """[S_low, S_high] for a crop of `image_size` (256-480 for 224 -> 128-240 for 112)."""
        low, high = self.scale_range
        factor = image_size / REFERENCE_CROP
        return round(low * factor), round(high * factor)

    def eval_resize_size(self, image_size: int) -> int:
        """The shorter side evaluation resizes to before its centre crop."""
        return image_size if self.eval_full_image else eval_resize_size(image_size)


SIGNAL_RECIPE = "signal"  # 1D signals (`[length]` float32): shuffle and batch only
RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "alexnet",
            "AlexNet 3.3-4.1: 'down-sampled the images to a fixed resolution of 256x256 ... "
            "extracting random 224x224 patches (and their horizontal reflections) from the "
            "256x256 images'; 'perform PCA on the set of RGB pixel values ... add multiples of "
            "the found principal components ... drawn from a Gaussian with mean zero and "
            "standard deviation 0.1'; 'subtracting the mean activity over the training set'.",
            scale_range=(256, 256),
            central_square=True,
            pca_std=PCA_ALPHA_STD,
        ),
        Recipe(
            "vgg",
            "VGG 3.1: 'randomly cropped from rescaled training images (one crop per image per "
            "SGD iteration) ... random horizontal flipping and random RGB colour shift'; scale "
            "jittering: 'each training image is individually rescaled by randomly sampling S "
            "from a certain range [Smin, Smax] (we used Smin = 256 and Smax = 512)'.",
            scale_range=(256, 512),
            pca_std=PCA_ALPHA_STD,
        ),
        Recipe(
            "resnet",
            "ResNet 3.4: 'The image is resized with its shorter side randomly sampled in [256, "
            "480] for scale augmentation. A 224x224 crop is randomly sampled from an image or "
            "its horizontal flip, with the per-pixel mean subtracted. The standard color "
            "augmentation in [21] is used.'",
            scale_range=(256, 480),
            pca_std=PCA_ALPHA_STD,
        ),
        Recipe(
            "cifar",
            "ResNet 4.2: '4 pixels are padded on each side, and a 32x32 crop is randomly "
            "sampled from the padded image or its horizontal flip. For testing, we only "
            "evaluate the single view of the original 32x32 image.'",
            scale_range=None,
            pad=4,
            normalization="cifar10",
            eval_full_image=True,
            default_image_size=32,
        ),
        Recipe(
            SIGNAL_RECIPE,
            "MNIST-1D (Greydanus 2020): the signals are generated standardised and already "
            "randomly padded, sheared and translated; only shuffled and batched (no decoding, "
            "cropping, flipping or normalisation).",
            scale_range=None,
            flip=False,
            normalization="none",
            eval_full_image=True,
            default_image_size=40,
        ),
    )
}
DEFAULT_RECIPE_BY_FAMILY = {
    "alexnet": "alexnet",
    "vgg": "vgg",
    "resnet": "resnet",
    "resnet_cifar": "cifar",
    "mnist1d": SIGNAL_RECIPE,
}


def get_recipe(recipe: str | Recipe, **changes) -> Recipe:
    """The recipe called `recipe` (with `changes` to its fields); a clear error lists names."""
    if not isinstance(recipe, Recipe):
        if recipe not in RECIPES:
            raise ValueError(
                f"unknown augmentation recipe {recipe!r}; choose one of {list(RECIPES)}"
            )
        recipe = RECIPES[recipe]
    return dataclasses.replace(recipe, **changes) if changes else recipe


def split_seed(seed: tf.Tensor, count: int) -> list[tf.Tensor]:
    """`count` independent [2] seeds from one."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, count))


def _uniform_int(seed: tf.Tensor, low, high_inclusive) -> tf.Tensor:
    return tf.random.stateless_uniform(
        [], seed, minval=low, maxval=high_inclusive + 1, dtype=tf.int32
    )


def sample_crop_window(
    seed: tf.Tensor,
    height: tf.Tensor,
    width: tf.Tensor,
    *,
    crop_size: int,
    scale_range: tuple[int, int],
    central_square: bool = False,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """(top, left, side, S): a random square window of an H x W image, in its own pixels.

    S is drawn uniformly from `scale_range` (integers, inclusive); the window is what a
    `crop_size` crop covers after resizing the shorter side to S: side = crop * shorter / S,
    placed uniformly in the image (or in its central square).
    """
    seed_scale, seed_top, seed_left = split_seed(seed, 3)
    height, width = tf.cast(height, tf.int32), tf.cast(width, tf.int32)
    shorter = tf.minimum(height, width)
    scale = _uniform_int(seed_scale, scale_range[0], scale_range[1])
    side = tf.cast(
        tf.round(crop_size * tf.cast(shorter, tf.float32) / tf.cast(scale, tf.float32)), tf.int32
    )
    side = tf.clip_by_value(side, 1, shorter)
    if central_square:
        region_top, region_left = (height - shorter) // 2, (width - shorter) // 2
        region_height = region_width = shorter
    else:
        region_top = region_left = tf.constant(0)
        region_height, region_width = height, width
    top = region_top + _uniform_int(seed_top, 0, region_height - side)
    left = region_left + _uniform_int(seed_left, 0, region_width - side)
    return top, left, side, scale


def _resize(image: tf.Tensor, size) -> tf.Tensor:
    return tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear", antialias=True)


def image_shape(image: tf.Tensor, encoded: bool) -> tuple[tf.Tensor, tf.Tensor]:
    """(height, width) of a decoded image or of encoded bytes (read from the header)."""
    # Encoded: the header only (refusing a bomb before anything is decoded).
    shape = tf.cast(check_pixels(image), tf.int32) if encoded else tf.shape(image)
    return shape[0], shape[1]


def crop_window(image: tf.Tensor, window, encoded: bool) -> tf.Tensor:
    """The (top, left, side) window as uint8 RGB, upright; JPEG bytes decode only that window."""
    top, left, side = window[:3]

    def slice_decoded(decoded):
        return decoded[top : top + side, left : left + side, :]

    if not encoded:
        return slice_decoded(image)
    return tf.cond(
        tf.io.is_jpeg(image),
        lambda: decode_jpeg_square(image, top, left, side),
        lambda: slice_decoded(decode_image(image)),
    )


def random_scale_crop(
    image: tf.Tensor, seed: tf.Tensor, recipe: Recipe, image_size: int, *, encoded: bool
) -> tf.Tensor:
    """Scale augmentation + random crop, fused with decoding: float32 [size, size, 3], 0-255."""
    height, width = image_shape(image, encoded)
    window = sample_crop_window(
        seed,
        height,
        width,
        crop_size=image_size,
        scale_range=recipe.scale_range_for(image_size),
        central_square=recipe.central_square,
    )
    return _resize(crop_window(image, window, encoded), [image_size, image_size])


def decode_then_crop(
    image: tf.Tensor, seed: tf.Tensor, recipe: Recipe, image_size: int, *, encoded: bool
) -> tf.Tensor:
    """The naive order, for reference and benchmarks: decode all, resize to S, then crop.

    Same random window as `random_scale_crop` for the same seed (mapped to resized pixels).
    """
    decoded = decode_image(image) if encoded else image
    height, width = tf.shape(decoded)[0], tf.shape(decoded)[1]
    top, left, side, _ = sample_crop_window(
        seed,
        height,
        width,
        crop_size=image_size,
        scale_range=recipe.scale_range_for(image_size),
        central_square=recipe.central_square,
    )
    factor = tf.cast(image_size, tf.float32) / tf.cast(side, tf.float32)
    resized_shape = tf.cast(
        tf.round(tf.cast(tf.stack([height, width]), tf.float32) * factor), tf.int32
    )
    resized = _resize(decoded, tf.maximum(resized_shape, image_size))
    top = tf.minimum(
        tf.cast(tf.round(tf.cast(top, tf.float32) * factor), tf.int32),
        tf.shape(resized)[0] - image_size,
    )
    left = tf.minimum(
        tf.cast(tf.round(tf.cast(left, tf.float32) * factor), tf.int32),
        tf.shape(resized)[1] - image_size,
    )
    return resized[top : top + image_size, left : left + image_size, :]


def pad_and_crop(image: tf.Tensor, seed: tf.Tensor, image_size: int, pad: int) -> tf.Tensor:
    """CIFAR: resize to `image_size` if needed, zero-pad `pad` pixels, random crop back."""
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    image = tf.cond(
        tf.reduce_all(shape[:2] == image_size),
        lambda: image,
        lambda: _resize(image, [image_size, image_size]),
    )
    image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return tf.image.stateless_random_crop(image, [image_size, image_size, 3], seed)


def pca_lighting(image: tf.Tensor, seed: tf.Tensor, alpha_std: float = PCA_ALPHA_STD) -> tf.Tensor:
    """AlexNet 4.1 "fancy PCA": adds eigvec @ (alpha * eigval), alpha ~ N(0, alpha_std).

    The eigen-numbers are for RGB on the 0-1 scale (keras_classics.normalization), so the
    shift is multiplied by 255 for 0-255 images. One alpha per image per call; not clipped.
    """
    alpha = tf.random.stateless_normal([3], seed, stddev=alpha_std)
    eigvec = tf.constant(IMAGENET_PCA_EIGVEC, tf.float32)
    shift = tf.linalg.matvec(eigvec, alpha * tf.constant(IMAGENET_PCA_EIGVAL, tf.float32))
    return image + 255.0 * shift


def train_augment(
    image: tf.Tensor,
    seed: tf.Tensor,
    recipe: Recipe,
    image_size: int,
    *,
    encoded: bool,
    fused: bool = True,
) -> tf.Tensor:
    """One training view of `image`: float32 RGB [size, size, 3] on the 0-255 scale.

    `fused=False` crops in the naive order (`decode_then_crop`), for benchmarks.
    """
    seed_crop, seed_flip, seed_light = split_seed(seed, 3)
    if recipe.scale_range is None:
        decoded = decode_image(image) if encoded else image
        image = pad_and_crop(decoded, seed_crop, image_size, recipe.pad)
    else:
        crop = random_scale_crop if fused else decode_then_crop
        image = crop(image, seed_crop, recipe, image_size, encoded=encoded)
    if recipe.flip:
        image = tf.image.stateless_random_flip_left_right(image, seed_flip)
    if recipe.pca_std:
        image = pca_lighting(image, seed_light, recipe.pca_std)
    image.set_shape([image_size, image_size, 3])
    return image
