"""The papers' augmentations: statistics of crops, flips and PCA noise; fused == naive order."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_classics.data import RECIPES, get_recipe
from keras_classics.data.augment import (
    decode_then_crop,
    pca_lighting,
    random_scale_crop,
    sample_crop_window,
    train_augment,
)
from keras_classics.normalization import IMAGENET_PCA_EIGVAL, IMAGENET_PCA_EIGVEC
from tests.data.conftest import jpeg_bytes, smooth_picture


def _seeds(count: int) -> list[tf.Tensor]:
    return [tf.constant([7, i], tf.int64) for i in range(count)]


def _windows(recipe: str, height: int, width: int, count: int = 400) -> np.ndarray:
    recipe = RECIPES[recipe]
    return np.array(
        [
            [
                int(v)
                for v in sample_crop_window(
                    seed,
                    height,
                    width,
                    crop_size=224,
                    scale_range=recipe.scale_range,
                    central_square=recipe.central_square,
                )
            ]
            for seed in _seeds(count)
        ]
    )


@pytest.mark.parametrize(("recipe", "low", "high"), [("resnet", 256, 480), ("vgg", 256, 512)])
def test_scale_jittering_draws_s_uniformly_and_crops_224_of_it(recipe, low, high):
    height, width = 375, 500  # ImageNet-like; shorter side 375
    top, left, side, scale = _windows(recipe, height, width).T
    assert scale.min() >= low and scale.max() <= high
    assert scale.min() < low + 20 and scale.max() > high - 20  # the whole range is used
    assert abs(scale.mean() - (low + high) / 2) < 0.06 * (high - low)  # uniform
    np.testing.assert_allclose(side, np.round(224 * 375 / scale), atol=1)
    assert (top >= 0).all() and (top + side <= height).all()
    assert (left >= 0).all() and (left + side <= width).all()
    assert left.max() > 0.8 * (width - side).max()  # positions cover the image


def test_alexnet_crops_224_within_the_central_256_square():
    top, left, side, scale = _windows("alexnet", 300, 400).T
    assert (scale == 256).all()
    assert (side == round(224 * 300 / 256)).all()
    assert (left >= 50).all() and (left + side <= 350).all()  # central 300x300 square
    assert len(set(left)) > 20 and len(set(top)) > 20


def test_the_scale_range_follows_the_crop_size():
    assert RECIPES["resnet"].scale_range_for(112) == (128, 240)
    assert RECIPES["resnet"].eval_resize_size(224) == 256
    assert RECIPES["cifar"].eval_resize_size(32) == 32
    with pytest.raises(
        ValueError, match=r"unknown augmentation recipe 'inception'; choose one of \['alexnet'"
    ):
        get_recipe("inception")
    assert get_recipe("vgg", scale_range=(384, 384)).scale_range == (384, 384)  # fixed S


def test_flip_rate_is_one_half(rng):
    recipe = get_recipe("cifar", pad=0)
    image = tf.constant(rng.integers(0, 256, (32, 32, 3)), tf.uint8)
    flipped = [
        bool(
            tf.reduce_all(
                train_augment(image, seed, recipe, 32, encoded=False)
                == tf.image.flip_left_right(tf.cast(image, tf.float32))
            )
        )
        for seed in _seeds(400)
    ]
    assert 0.42 < np.mean(flipped) < 0.58  # 400 draws: 4 standard deviations


def test_pca_noise_has_the_papers_covariance():
    zeros = tf.zeros([1, 1, 3])
    shifts = np.array([pca_lighting(zeros, seed).numpy().reshape(3) / 255 for seed in _seeds(3000)])
    eigvec, eigval = np.array(IMAGENET_PCA_EIGVEC), np.array(IMAGENET_PCA_EIGVAL)
    expected = eigvec @ np.diag((0.1 * eigval) ** 2) @ eigvec.T
    np.testing.assert_allclose(np.cov(shifts.T), expected, atol=0.08 * expected.max())
    assert np.abs(shifts.mean(axis=0)).max() < 0.1 * 0.1 * eigval.max()


def _crop_offset(covered: np.ndarray) -> int:
    """The random crop's offset in the 4-padded image, from where the original pixels land."""
    return 4 - covered.min() if covered.min() > 0 else 35 - covered.max()


def test_cifar_pads_four_pixels_and_crops_at_every_offset(rng):
    image = tf.constant(rng.integers(1, 256, (32, 32, 3)), tf.uint8)  # no zero pixel
    recipe = get_recipe("cifar", flip=False)
    offsets = []
    for seed in _seeds(200):
        out = train_augment(image, seed, recipe, 32, encoded=False).numpy()
        rows, cols = np.nonzero(out[..., 0])  # padding is 0
        offsets.append((_crop_offset(rows), _crop_offset(cols)))
        assert out.shape == (32, 32, 3) and len(rows) >= 28 * 28
    assert {o for o, _ in offsets} == set(range(9)) == {o for _, o in offsets}


def test_fused_decode_and_crop_equals_the_naive_order(rng):
    pixels = smooth_picture(rng, 375, 500)
    encoded = tf.constant(jpeg_bytes(pixels))
    decoded = tf.io.decode_jpeg(encoded, channels=3)
    recipe = RECIPES["resnet"]
    for seed in _seeds(6):
        fused = random_scale_crop(encoded, seed, recipe, 224, encoded=True).numpy()
        naive = decode_then_crop(encoded, seed, recipe, 224, encoded=True).numpy()
        from_pixels = random_scale_crop(decoded, seed, recipe, 224, encoded=False).numpy()
        assert fused.shape == naive.shape == (224, 224, 3)
        # same window; decode_and_crop_jpeg differs only at a few chroma-block edges
        assert np.abs(fused - from_pixels).mean() < 0.05
        assert np.abs(fused - naive).mean() < 3.0  # same window, resampled differently


def test_png_bytes_take_the_full_decode_path(rng):
    pixels = smooth_picture(rng, 60, 90)
    encoded = tf.io.encode_png(pixels)
    seed = tf.constant([1, 2], tf.int64)
    recipe = get_recipe("resnet")
    from_bytes = random_scale_crop(encoded, seed, recipe, 48, encoded=True).numpy()
    from_pixels = random_scale_crop(tf.constant(pixels), seed, recipe, 48, encoded=False).numpy()
    np.testing.assert_array_equal(from_bytes, from_pixels)


def test_same_seed_same_view_different_seed_different_view(rng):
    encoded = tf.constant(jpeg_bytes(smooth_picture(rng, 120, 160)))
    recipe = RECIPES["vgg"]
    first = train_augment(encoded, tf.constant([3, 4], tf.int64), recipe, 64, encoded=True)
    again = train_augment(encoded, tf.constant([3, 4], tf.int64), recipe, 64, encoded=True)
    other = train_augment(encoded, tf.constant([3, 5], tf.int64), recipe, 64, encoded=True)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.numpy() - other.numpy()).mean() > 1.0
