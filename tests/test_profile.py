"""profile(): parameters and multiply-adds on small models counted by hand."""

from __future__ import annotations

import keras
import pytest

from keras_classics import count_macs, profile


def small_model() -> keras.Model:
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(8, 3, name="conv")(inputs)  # 8x8x8 output
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", groups=2, use_bias=False, name="grouped")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="fc")(x), name="small")


def test_counts_match_hand_arithmetic():
    summary = profile(small_model())
    conv = 3 * 3 * 3 * 8 + 8
    grouped = 3 * 3 * 4 * 8  # groups=2: each output channel sees 4 input channels
    fc = 8 * 5 + 5
    assert summary.trainable_params == conv + 2 * 8 + grouped + fc
    assert summary.non_trainable_params == 2 * 8  # moving mean and variance
    assert summary.macs == 8 * 8 * (3 * 3 * 3 * 8) + 8 * 8 * grouped + 8 * 5
    assert [row.name for row in summary.layers] == ["conv", "bn", "grouped", "fc"]
    assert summary.layers[0].output_shape == (8, 8, 8)


def test_channels_first_counts_the_same():
    keras.config.set_image_data_format("channels_first")
    inputs = keras.Input((3, 10, 10))
    model = keras.Model(inputs, keras.layers.Conv2D(8, 3)(inputs))
    assert count_macs(model) == 8 * 8 * 3 * 3 * 3 * 8


def test_nested_models_are_counted():
    inner = small_model()
    inputs = keras.Input((10, 10, 3))
    outer = keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))
    assert count_macs(outer) == count_macs(inner) + 5 * 2


def test_unknown_input_size_is_a_clear_error():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(ValueError, match="fixed input size"):
        count_macs(model)
    summary = profile(model)  # parameters are still counted
    assert summary.macs is None and summary.trainable_params == 3 * 3 * 3 * 4 + 4
    assert "multiply-adds need a fixed input size" in summary.table()


def test_table_lists_layers_and_totals():
    text = profile(small_model()).table(max_rows=2)
    assert "conv" in text and "... 2 more layers" in text
    assert "small: 573 trainable + 16 non-trainable = 589 parameters" in text
