"""Training in a child process: the run reports progress, can be stopped, and a crash fails only the run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mesonet.models.weights import read_metadata
from mesonet.training.config import TrainConfig
from mesonet.training.job import TrainingJob

TINY = dict(batch_size=4, steps_per_epoch=2, val_split=0.25, init="meso4-df")


def _job(tiny_dataset: Path, tmp_path: Path, name: str, **config) -> TrainingJob:
    out_dir = tmp_path / name
    out_dir.mkdir()
    return TrainingJob(tiny_dataset, out_dir, TrainConfig(**{**TINY, **config}))


def _wait_for(predicate, timeout_s: float = 300.0) -> None:  # generous: a loaded 2-core machine
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_run_in_a_child_process_reports_progress_epochs_and_weights(tiny_dataset, tmp_path):
    job = _job(tiny_dataset, tmp_path, "run", epochs=2).start()
    assert job.pid != os.getpid()
    assert job.wait(timeout_s=300)
    assert job.error is None and not job.stopped
    assert (job.steps_done, job.steps_total) == (4, 4)
    assert [entry["epoch"] for entry in job.history] == [1, 2]
    assert job.result_path is not None and job.result_path.is_file()
    assert read_metadata(job.result_path)["arch"] == job.metadata["arch"] == "meso4"
    job.close()
    assert not job.out_dir.exists()


def test_stop_ends_the_run_early_and_keeps_the_best_weights(tiny_dataset, tmp_path):
    job = _job(tiny_dataset, tmp_path, "stop", epochs=500).start()
    _wait_for(lambda: job.steps_done > 0 or not job.running)
    job.stop()
    assert job.wait(timeout_s=120)
    assert job.stopped and job.error is None
    assert job.steps_done < 1000 and job.result_path.is_file()


def test_a_crashing_child_fails_its_run_with_a_message_and_the_next_run_works(tiny_dataset, tmp_path):
    """Regression (issue 14): a segmentation fault in TensorFlow used to kill the whole app server."""
    doomed = _job(tiny_dataset, tmp_path, "crash", epochs=500).start()
    _wait_for(lambda: doomed.steps_done > 0)
    os.kill(doomed.pid, signal.SIGSEGV)
    assert doomed.wait(timeout_s=30)
    assert doomed.result_path is None
    assert "SIGSEGV" in doomed.error and "try again" in doomed.error

    after = _job(tiny_dataset, tmp_path, "after", epochs=1).start()
    assert after.wait(timeout_s=300) and after.error is None and after.result_path.is_file()


def test_a_run_belongs_to_its_owner_and_is_capped_in_time(tiny_dataset, tmp_path):
    """Issue 24, finding 2: another session stopped, downloaded and replaced a user's run."""
    import contextlib

    from mesonet.errors import TrainingError
    from mesonet.training.job import TrainingRuns

    runs = TrainingRuns(max_seconds=5.0, keep_result_s=3600.0)
    data = lambda: contextlib.nullcontext(tiny_dataset)  # noqa: E731
    config = TrainConfig(**{**TINY, "epochs": 10_000})
    assert runs.start(data, config, owner="alice")
    job = runs.current
    assert job.config.time_limit_s == 5.0  # the server's cap, whatever the user asked for
    assert runs.owned_by("bob") is None and runs.owned_by("alice") is job
    with pytest.raises(TrainingError, match="Only the user who started"):
        runs.stop("bob")
    assert not runs.start(data, config, owner="bob")  # the slot is busy
    assert job.wait(timeout_s=120) and job.error is None and not job.stopped  # ended by the cap
    assert job.result_path.is_file()
    assert not runs.start(data, config, owner="bob")  # alice's weights wait for her
    job.mark_fetched()
    assert runs.busy_until() is None
    assert runs.start(data, config, owner="bob") and runs.owned_by("bob") is runs.current
    runs.stop("bob")
    assert runs.current.wait(timeout_s=120)
    assert not job.out_dir.exists()  # alice's fetched run was cleaned up when bob's replaced it
    runs.current.close()
