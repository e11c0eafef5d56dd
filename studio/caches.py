"""Face extractions shared by every session, and extracting with a progress bar.

Face extractions are kept in a server-wide LRU keyed by the file's SHA-256 and the
extraction settings: the same file with the same settings always gives the same faces, so
users can share them, while scored results live in each user's session state. The LRU is
bounded by the bytes its extractions hold (crops, previews), not by their number: "all faces"
on 120 frames weighs far more than one photo (`mesonet.config.extraction_cache_bytes`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import streamlit as st

from mesonet import config
from studio.inputs import ExtractionSettings, MediaInput, temporary_file


def nbytes(value: Any) -> int:
    """Bytes held by the arrays and byte strings inside `value` (dataclasses, lists, dicts, tuples).

    What an Extraction costs in memory: its crops (256x256x3 uint8 each), landmarks and JPEG
    previews; numbers and short strings are negligible beside them and not counted.
    """
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    return 0


class _LRU:
    """A thread-safe least-recently-used map bounded by the total size of its values, shared by all sessions."""

    def __init__(self, max_bytes: int, size_of: Callable[[Any], int] = nbytes) -> None:
        self.max_bytes = max_bytes
        self.size_of = size_of
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._items.values())

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        """Stores `value`, evicting the least recently used entries to make room; a value larger
        than the whole budget is not stored."""
        size = self.size_of(value)
        with self._lock:
            self._items.pop(key, None)
            if size > self.max_bytes:
                return
            total = sum(s for _, s in self._items.values())
            while self._items and total + size > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                total -= evicted
            self._items[key] = (value, size)


@st.cache_resource
def extraction_cache() -> _LRU:
    return _LRU(max_bytes=config.extraction_cache_bytes())


@st.cache_resource
def worker_pool():
    """The server's worker processes (one per core, or MESONET_WORKERS), shared by every session."""
    from mesonet.workers import WorkerPool

    return WorkerPool()


def get_extraction(media: MediaInput, settings: ExtractionSettings):
    """Faces of `media`, from the shared cache or extracted now with a progress bar.

    Returns:
        (extraction, seconds the extraction took when it was made). The same from the cache:
        a quick answer must not tell a user that someone else analysed the same file.
    """
    from mesonet.analysis import extraction_from_face_crop

    cache_key = (media.sha256, media.is_face_crop, settings)
    cached = extraction_cache().get(cache_key)
    if cached is not None:
        return cached
    start = time.perf_counter()
    with st.status(f"Analysing {media.name}...", expanded=True) as status:
        bar = st.progress(0.0, text="Reading the file...")
        try:
            with temporary_file(media.data, media.name) as path:
                if media.is_face_crop:
                    extraction = extraction_from_face_crop(path)
                else:
                    extraction = _extract_in_worker(path, settings, bar)
        except Exception:
            status.update(label=f"Could not analyse {media.name}", state="error", expanded=False)
            raise
        elapsed = time.perf_counter() - start
        status.update(
            label=f"Found {extraction.n_faces} face(s) in {len(extraction.frames)} frame(s)",
            state="complete",
            expanded=False,
        )
    extraction_cache().put(cache_key, (extraction, elapsed))
    return extraction, elapsed


def _extract_in_worker(path, settings: ExtractionSettings, bar):
    """Runs the extraction in the server's worker pool, showing the queue, then the progress.

    Leaving early (the user reran or closed the page: Streamlit raises in this thread at the next
    widget update) cancels the job, so the worker moves on to the next user.
    """
    from mesonet.video import FrameSampling

    job = worker_pool().submit(
        path,
        sampling=FrameSampling(n_frames=settings.n_frames),
        all_faces=settings.all_faces,
        detector=settings.detector,
        preview_side=640,
    )
    shown = None
    try:
        while not job.wait(0.1):
            if job.started:
                done, total = job.frames_done, job.frames_total
                state = (done / total if total else 0.0, f"Finding faces: frame {done} of {total}")
            else:
                ahead = job.position
                queue = "yours is next" if ahead == 0 else f"{ahead} analys{'i' if ahead == 1 else 'e'}s ahead of yours"
                state = (0.0, f"Waiting for a free worker: {queue}")
            if state != shown:
                shown = state
                bar.progress(state[0], text=state[1])
        return job.result()
    finally:
        job.cancel()
