"""A multi-worker failure in one line: this worker, the worker that stopped, TensorFlow's cause."""

from __future__ import annotations

import json

import tensorflow as tf

from keras_classics.training.strategies import cluster_failure

# The message of the UnavailableError that worker 0 of a two-worker localhost cluster
# (tests/training/processes.py, TF 2.21) raised when worker 1 was killed (SIGKILL) in epoch 2.
PEER_KILLED = (
    "{{function_node __wrapped__CollectiveReduceV2_Nordering_token_1_device_/job:worker/replica:0"
    "/task:0/device:CPU:0}} Collective ops is aborted by: Error reported from /job:worker/task:1: "
    "The following tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1"
    "\nThe tasks have crashed. Check the task logs for an earlier error, or scheduler events (e.g."
    " preemption, eviction) to debug further.\nThe error could be from a previous operation. "
    "Restart your program to reset. [Op:CollectiveReduceV2] name: "
)


def test_a_killed_peer_is_named_with_the_cause(monkeypatch):
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"index": 0}}))
    message = cluster_failure(tf.errors.UnavailableError(None, None, PEER_KILLED))
    assert "\n" not in message and "function_node" not in message
    assert message.startswith(
        "worker worker:0: worker:1 stopped (UnavailableError: Collective ops is aborted by: "
        "Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped "
        "sending heartbeats): /job:worker/replica:0/task:1); start every worker again"
    ), message


def test_an_error_that_names_no_task_still_says_which_worker_reports_it(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "chief", "index": 0}}))
    message = cluster_failure(
        tf.errors.UnavailableError(None, None, "Graph execution error:\n\nSocket closed")
    )
    assert message.startswith(
        "worker chief:0: another worker stopped (UnavailableError: Socket closed)"
    )
