"""A training run in a child process that a server can watch, stop and survive.

TensorFlow training in a thread of the app's server process could take the whole server
down (a segmentation fault in TensorFlow's native code kills every user's session). Here the
run lives in its own process, started with "spawn" (a fresh interpreter: no TensorFlow, dlib
or Streamlit state inherited from the server). The server keeps only this small object: a
watcher thread turns the child's events into plain attributes that any page can read.

A child that dies (native crash, out of memory, killed) fails its run with a message; the
server goes on. `stop()` asks the child to stop after the current step (the best weights so
far are kept), and ends the process if it has not stopped within `STOP_GRACE_S`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import queue
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mesonet.errors import CancelledError, MesonetError, TrainingError, exit_reason
from mesonet.training.config import TrainConfig

STOP_GRACE_S = 30.0  # a stopped run may finish its validation and checkpoint, but no longer
# The temporary folders the server's runs write into; a server that was killed may leave some behind
# (`mesonet.serving.housekeeping` removes them).
RUN_FOLDER_PREFIX = "mesonet-train-"


class TrainingJob:
    """One training run in a child process.

    Attributes (updated by a watcher thread; read them, never write them):
        config: what is trained.
        steps_done, steps_total: progress of the run (steps_total is 0 until known).
        stage: what the run is doing before its first step (loading TensorFlow, decoding the faces).
        data: the data summary once the files are split (its "n_train" and "n_val" faces), else None.
        history: one dict per finished epoch (see mesonet.training.train.train).
        result_path: the best weights once the run has finished with weights, else None.
        metadata: the weights' metadata (as written beside them), once finished.
        error: a one-line message when the run failed, else None.
        stopped: the run ended because `stop()` was called.
        owner: who started the run; fetched: whether they have taken its weights.
        started, finished: wall-clock times (finished is None while running).
    """

    def __init__(
        self,
        data_dir: str | Path,
        out_dir: str | Path,
        config: TrainConfig,
        *,
        on_close: Callable[[], None] | None = None,
        owner: str = "",
    ) -> None:
        """Prepares a run; `start()` launches it.

        Args:
            data_dir: class-folder dataset to train on.
            out_dir: an empty folder that the job owns: weights and checkpoint go there, and
                `close()` deletes it.
            config: the training configuration.
            on_close: called by `close()`, e.g. to delete an unpacked upload.
            owner: who started the run (a secret token of their session).
        """
        self.owner = owner
        self.fetched = False  # the owner has downloaded or used the weights
        self.config = config
        self.data_dir = Path(data_dir)
        self.out_dir = Path(out_dir)
        self.out_path = self.out_dir / f"{config.arch}_trained.weights.h5"
        self.steps_done = 0
        self.steps_total = 0
        self.stage = "Starting the training process"  # what the run does before its first step
        self.data: dict | None = None  # the data summary ("n_train", "n_val", ...) once the files are split
        self.history: list[dict] = []
        self.result_path: Path | None = None
        self.metadata: dict | None = None
        self.error: str | None = None
        self.stopped = False
        self.started = time.time()
        self.finished: float | None = None
        self._on_close = on_close
        context = multiprocessing.get_context("spawn")
        self._events = context.Queue()
        self._cancel = context.Event()
        self._process = context.Process(
            target=_run_in_child,
            name="mesonet-train",
            daemon=True,
            args=(self.data_dir, self.out_path, config, self._events, self._cancel),
        )
        self._stop_requested_at: float | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> TrainingJob:
        self.started = time.time()
        self._process.start()
        threading.Thread(target=self._watch, name="mesonet-train-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        """Asks the run to stop after its current step; the process is ended if it lingers."""
        if self.running and self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
            self._cancel.set()

    def mark_fetched(self) -> None:
        """The owner has downloaded or used the weights: the slot may go to another user's run."""
        self.fetched = True

    def wait(self, timeout_s: float | None = None) -> bool:
        """Waits until the run has finished; True if it has."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.running:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Stops the run if needed and deletes the job's folders (the weights go with them)."""
        self.stop()
        if self._process.is_alive():
            self._process.kill()
        self.wait(timeout_s=10)
        shutil.rmtree(self.out_dir, ignore_errors=True)
        if self._on_close is not None:
            self._on_close()

    def _watch(self) -> None:
        """Turns the child's events into attributes until it ends, however it ends."""
        outcome_seen = False
        while not outcome_seen:
            try:
                event, *payload = self._events.get(timeout=0.2)
            except queue.Empty:
                if not self._process.is_alive():
                    break
                self._end_lingering_stop()
                continue
            if event == "progress":
                self.steps_done, self.steps_total = payload
            elif event == "stage":
                self.stage = payload[0]
            elif event == "data":
                self.data = payload[0]
                self.stage = f"Decoding {self.data['n_train'] + self.data['n_val']} faces and building the network"
            elif event == "epoch":
                self.history = [*self.history, payload[0]]
            else:
                outcome_seen = True
                self._record_outcome(event, payload)
        self._process.join(timeout=STOP_GRACE_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        if not outcome_seen:
            self.error = _crash_message(self._process.exitcode, stopped=self._stop_requested_at is not None)
            self.stopped = self._stop_requested_at is not None
        self.finished = time.time()

    def _record_outcome(self, event: str, payload: list) -> None:
        if event in ("done", "cancelled") and self.out_path.is_file():
            self.result_path = self.out_path
            self.metadata = payload[0]
            self.stopped = event == "cancelled"
        elif event == "cancelled":
            self.stopped = True
            self.error = "Training was stopped before the first epoch ended, so there are no weights to keep."
        else:
            self.error = payload[0]

    def _end_lingering_stop(self) -> None:
        if self._stop_requested_at is not None and time.monotonic() - self._stop_requested_at > STOP_GRACE_S:
            self._process.kill()


def _crash_message(exitcode: int | None, *, stopped: bool) -> str:
    if stopped:
        return "Training was stopped before it could save weights."
    return (
        f"The training process {exit_reason(exitcode)}, so this run failed. The app is unaffected: try again, "
        "with fewer steps or a smaller batch."
    )


def _run_in_child(data_dir: Path, out: Path, config: TrainConfig, events, cancel) -> None:
    """The child's whole life: train, then report one outcome event."""
    events.put(("stage", "Loading TensorFlow and Keras (a few seconds)"))
    from mesonet.training.train import train

    events.put(("stage", "Reading the dataset's files"))

    def progress(done: int, total: int) -> None:
        events.put(("progress", done, total))

    try:
        result = train(
            data_dir,
            out,
            config=config,
            progress=progress,
            on_epoch=lambda entry: events.put(("epoch", entry)),
            cancel=cancel,
            resume=False,
            on_data=lambda summary: events.put(("data", summary)),
        )
        events.put(("done", result.metadata))
    except CancelledError:
        metadata_path = out.with_name(out.name + ".json")
        events.put(("cancelled", json.loads(metadata_path.read_text()) if metadata_path.is_file() else None))
    except MesonetError as exc:
        events.put(("error", str(exc)))
    except Exception as exc:  # a bug must fail the run with a message, not leave it hanging
        events.put(("error", f"Training failed unexpectedly ({type(exc).__name__}: {exc})."))
    finally:
        events.close()
        events.join_thread()  # the outcome must reach the server before the process exits


class TrainingRuns:
    """The server's training runs: one at a time, each owned by the user who started it. Thread-safe.

    Only the owner may stop a run or take its weights (`owned_by`); everyone else sees that the slot
    is busy and until when. Every run is capped at `max_seconds` of wall-clock time. A finished run's
    weights are kept for their owner until the owner has fetched them (`mark_fetched`) or
    `keep_result_s` has passed; only then may another user's run replace it (deleting its folders).
    """

    def __init__(self, *, max_seconds: float, keep_result_s: float = 3600.0) -> None:
        self.max_seconds = max_seconds
        self.keep_result_s = keep_result_s
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None

    @property
    def current(self) -> TrainingJob | None:
        """The running or last finished run, or None."""
        return self._job

    def busy_until(self) -> float | None:
        """When the slot frees at the latest (a Unix time), or None when a new run may start now."""
        job = self._job
        if job is None:
            return None
        if job.running:
            return job.started + self.max_seconds + STOP_GRACE_S
        if job.fetched:
            return None
        kept_until = (job.finished or 0.0) + self.keep_result_s
        return kept_until if time.time() < kept_until else None

    def start(
        self, open_data: Callable[[], contextlib.AbstractContextManager[Path]], config: TrainConfig, *, owner: str
    ) -> bool:
        """Starts `owner`'s run on the folder `open_data()` gives (kept open while the run needs it).

        Returns:
            False when the slot is taken: a run is going, or another user's weights wait for them.
        """
        with self._lock:
            previous = self._job
            if previous is not None and (previous.running or (previous.owner != owner and self.busy_until())):
                return False
            if previous is not None:
                previous.close()
            cap = min(config.time_limit_s or self.max_seconds, self.max_seconds)
            config = dataclasses.replace(config, time_limit_s=cap)
            inputs = contextlib.ExitStack()
            try:
                folder = inputs.enter_context(open_data())
            except BaseException:
                inputs.close()
                raise
            out_dir = Path(tempfile.mkdtemp(prefix=RUN_FOLDER_PREFIX))
            self._job = TrainingJob(folder, out_dir, config, on_close=inputs.close, owner=owner).start()
            return True

    def owned_by(self, owner: str) -> TrainingJob | None:
        """The current run if `owner` started it, else None: what that user may stop, download or use."""
        job = self._job
        return job if job is not None and secrets.compare_digest(job.owner, owner) else None

    def stop(self, owner: str) -> None:
        """Stops `owner`'s run; another user's run is not theirs to stop."""
        job = self.owned_by(owner)
        if job is None:
            raise TrainingError("Only the user who started this training run can stop it.")
        job.stop()
