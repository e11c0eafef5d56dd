"""Face extractions shared by every session (in `studio.server`), and extracting with a progress bar.

Face extractions are kept in a server-wide LRU keyed by the file's SHA-256 and the
extraction settings: the same file with the same settings always gives the same faces, so
users can share them, while scored results live in each user's session state. The LRU is
bounded by the bytes its extractions hold (crops, previews), not by their number: "all faces"
on 120 frames weighs far more than one photo (`mesonet.config.extraction_cache_bytes`).
"""

from __future__ import annotations

import time

import streamlit as st

from studio.inputs import ExtractionSettings, MediaInput, temporary_file
from studio.server import extraction_cache, worker_pool


def get_extraction(media: MediaInput, settings: ExtractionSettings):
    """Faces of `media`, from the shared cache or extracted now with a progress bar.

    Returns:
        (extraction, seconds the extraction took when it was made). The same from the cache:
        a quick answer must not tell a user that someone else analysed the same file.
    """
    from mesonet.analysis.pipeline import extraction_from_face_crop

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
    from mesonet.media.video import FrameSampling

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
