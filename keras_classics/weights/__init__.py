"""Weights from other implementations, converted into keras_classics models."""

from keras_classics.weights.keras_applications import load_keras_applications_resnet

__all__ = ["load_keras_applications_resnet"]
