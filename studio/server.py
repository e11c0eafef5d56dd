"""Every server-wide resource of the app, in one place: shared by all sessions, made once per server.

- `worker_pool`: the worker processes that decode videos and find faces for every user;
- `extraction_cache`: face extractions keyed by file hash and settings (bounded in bytes);
- `cached_classifier`: loaded models, the least recently used evicted first;
- `annotated_video_limit`, `live_stream_limit`, `live_camera_limit`: how many annotated videos, scored
  cameras and connected cameras there are at once;
- `training_runs`: the server's one training run at a time;
- `classrooms`: the open class rounds (join codes, faces, votes), shared by the teacher and students;
- `swept_temp_folders`: leftovers of earlier servers (unpacked ZIPs, training folders), removed once.

Everything here is `st.cache_resource`: never mutate what it returns except through its own methods.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import streamlit as st

from mesonet import config
from mesonet.serving.classroom import Classrooms
from mesonet.serving.limits import ConcurrencyLimit
from mesonet.training.job import TrainingRuns


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


class SizedLRU:
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
def extraction_cache() -> SizedLRU:
    return SizedLRU(max_bytes=config.extraction_cache_bytes())


@st.cache_resource
def worker_pool():
    """The server's worker processes (one per core, or MESONET_WORKERS), shared by every session."""
    from mesonet.analysis.workers import WorkerPool

    return WorkerPool()


@st.cache_resource(show_spinner="Loading the model...", max_entries=config.MODEL_CACHE_ENTRIES)
def cached_classifier(model: str, weights_file: str | None = None):
    """One classifier per (model, weights file) for the whole server, the least recently used evicted first."""
    from mesonet.models.scoring import load_classifier

    return load_classifier(model, weights_file=weights_file)


@st.cache_resource
def annotated_video_limit() -> ConcurrencyLimit:
    """Annotated videos made at once by the whole server (MESONET_ANNOTATED_VIDEOS): each runs
    ffmpeg twice and draws in the server's process, outside the worker pool."""
    return ConcurrencyLimit(config.annotated_video_limit())


@st.cache_resource
def live_stream_limit() -> ConcurrencyLimit:
    """The scoring places every session's camera shares (MESONET_LIVE_STREAMS of them)."""
    return ConcurrencyLimit(config.live_stream_limit())


@st.cache_resource
def live_camera_limit() -> ConcurrencyLimit:
    """The connections every session's camera shares (MESONET_LIVE_CAMERAS of them)."""
    return ConcurrencyLimit(config.live_camera_limit())


@st.cache_resource
def classrooms() -> Classrooms:
    return Classrooms()


@st.cache_resource
def training_runs() -> TrainingRuns:
    """The server's training runs: one at a time, each owned by the session that started it."""
    return TrainingRuns(max_seconds=config.train_max_seconds(), keep_result_s=config.train_keep_result_s())


@st.cache_resource
def swept_temp_folders() -> list:
    """Unpacked ZIPs and training folders that earlier servers left behind, removed once per server."""
    from mesonet.serving.housekeeping import sweep_temp_folders

    return sweep_temp_folders()
