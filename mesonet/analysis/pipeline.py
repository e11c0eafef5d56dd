"""From a photo or a video to aligned faces, per-frame scores and a verdict.

The work has two stages so that the app can cache the expensive one:

1. `extract_faces_from_media`: decode the sampled frames, find and align faces. Slow (face
   detection), independent of the classifier.
2. `score_extraction`: score every crop with a classifier and aggregate. Fast, so switching
   weights on a video already analysed costs a few milliseconds per frame.

`analyze_media` runs both. Images are treated as one-frame videos (index 0, time 0 s).

Aggregation: per face track and per video, the mean P(fake) (as in the paper), the median,
and the authors' vote (share of frames whose P(fake) reaches the threshold). The verdict
uses the mean by default, or the vote on request. With several faces, the video is "fake" as
soon as one face track is: one forged person makes a forged video.
"""

from __future__ import annotations

import dataclasses
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from mesonet.analysis.reliability import reliability_notes
from mesonet.analysis.results import Analysis, ExtractedFrame, Extraction, FaceScore
from mesonet.errors import CancelledError
from mesonet.faces.detect import DEFAULT_DETECTOR, DETECTORS, FaceCrop, extract_faces, match_tracks
from mesonet.media.ffmpeg import probe_video
from mesonet.media.images import is_video, load_image, resized
from mesonet.media.video import FrameSampling, iter_frames, sample_frame_indices
from mesonet.models.scoring import Classifier, preprocess_faces
from mesonet.verdict import (
    DEFAULT_THRESHOLD,
    Aggregate,
    summarize,
    video_summary,
)

Progress = Callable[[int, int], None]


def extract_faces_from_media(
    path: str | Path,
    *,
    sampling: FrameSampling | None = None,
    all_faces: bool = False,
    detector: str = DEFAULT_DETECTOR,
    preview_side: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Extraction:
    """Decodes the sampled frames of a photo or video and extracts aligned faces.

    Args:
        path: an image or video file.
        sampling: which frames of a video to look at (default: 30 evenly spaced).
        all_faces: follow every face (each with its own track id); else only the largest.
        detector: one of DETECTORS (see mesonet.faces.detect).
        preview_side: keep a JPEG preview of each sampled frame, at most this many pixels
            on its longer side (None: no previews).
        progress: called with (frames done, frames total) after each frame.
        cancel: set it from another thread to stop between frames (raises CancelledError).

    Raises:
        MediaError: the file cannot be read.
        CancelledError: `cancel` was set.
    """
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, got {detector!r}.")
    sampling = sampling or FrameSampling()
    settings = {"sampling": dataclasses.asdict(sampling), "all_faces": all_faces, "detector": detector}
    timings = {"decode": 0.0, "detect_align": 0.0}
    path = Path(path)
    if is_video(path):
        info = probe_video(path)
        indices = sample_frame_indices(info, sampling)
        frames_iter = iter_frames(path, indices, info=info, exact=sampling.exact)
        kind = "video"
    else:
        start = time.perf_counter()
        image = load_image(path)
        timings["decode"] += time.perf_counter() - start
        info, indices, frames_iter, kind = None, [0], iter([(0, 0.0, image)]), "image"

    frames: list[ExtractedFrame] = []
    tracks: list[tuple[int, tuple[int, int, int, int]]] = []  # (track id, last box)
    previous_box = None
    total = len(indices)
    if progress:
        progress(0, total)
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise CancelledError(f"{path.name}: analysis cancelled after {len(frames)} of {total} frames.")
            start = time.perf_counter()
            item = next(frames_iter, None)
            timings["decode"] += time.perf_counter() - start
            if item is None:
                break
            frame_index, time_s, frame = item
            start = time.perf_counter()
            faces = extract_faces(frame, all_faces=all_faces, model=detector, near=previous_box)
            timings["detect_align"] += time.perf_counter() - start
            if all_faces:
                track_ids, tracks = match_tracks(tracks, [face.box for face in faces])
            else:
                track_ids = [0] * len(faces)  # the largest face of each frame is the one subject
            if faces:
                previous_box = faces[0].box
            height, width = frame.shape[:2]
            preview = _preview_jpeg(frame, preview_side) if preview_side else None
            frames.append(ExtractedFrame(frame_index, time_s, faces, track_ids, (width, height), preview))
            if progress:
                progress(len(frames), total)
    finally:
        if hasattr(frames_iter, "close"):
            frames_iter.close()  # stops ffmpeg when we stop early
    return Extraction(str(path), kind, info, frames, settings, timings)


def extraction_from_face_crop(path: str | Path, *, resize: str = "nearest") -> Extraction:
    """Takes an image that is already an aligned face crop (like the authors' dataset) as one face.

    The whole image is the face: no detection, and the crop is the image resized to 256x256
    the way the networks were trained (nearest-neighbour by default), so scores equal
    `Classifier.score_real` on the file.
    """
    start = time.perf_counter()
    image = load_image(path)
    crop = (preprocess_faces([image], resize=resize)[0] * 255.0).round().astype(np.uint8)
    height, width = image.shape[:2]
    face = FaceCrop(crop, (0, width, height, 0), None, 0.0, (width / 2, height / 2), float(max(width, height)), False)
    frame = ExtractedFrame(0, 0.0, [face], [0], (width, height), _preview_jpeg(image, 640))
    return Extraction(
        str(path),
        "image",
        None,
        [frame],
        {"face_crop": True, "resize": resize},
        {"decode": time.perf_counter() - start, "detect_align": 0.0},
    )


def _preview_jpeg(frame: np.ndarray, max_side: int) -> bytes:
    image = Image.fromarray(resized(frame, min(1.0, max_side / max(frame.shape[:2]))))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def score_extraction(
    extraction: Extraction,
    classifier: Classifier,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    aggregate: Aggregate = "mean",
) -> Analysis:
    """Scores every extracted face in batches and aggregates per track and per video."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}.")
    start = time.perf_counter()
    scores = classifier.score_real(extraction.crops())
    elapsed = time.perf_counter() - start
    faces: list[FaceScore] = []
    flat = iter(scores)
    for frame in extraction.frames:
        for face, track_id in zip(frame.faces, frame.track_ids):
            faces.append(
                FaceScore(
                    frame.frame_index,
                    frame.time_s,
                    track_id,
                    tuple(int(v) for v in face.box),
                    float(next(flat)),
                    face.aligned,
                )
            )
    n_frames = len(extraction.frames)
    tracks = {
        track_id: summarize(
            [f.p_fake for f in faces if f.track_id == track_id],
            frames_sampled=n_frames,
            threshold=threshold,
            aggregate=aggregate,
            track_id=track_id,
        )
        for track_id in sorted({f.track_id for f in faces})
    }
    summary = video_summary(tracks, n_frames, threshold)
    return Analysis(
        extraction.path,
        classifier.name,
        threshold,
        aggregate,
        extraction,
        faces,
        tracks,
        summary,
        {"score": elapsed},
        reliability_notes(extraction, faces, summary, classifier.name),
    )


def analyze_media(
    path: str | Path,
    classifier: Classifier,
    *,
    sampling: FrameSampling | None = None,
    all_faces: bool = False,
    detector: str = DEFAULT_DETECTOR,
    threshold: float = DEFAULT_THRESHOLD,
    aggregate: Aggregate = "mean",
    preview_side: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Analysis:
    """Extracts faces from a photo or video and scores them. See the two stages above."""
    extraction = extract_faces_from_media(
        path,
        sampling=sampling,
        all_faces=all_faces,
        detector=detector,
        preview_side=preview_side,
        progress=progress,
        cancel=cancel,
    )
    return score_extraction(extraction, classifier, threshold=threshold, aggregate=aggregate)
