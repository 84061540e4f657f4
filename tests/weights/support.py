"""What the weights tests share: random torchvision models, their logits, re-sized chains."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from keras_classics.weights import PRESETS, import_torchvision
from keras_classics.weights.presets import PublishedFile


def torchvision_models() -> Any:
    """`torchvision.models`, or skip the test (CI installs torch and torchvision)."""
    try:
        return import_torchvision().models
    except ImportError as error:
        pytest.skip(f"torch/torchvision not importable ({error}); CI installs them")


def random_torchvision(name: str, seed: int = 0, **kwargs: Any) -> Any:
    """torchvision's `name` with random weights, its vectors moved off their initial values.

    Kernels keep torchvision's random initialisation. Vectors (biases, BN gamma, beta and
    running statistics) are scaled by U(0.5, 1.5) and, except the running variances, shifted by
    N(0, 0.05): zero biases and BN means become non-zero (so the VGG-BN conv biases that get
    folded are), variances stay positive. In eval mode.
    """
    import torch

    model = getattr(torchvision_models(), name)(**kwargs).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if tensor.ndim != 1 or not tensor.is_floating_point():
                continue
            tensor.mul_(torch.empty_like(tensor).uniform_(0.5, 1.5, generator=generator))
            if not key.endswith("running_var"):
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.05)
    return model


def torch_logits(model: Any, images: np.ndarray) -> np.ndarray:
    """`model`'s outputs on NHWC `images` (given to torch as NCHW)."""
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()


def on_input_size(model: keras.Model, size: int) -> keras.Model:
    """The same layers (a chain: VGG, AlexNet) called on a `size` x `size` input."""
    x = inputs = keras.Input((size, size, model.input_shape[-1]))
    for layer in model.layers[1:]:
        x = layer(x)
    return keras.Model(inputs, x)


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]


def assert_unchanged(model: keras.Model, before: list[np.ndarray]) -> None:
    """Every weight of `model` still equals `before` (nothing half-loaded)."""
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def publish(monkeypatch, name: str, path: Path, url: str | None = None, notop: bool = False):
    """Points PRESETS[name] (or its notop file) at `path` (or `url`), with the hash of `path`'s
    bytes: the override a test uses in place of the publisher's server."""
    preset = PRESETS[name]
    published = preset.notop_file if notop else preset.file
    digest = hashlib.new(published.algorithm, path.read_bytes()).hexdigest()
    if published.algorithm == "sha256":
        digest = digest[:8]  # torchvision publishes a prefix, in the file name
    file = PublishedFile(url or path.as_uri(), digest, published.algorithm)
    changed = {"notop_file" if notop else "file": file}
    monkeypatch.setitem(PRESETS, name, dataclasses.replace(preset, **changed))
    return file


def save_published_torchvision(model: Any, directory: Path, stem: str) -> Path:
    """`model`'s state dict saved by torch.save, named as torch.hub: `<stem>-<sha256[:8]>.pth`."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}-published.pth"
    torch.save(model.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    return path.rename(directory / f"{stem}-{digest}.pth")
