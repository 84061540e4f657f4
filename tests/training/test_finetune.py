"""Fine-tuning from the command line's options: `weights` (a preset pointed at a local
torchvision file, a .keras model), `freeze_until`, and the weights' normalisation."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.models.record import model_record
from keras_classics.training.config import RunConfig
from keras_classics.training.finetune import freeze, pretrained_model
from keras_classics.training.options import parse_config
from keras_classics.training.run import MODEL_FILE, train
from keras_classics.training.setup import Setup
from tests.weights.support import publish, random_torchvision, save_published_torchvision

PRESET = "resnet18.tv_in1k"
BOUNDARY = "conv4_block2_out"  # frozen up to here; conv5 and the head train


def layer_weights(model: keras.Model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.weights] for layer in model.layers}


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """The preset served from a local file; its backbone; the model before and after a run of
    two steps with `freeze_until`: shared."""
    tmp_path = tmp_path_factory.mktemp("finetune")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
        origin = random_torchvision("resnet18")
        publish(patch, PRESET, save_published_torchvision(origin, tmp_path / "origin", "resnet18"))
        reference = layer_weights(
            kc.get_model(PRESET, include_top=False, pooling="avg", input_shape=(32, 32, 3))
        )
        config = RunConfig(
            model="resnet18",
            weights=PRESET,
            freeze_until=BOUNDARY,
            dataset="synthetic",
            train_crop_size=32,
            batch_size=16,
            epochs=1,
            steps_per_epoch=2,
            output_dir=str(tmp_path / "run"),
        )
        setup = Setup(config)
        with setup.strategy.scope():
            initial = layer_weights(setup.build_model())
        summary = train(config)
    keras.utils.clear_session()
    trained = keras.saving.load_model(tmp_path / "run" / MODEL_FILE, safe_mode=True)
    return setup, reference, initial, trained, summary


def test_the_backbone_is_the_presets_and_the_head_is_new(finetuned):
    setup, reference, initial, _, _ = finetuned
    backbone = [name for name in reference if reference[name]]
    assert len(backbone) == 40  # 20 conv + 20 BN layers
    for name in backbone:
        for loaded, published in zip(initial[name], reference[name], strict=True):
            np.testing.assert_array_equal(loaded, published, err_msg=name)
    assert initial["predictions"][0].shape == (512, setup.source.num_classes) == (512, 10)


def test_frozen_layers_stay_fixed_while_the_rest_trains(finetuned):
    _, reference, initial, trained, summary = finetuned
    after = layer_weights(trained)
    names = list(after)
    frozen = names[: names.index(BOUNDARY) + 1]
    for name in frozen:  # kernels and BN statistics: frozen BN runs in inference mode
        for old, new in zip(reference.get(name, []), after[name], strict=True):
            np.testing.assert_array_equal(old, new, err_msg=name)
    assert not np.allclose(after["conv5_block2_2_conv"][0], reference["conv5_block2_2_conv"][0])
    assert not np.allclose(after["predictions"][0], initial["predictions"][0])
    later = [w for layer in trained.layers[len(frozen) :] for w in layer.weights]
    trainable = sum(int(np.prod(w.shape)) for w in later if "moving" not in w.path)
    assert summary["trainable_parameters"] == trainable


def test_training_uses_the_weights_normalisation(finetuned):
    setup, _, _, trained, _ = finetuned
    given = dataclasses.replace(setup.config, normalization=None)  # as on the command line
    recipe = Setup(dataclasses.replace(given, weights=None, freeze_until=None))
    assert recipe.config.normalization == "mean"  # the ResNet recipe's, without --weights
    assert Setup(given).config.normalization == "torch"  # the preset's record
    assert model_record(trained).normalization == "torch"  # and the run's record says so
    told = dataclasses.replace(given, normalization="unit")
    assert Setup(told).config.normalization == "unit"  # unless told otherwise


def test_a_keras_model_as_weights(finetuned, tmp_path):
    setup, _, _, trained, _ = finetuned
    path = tmp_path / "phase1.keras"
    trained.save(path)
    same = pretrained_model(setup.entry, str(path), class_names=setup.source.class_names,
                            input_shape=(32, 32, 3), options={})  # fmt: skip
    stored = layer_weights(trained)
    # The file was saved with frozen layers: here everything trains unless told otherwise.
    assert len(same.trainable_weights) == len([w for w in same.weights if "moving" not in w.path])
    assert list(layer_weights(same)) == list(stored)
    for name, kept in layer_weights(same).items():  # same classes: the head is kept
        for a, b in zip(kept, stored[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    other = pretrained_model(setup.entry, str(path), class_names=["a", "b", "c"],
                             input_shape=(32, 32, 3), options={})  # fmt: skip
    assert other.get_layer("predictions").kernel.shape == (512, 3)
    last_conv = "conv5_block2_2_conv"
    np.testing.assert_array_equal(other.get_layer(last_conv).kernel, stored[last_conv][0])
    names = freeze(other)
    assert names[-1] == "avg_pool"
    assert [w.path for w in other.trainable_weights] == ["predictions/kernel", "predictions/bias"]


def test_command_line_mistakes_are_clear_errors(capsys):
    with pytest.raises(SystemExit):
        parse_config(["--freeze"])
    assert "freeze and freeze_until need weights" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config(["--weights", "x.keras", "--freeze", "--freeze-until", "conv1_conv"])
    assert "not both" in capsys.readouterr().err
    model = kc.ResNet18(input_shape=(32, 32, 3), classes=3)
    with pytest.raises(ValueError, match=r"'conv9' is not a layer of resnet18.*'conv1_pad'"):
        freeze(model, "conv9")
