"""Custom layers of the classic CNNs, written with `keras.ops` so they run on any backend."""

from keras_classics.layers.lrn import LocalResponseNormalization
from keras_classics.layers.shortcuts import ZeroPaddingShortcut

__all__ = ["LocalResponseNormalization", "ZeroPaddingShortcut"]
