"""Worker processes that decode, find and align faces for the whole server (or a CLI run).

Face detection holds one process-wide lock (dlib's detector is not thread-safe), so threads
cannot use more than one core, and a crash in dlib or ffmpeg's native code would take the
whole process down. A `WorkerPool` owns `size` worker processes, started once with "spawn"
(fresh interpreters: no Streamlit or TensorFlow state inherited) and dlib loaded, that run
`extract_faces_from_media`; scoring stays in the caller's process, where the models are
(the networks are tiny: scoring 30 faces takes milliseconds, while moving TensorFlow into each
worker would cost about 560 MB of memory per worker).

- Jobs wait in one first-come, first-served queue; `Job.position` says how many are ahead.
- Progress (frames done, frames total) and cancellation cross the process boundary: the
  worker sends progress over its pipe, and a multiprocessing Event per worker stops it
  between frames.
- A worker that dies (a signal, running out of memory, a native crash) fails only the job it
  was running, with a one-line `WorkerError`; a new worker takes its place.

One slot thread per worker hands it jobs and turns its messages into `Job` attributes.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesonet import config
from mesonet.errors import CancelledError, MesonetError, WorkerError, exit_reason

Progress = Callable[[int, int], None]
# A cancelled job whose worker does not stop within this time (stuck in native code) gets its
# worker killed and replaced.
CANCEL_GRACE_S = 10.0
START_TIMEOUT_S = 120.0
_POLL_S = 0.05


class Job:
    """One extraction submitted to a WorkerPool. Read its attributes; never write them.

    Attributes:
        path: the file being analysed.
        frames_done, frames_total: progress reported by the worker (0, 0 until it starts).
        started: the job has been handed to a worker.
        finished: the job has ended, with a result or an error.
    """

    def __init__(self, pool: WorkerPool, path: Path, options: dict[str, Any]) -> None:
        self.path = path
        self.options = options
        self.frames_done = 0
        self.frames_total = 0
        self.started = False
        self._pool = pool
        self._done = threading.Event()
        self._cancel_requested = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def position(self) -> int:
        """How many jobs wait ahead of this one for a free worker (0 once it runs)."""
        return self._pool.position(self)

    def cancel(self) -> None:
        """Asks the job to stop: at once if it still waits, else between two frames."""
        self._cancel_requested.set()
        self._pool.withdraw(self)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Waits for the job to end; True if it has."""
        return self._done.wait(timeout_s)

    def result(self, timeout_s: float | None = None) -> Any:
        """The Extraction, once finished.

        Raises:
            MesonetError: the file could not be read (MediaError, ...), the job was cancelled
                (CancelledError) or its worker died (WorkerError).
            TimeoutError: not finished within `timeout_s`.
        """
        if not self._done.wait(timeout_s):
            raise TimeoutError(f"{self.path.name}: the analysis has not finished yet.")
        if self._error is not None:
            raise self._error
        return self._result

    def _finish(self, result: Any = None, error: BaseException | None = None) -> None:
        if not self._done.is_set():  # the first outcome stands
            self._result, self._error = result, error
            self._done.set()


class WorkerPool:
    """A fixed number of worker processes serving jobs in submission order.

    Args:
        size: number of worker processes (default: `config.worker_count()`, one per core,
            or MESONET_WORKERS).
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = size or config.worker_count()
        if self.size < 1:
            raise ValueError(f"A worker pool needs at least 1 worker, got {size}.")
        self._context = multiprocessing.get_context("spawn")
        self._pending: collections.deque[Job] = collections.deque()
        self._condition = threading.Condition()
        self._closed = False
        self._slots = [_Worker(self, n) for n in range(self.size)]
        for slot in self._slots:
            slot.thread.start()

    def submit(self, path: str | Path, **options: Any) -> Job:
        """Queues `extract_faces_from_media(path, **options)` (without progress or cancel: see Job)."""
        job = Job(self, Path(path), options)
        with self._condition:
            if self._closed:
                raise RuntimeError("The worker pool is closed.")
            self._pending.append(job)
            self._condition.notify()
        return job

    def extract(
        self,
        path: str | Path,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ):
        """Runs one extraction in a worker and waits for it, like `extract_faces_from_media`.

        Args:
            path: an image or video file.
            progress: called in this thread with (frames done, frames total) as they change.
            cancel: set it from another thread to stop the job.
            **options: keyword arguments of `extract_faces_from_media` (sampling, all_faces,
                detector, preview_side).

        Returns:
            The Extraction.
        """
        job = self.submit(path, **options)
        try:
            return follow(job, progress=progress, cancel=cancel)
        finally:
            job.cancel()  # a no-op once finished; stops the worker when we leave early

    def position(self, job: Job) -> int:
        with self._condition:
            try:
                return self._pending.index(job)
            except ValueError:
                return 0

    def withdraw(self, job: Job) -> None:
        """Removes a job that still waits (it ends as cancelled); a running one is left to its slot."""
        with self._condition:
            if job in self._pending:
                self._pending.remove(job)
                job._finish(error=CancelledError(f"{job.path.name}: analysis cancelled before it started."))

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (they change when a worker is replaced)."""
        return [slot.process.pid for slot in self._slots if slot.process is not None and slot.process.pid]

    @property
    def busy(self) -> int:
        """Workers running a job now."""
        return sum(slot.job is not None for slot in self._slots)

    def close(self) -> None:
        """Fails the waiting jobs, stops the workers (running jobs are cancelled)."""
        with self._condition:
            self._closed = True
            while self._pending:
                job = self._pending.popleft()
                job._finish(error=CancelledError(f"{job.path.name}: the worker pool was closed."))
            self._condition.notify_all()
        for slot in self._slots:
            if (job := slot.job) is not None:
                job._cancel_requested.set()
        for slot in self._slots:
            slot.thread.join(timeout=CANCEL_GRACE_S + 5)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _next_job(self) -> Job | None:
        with self._condition:
            while not self._pending and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            job = self._pending.popleft()
            job.started = True
            return job


def follow(job: Job, *, progress: Progress | None = None, cancel: threading.Event | None = None):
    """Waits for a job in the calling thread, forwarding its progress and a cancel request."""
    seen = None
    while True:
        finished = job.wait(_POLL_S)
        if cancel is not None and cancel.is_set():
            job.cancel()
        if progress is not None and (job.frames_done, job.frames_total) != seen and job.frames_total:
            seen = (job.frames_done, job.frames_total)
            progress(*seen)
        if finished:
            return job.result()


class _Worker:
    """One worker process and the thread that feeds it jobs and replaces it when it dies."""

    def __init__(self, pool: WorkerPool, number: int) -> None:
        self.pool = pool
        self.number = number
        self.process = None
        self.conn = None
        self.cancel = pool._context.Event()
        self.job: Job | None = None
        self.thread = threading.Thread(target=self._serve, name=f"mesonet-worker-{number}", daemon=True)
        self._starts = itertools.count()

    def _serve(self) -> None:
        try:
            self._start_process()
        except Exception:
            self.process = None  # retried for the first job, which then gets the error
        try:
            while (job := self.pool._next_job()) is not None:
                self.job = job
                try:
                    if self.process is None:
                        self._start_process()
                    self._run(job)
                except Exception as exc:  # the slot must outlive anything a job does
                    self.process = None
                    job._finish(error=WorkerError(f"{job.path.name}: no worker process could run it ({exc})."))
                finally:
                    self.job = None
        finally:
            self._stop_process()

    def _start_process(self) -> None:
        self.process = None
        parent, child = self.pool._context.Pipe()
        self.cancel.clear()
        process = self.pool._context.Process(
            target=_worker_main,
            args=(child, self.cancel),
            name=f"mesonet-worker-{self.number}.{next(self._starts)}",
            daemon=True,
        )
        process.start()
        child.close()
        # Wait until dlib is loaded, so that the first job's timing is the job's alone.
        try:
            if not parent.poll(START_TIMEOUT_S):
                raise OSError(f"not ready within {START_TIMEOUT_S:.0f} s")
            parent.recv()
        except (EOFError, OSError) as exc:
            process.kill()
            process.join()
            parent.close()
            raise RuntimeError(f"a worker process failed to start ({exc or exit_reason(process.exitcode)})") from exc
        self.process, self.conn = process, parent

    def _stop_process(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()

    def _run(self, job: Job) -> None:
        if not self.process.is_alive():
            self.conn.close()
            self._start_process()  # it died while idle: that is no fault of this job
        self.cancel.clear()
        # A worker that died while idle fails the send: reported below like any other death.
        with contextlib.suppress(OSError):
            self.conn.send((str(job.path), job.options))
        cancelled_at = None
        while True:
            if job._cancel_requested.is_set() and cancelled_at is None:
                self.cancel.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                self.process.kill()  # stuck in native code: the replacement is clean
            try:
                if not self.conn.poll(_POLL_S):
                    if self.process.is_alive():
                        continue
                    raise EOFError
                event, *payload = self.conn.recv()
            except (EOFError, OSError):
                self._replace_dead_worker(job, cancelled=cancelled_at is not None)
                return
            if event == "progress":
                job.frames_done, job.frames_total = payload
            elif event == "done":
                job._finish(result=payload[0])
                return
            else:
                job._finish(error=payload[0])
                return

    def _replace_dead_worker(self, job: Job, *, cancelled: bool) -> None:
        self.process.join(timeout=5)
        exitcode = self.process.exitcode
        self.conn.close()
        if cancelled:
            error: MesonetError = CancelledError(f"{job.path.name}: analysis cancelled.")
        else:
            error = WorkerError(
                f"{job.path.name}: the worker process analysing it {exit_reason(exitcode)}, so this analysis "
                "failed. Try again; if it fails again, the file may be damaged: re-export or convert it."
            )
        job._finish(error=error)
        self._start_process()


def _worker_main(conn, cancel) -> None:
    """A worker's whole life: load dlib, then run jobs until told to stop or the server is gone."""
    import numpy as np

    from mesonet.analysis.pipeline import extract_faces_from_media
    from mesonet.faces.detect import extract_faces

    extract_faces(np.zeros((64, 64, 3), np.uint8))  # loads dlib's detector and landmark model now
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the server has gone
        if request is None:
            return
        path, options = request

        def progress(done: int, total: int) -> None:
            conn.send(("progress", done, total))

        try:
            extraction = extract_faces_from_media(path, progress=progress, cancel=cancel, **options)
            conn.send(("done", extraction))
        except MesonetError as exc:
            conn.send(("error", exc))
        except Exception as exc:  # a bug must fail the job with a message, not the worker
            conn.send(("error", MesonetError(f"{Path(path).name}: analysis failed unexpectedly ({exc!r}).")))
