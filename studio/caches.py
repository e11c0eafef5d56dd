"""Face extractions shared by every session, and extracting with a progress bar.

Face extractions are kept in a small server-wide LRU keyed by the file's SHA-256 and the
extraction settings: the same file with the same settings always gives the same faces, so
users can share them, while scored results live in each user's session state.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import streamlit as st

from mesonet import config
from studio.inputs import ExtractionSettings, MediaInput, temporary_file


class _LRU:
    """A small thread-safe least-recently-used map, shared by all sessions."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


@st.cache_resource
def extraction_cache() -> _LRU:
    return _LRU(max_entries=config.EXTRACTION_CACHE_ENTRIES)


def get_extraction(media: MediaInput, settings: ExtractionSettings):
    """Faces of `media`, from the shared cache or extracted now with a progress bar.

    Returns:
        (extraction, seconds spent now; 0.0 when the faces came from the cache).
    """
    from mesonet.analysis import extract_faces_from_media, extraction_from_face_crop
    from mesonet.video import FrameSampling

    cache_key = (media.sha256, media.is_face_crop, settings)
    cached = extraction_cache().get(cache_key)
    if cached is not None:
        return cached, 0.0
    start = time.perf_counter()
    with st.status(f"Analysing {media.name}...", expanded=True) as status:
        bar = st.progress(0.0, text="Reading the file...")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 0.0, text=f"Finding faces: frame {done} of {total}")

        try:
            with temporary_file(media.data, media.name) as path:
                if media.is_face_crop:
                    extraction = extraction_from_face_crop(path)
                else:
                    extraction = extract_faces_from_media(
                        path,
                        sampling=FrameSampling(n_frames=settings.n_frames),
                        all_faces=settings.all_faces,
                        detector=settings.detector,
                        preview_side=640,
                        progress=progress,
                    )
        except Exception:
            status.update(label=f"Could not analyse {media.name}", state="error", expanded=False)
            raise
        elapsed = time.perf_counter() - start
        status.update(
            label=f"Found {extraction.n_faces} face(s) in {len(extraction.frames)} frame(s)",
            state="complete",
            expanded=False,
        )
    extraction_cache().put(cache_key, extraction)
    return extraction, elapsed
