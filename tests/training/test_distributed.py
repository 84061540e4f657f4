"""tf.distribute: MirroredStrategy over 2 logical CPUs equals one device; a 2-worker
MultiWorkerMirroredStrategy cluster on localhost trains, stays in sync, writes only from the
chief, and resumes after a worker is killed (the chief stops with one line naming both)."""

from __future__ import annotations

import json
import re

import pytest

from keras_classics.training import reports
from tests.helpers import run_python
from tests.training.processes import TINY, Training, digest, free_ports, resumed_from, tf_configs


def test_mirrored_step_equals_one_device_step():
    figures = json.loads(run_python("-m", "tests.training.mirrored_equivalence").splitlines()[-1])
    assert figures["replicas"] == 2
    plain = figures["no_bn"]
    # Losses scaled by the global batch: the same loss and the same update (= gradients).
    assert plain["loss_mirrored"] == pytest.approx(plain["loss_one_device"], rel=1e-6)
    assert plain["max_update"] > 1e-3
    assert plain["max_weight_difference"] <= 1e-5 * plain["max_update"]
    assert plain["replica_spread"] == 0.0
    # Clipping bounds the norm of the all-replica gradient (update = lr x clipped gradient), and
    # 2 replicas clip exactly as one device does.
    clipped = figures["clipped"]
    assert clipped["update_norm"] == pytest.approx(0.1 * 1e-2, rel=1e-3)
    assert clipped["max_weight_difference"] <= 1e-3 * clipped["update_norm"]
    bn = figures["bn"]
    # BN normalises each replica's half batch with its own statistics (documented): the step
    # equals one device computing the two halves separately, not the whole batch at once.
    assert bn["loss_mirrored"] == pytest.approx(bn["loss_halves"], rel=1e-6)
    assert bn["max_difference_to_halves"] <= 1e-6
    assert bn["max_difference_to_full_batch"] > 1e-4
    assert bn["loss_one_device_full_batch"] != pytest.approx(bn["loss_mirrored"], rel=1e-5)
    # Moving statistics are averaged over the replicas, so every replica holds the same model.
    assert bn["replica_spread"] == 0.0
    assert bn["moving_mean_error"] <= 1e-6 * max(1.0, bn["moving_mean_scale"])


def start_cluster(command: list[str], environments: list[dict[str, str]]) -> list[Training]:
    return [Training(command, env=environment) for environment in environments]


def test_multi_worker_cluster_trains_in_sync_and_resumes_after_a_kill(tmp_path):
    command = [*TINY, "--strategy", "multi_worker", "--epochs", "2", "--steps-per-epoch", "3",
               "--output-dir", str(tmp_path)]  # fmt: skip
    chief, worker = start_cluster(command, tf_configs(free_ports(2)))
    chief.until(lambda line: "checkpoint" in line and "ckpt-3" in line)  # epoch 1 saved
    worker.kill()  # the chief's next collective fails: one line names both workers
    chief.finish(expect=4)
    failure = [line for line in chief.stderr().splitlines() if line.startswith("error:")]
    assert len(failure) == 1, chief.output()
    assert failure[0].startswith("error: worker worker:0: worker:1 stopped (UnavailableError: ")
    assert "test accuracy" not in "\n".join(chief.lines)
    chief_pids = {chief.pid}

    export = tmp_path / "export"
    command += ["--export-dir", str(export)]  # the chief exports alone at the end
    chief, worker = start_cluster(command, tf_configs(free_ports(2)))
    chief_out, worker_out = chief.finish(), worker.finish()
    chief_pids.add(chief.pid)
    number, epochs_done, _ = resumed_from(chief_out)
    assert number >= 3 and epochs_done >= 1
    assert "  replicas = 2\n" in chief_out and "  per_replica_batch_size = 8\n" in chief_out
    # Both workers trained the same model (they would block each other otherwise).
    assert digest(chief_out) == digest(worker_out)
    # Only the chief prints progress and writes checkpoints, logs and reports.
    assert not re.search(r"^\S+ (epoch |checkpoint |reports in)", worker_out, re.M), worker_out
    assert [row["epoch"] for row in reports.read_history(tmp_path)] == [1, 2]
    checkpoint_dir = tmp_path / "checkpoints"
    assert not [p for p in checkpoint_dir.iterdir() if p.name.startswith(".worker")]
    assert (checkpoint_dir / "ckpt-6.index").is_file()
    events = list((tmp_path / reports.TENSORBOARD_DIR).glob("*/events.out.tfevents.*"))
    writers = {int(path.name.split(".")[-3]) for path in events}  # ...<host>.<pid>.<n>.v2
    assert events and writers <= chief_pids, (writers, chief_pids)
    summary = json.loads((tmp_path / reports.SUMMARY_JSON).read_text())
    assert summary["config"]["derived"]["workers"] == 2
    assert summary["config"]["derived"]["replicas"] == 2
    assert summary["weights_digest"] == digest(chief_out)
    assert [p.name for p in export.iterdir()] == ["1"]
    assert (export / "1" / "saved_model.pb").is_file()
