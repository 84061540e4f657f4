"""Reproductions of published experiments, run offline: MNIST-1D and the ResNet paper's
degradation and shortcut experiments in one dimension (see docs/reproduction.md)."""

from keras_classics.reproduce.experiments import EXPERIMENTS, Claim, Config, Experiment, Schedule
from keras_classics.reproduce.suite import run_experiment

__all__ = ["EXPERIMENTS", "Claim", "Config", "Experiment", "Schedule", "run_experiment"]
