"""mesonet.analysis.workers: decoding and face finding in worker processes that the server shares.

Real workers (spawned interpreters with dlib), real clips from ../shared; a worker is killed
with a real signal in the middle of an analysis.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mesonet.analysis.pipeline import extract_faces_from_media
from mesonet.analysis.workers import WorkerPool, follow
from mesonet.errors import CancelledError, MediaError, WorkerError
from mesonet.media.video import FrameSampling

TIMEOUT_S = 300


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(1) as pool:
        yield pool


@pytest.fixture(scope="module")
def clip(shared_dir: Path) -> Path:
    return shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_worker_extracts_the_same_faces_as_this_process(pool: WorkerPool, clip: Path) -> None:
    sampling = FrameSampling(n_frames=6)
    seen = []
    extraction = pool.extract(clip, sampling=sampling, progress=lambda done, total: seen.append((done, total)))
    here = extract_faces_from_media(clip, sampling=sampling)
    assert [f.frame_index for f in extraction.frames] == [f.frame_index for f in here.frames]
    assert [[face.box for face in f.faces] for f in extraction.frames] == [
        [face.box for face in f.faces] for f in here.frames
    ]
    assert extraction.n_faces == here.n_faces >= 5
    assert seen and seen[-1] == (6, 6)


def test_a_bad_file_is_the_usual_one_line_error(pool: WorkerPool, tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    with pytest.raises(MediaError, match=r"^notes\.mp4: .*not a video"):
        pool.extract(notes)


def test_jobs_wait_in_order_and_know_their_place(pool: WorkerPool, clip: Path) -> None:
    jobs = [pool.submit(clip, sampling=FrameSampling(n_frames=4)) for _ in range(3)]
    _wait_for(lambda: jobs[0].started, "the first job to start")
    assert [job.position for job in jobs[1:]] == [0, 1]
    assert not jobs[1].started and not jobs[2].started
    assert all(job.result(TIMEOUT_S).n_faces >= 3 for job in jobs)


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGKILL])
def test_a_worker_that_dies_fails_only_its_job_and_is_replaced(pool: WorkerPool, clip: Path, signum: int) -> None:
    job = pool.submit(clip, sampling=FrameSampling(n_frames=60))
    waiting = pool.submit(clip, sampling=FrameSampling(n_frames=3))
    _wait_for(lambda: job.frames_done >= 2, "the analysis to be under way")
    (victim,) = pool.pids
    os.kill(victim, signum)
    with pytest.raises(WorkerError) as error:
        job.result(TIMEOUT_S)
    message = str(error.value)
    assert message.startswith(
        f"{clip.name}: the worker process analysing it was ended by {signal.Signals(signum).name}"
    )
    assert "\n" not in message
    # The next job in the queue runs on a new worker.
    assert waiting.result(TIMEOUT_S).n_faces == 3
    assert pool.pids and pool.pids != [victim]


def test_cancel_stops_a_running_job_and_withdraws_a_waiting_one(pool: WorkerPool, clip: Path) -> None:
    running = pool.submit(clip, sampling=FrameSampling(n_frames=60))
    waiting = pool.submit(clip)
    _wait_for(lambda: running.frames_done >= 1, "the analysis to be under way")
    waiting.cancel()
    with pytest.raises(CancelledError, match="before it started"):
        waiting.result(0)
    running.cancel()
    with pytest.raises(CancelledError, match=r"cancelled after \d+ of 60 frames"):
        running.result(TIMEOUT_S)
    assert len(pool.extract(clip, sampling=FrameSampling(n_frames=2)).frames) == 2


def test_follow_forwards_a_cancel_event(pool: WorkerPool, clip: Path) -> None:
    import threading

    cancel = threading.Event()
    job = pool.submit(clip, sampling=FrameSampling(n_frames=60))
    with pytest.raises(CancelledError):
        follow(job, progress=lambda done, total: cancel.set() if done >= 1 else None, cancel=cancel)


def test_closing_the_pool_cancels_the_running_job_and_fails_the_waiting_ones(clip: Path) -> None:
    pool = WorkerPool(1)
    running = pool.submit(clip, sampling=FrameSampling(n_frames=60))
    waiting = pool.submit(clip)
    _wait_for(lambda: running.frames_done >= 1, "the analysis to be under way")
    pool.close()
    with pytest.raises(CancelledError):
        running.result(0)
    with pytest.raises(CancelledError, match="closed"):
        waiting.result(0)
    assert pool.pids == [] or all(not Path(f"/proc/{pid}").exists() for pid in pool.pids)
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(clip)
