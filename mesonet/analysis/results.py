"""The results of an analysis and their exports.

`Extraction` (the faces found in a file, independent of any classifier), `FaceScore` and
`Analysis` (scores, per-track and video summaries, with their JSON and CSV forms); the aligned
face crops as files (one PNG per face and frame, named the same everywhere); and CSV cells made
safe to open in a spreadsheet (`csv_safe`).

Faces are numbered from 1 for people (face 1 is the first face track seen), in file names, in the
app's captions, and as "face" in the CSV and JSON; the track ids (`track_id`, JSON "track") stay
0-based beside them.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from mesonet.faces.detect import FaceCrop
from mesonet.media.ffmpeg import VideoInfo
from mesonet.verdict import Aggregate, Summary, Verdict, p_fake_of, verdict_for


def face_number(track_id: int) -> int:
    """The number people see for a face track: 1 for track 0."""
    return track_id + 1


def crop_filename(stem: str, frame_index: int, track_id: int) -> str:
    """The PNG name of one crop, e.g. "clip_frame000042_face1.png" (frame index from 0, face from 1)."""
    return f"{stem}_frame{frame_index:06d}_face{face_number(track_id)}.png"


def iter_crops(extraction: Extraction, stem: str) -> Iterator[tuple[str, np.ndarray]]:
    """(file name, uint8 RGB crop of shape (256, 256, 3)) for every face, in frame order."""
    for frame in extraction.frames:
        for face, track_id in zip(frame.faces, frame.track_ids, strict=True):
            yield crop_filename(stem, frame.frame_index, track_id), face.crop


def _png(crop: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(crop).save(out, format="PNG")
    return out.getvalue()


def crops_zip(extraction: Extraction, stem: str) -> bytes:
    """A ZIP archive (bytes) of every crop as PNG, named by `crop_filename`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, crop in iter_crops(extraction, stem):
            archive.writestr(name, _png(crop))
    return out.getvalue()


def save_crops(extraction: Extraction, folder: str | Path, stem: str) -> list[Path]:
    """Writes every crop as PNG into `folder` (created if needed); returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, crop in iter_crops(extraction, stem):
        (folder / name).write_bytes(_png(crop))
        written.append(folder / name)
    return written


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|...).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A CSV cell that spreadsheets show as text: a string starting with = + - @ tab or CR gets a leading '.

    Numbers are left alone (a negative number is not a formula); only text, such as file names and
    error messages, which users choose, is changed.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_safe_rows(rows: list[dict]) -> list[dict]:
    """`csv_safe` applied to every cell of a list of CSV rows."""
    return [{key: csv_safe(value) for key, value in row.items()} for row in rows]


def csv_safe_frame(frame):
    """`csv_safe` applied to every text cell of a pandas DataFrame (a copy), and to its column names."""
    safe = frame.copy()
    for column in safe.columns:
        # Any column may hold text (object or pandas' string dtype); csv_safe leaves numbers alone.
        if safe[column].dtype.kind not in "biufcmM":
            safe[column] = safe[column].map(csv_safe)
    safe.columns = [csv_safe(column) for column in safe.columns]
    return safe


@dataclass
class ExtractedFrame:
    """One sampled frame and the faces found in it (largest first; empty when none).

    Attributes:
        frame_size: (width, height) of the decoded frame in pixels; boxes refer to it.
        preview_jpeg: the frame shrunk to at most `preview_side` pixels, as JPEG bytes, when
            asked for (for showing the frame later without decoding the video again).
    """

    frame_index: int
    time_s: float
    faces: list[FaceCrop]
    track_ids: list[int]
    frame_size: tuple[int, int]
    preview_jpeg: bytes | None = None

    def preview(self) -> np.ndarray | None:
        """The preview as a uint8 RGB array, or None."""
        if self.preview_jpeg is None:
            return None
        with Image.open(io.BytesIO(self.preview_jpeg)) as image:
            return np.asarray(image.convert("RGB"))


@dataclass
class Extraction:
    """Faces extracted from one file; independent of any classifier."""

    path: str
    kind: Literal["image", "video"]
    info: VideoInfo | None
    frames: list[ExtractedFrame]
    settings: dict
    timings_s: dict[str, float]

    @property
    def n_faces(self) -> int:
        return sum(len(frame.faces) for frame in self.frames)

    def crops(self) -> list[np.ndarray]:
        """All crops in frame order: uint8 RGB arrays of shape (256, 256, 3)."""
        return [face.crop for frame in self.frames for face in frame.faces]


@dataclass
class FaceScore:
    """One face in one frame, scored. `box` is (top, right, bottom, left) in frame pixels."""

    frame_index: int
    time_s: float
    track_id: int
    box: tuple[int, int, int, int]
    score_real: float
    aligned: bool

    @property
    def p_fake(self) -> float:
        return p_fake_of(self.score_real)


@dataclass
class Analysis:
    """The result for one file: per-frame scores, per-track and video summaries.

    Attributes:
        extraction: the faces the scores come from (crops, boxes, landmarks).
        faces: one FaceScore per face found, in frame order.
        tracks: summary per face track id (0 is the first face seen).
        summary: the video-level result: the summary of the face track that decided
            (`mesonet.verdict.video_summary`).
        reliability: plain-words notes on how far to trust the verdict
            (`mesonet.analysis.reliability`); empty when the input is inside the validated range.
    """

    path: str
    model: str
    threshold: float
    aggregate: Aggregate
    extraction: Extraction
    faces: list[FaceScore]
    tracks: dict[int, Summary]
    summary: Summary
    timings_s: dict[str, float] = field(default_factory=dict)
    reliability: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return self.summary.verdict

    def to_dataframe(self):
        """One row per sampled frame and face (frames without a face have one row with empty scores)."""
        import pandas as pd

        return pd.DataFrame(
            self.frame_rows(),
            columns=[
                "frame_index",
                "time_s",
                "face",
                "track_id",
                "top",
                "right",
                "bottom",
                "left",
                "score_real",
                "p_fake",
                "verdict",
                "aligned",
            ],
        )

    def faces_by_frame(self) -> dict[int, list[FaceScore]]:
        """The scored faces of each frame index (frames without a face are absent)."""
        by_frame: dict[int, list[FaceScore]] = {}
        for face in self.faces:
            by_frame.setdefault(face.frame_index, []).append(face)
        return by_frame

    def frame_rows(self) -> list[dict]:
        by_frame = self.faces_by_frame()
        rows = []
        for frame in self.extraction.frames:
            found = by_frame.get(frame.frame_index, [])
            if not found:
                rows.append(
                    {
                        "frame_index": frame.frame_index,
                        "time_s": frame.time_s,
                        "face": None,
                        "track_id": None,
                        "top": None,
                        "right": None,
                        "bottom": None,
                        "left": None,
                        "score_real": None,
                        "p_fake": None,
                        "verdict": "no face",
                        "aligned": None,
                    }
                )
            for face in found:
                top, right, bottom, left = face.box
                rows.append(
                    {
                        "frame_index": face.frame_index,
                        "time_s": face.time_s,
                        "face": face_number(face.track_id),
                        "track_id": face.track_id,
                        "top": top,
                        "right": right,
                        "bottom": bottom,
                        "left": left,
                        "score_real": face.score_real,
                        "p_fake": face.p_fake,
                        "verdict": verdict_for(face.p_fake, self.threshold),
                        "aligned": face.aligned,
                    }
                )
        return rows

    def to_dict(self) -> dict:
        """JSON-ready result: the video summary and one entry per sampled frame.

        Each frame gives the main face (the largest) at its top level, with null scores when the
        frame has no face, and every face under "faces".
        """
        by_frame = self.faces_by_frame()
        frames = []
        for frame in self.extraction.frames:
            found = by_frame.get(frame.frame_index, [])
            faces = [
                {
                    "face": face_number(f.track_id),
                    "track": f.track_id,
                    "box": list(f.box),
                    "score_real": f.score_real,
                    "p_fake": f.p_fake,
                    "verdict": verdict_for(f.p_fake, self.threshold),
                    "aligned": f.aligned,
                }
                for f in found
            ]
            main = faces[0] if faces else {"box": None, "score_real": None, "p_fake": None, "verdict": "no face"}
            frames.append(
                {
                    "index": frame.frame_index,
                    "time_s": frame.time_s,
                    "box": main["box"],
                    "score_real": main["score_real"],
                    "p_fake": main["p_fake"],
                    "verdict": main["verdict"],
                    "faces": faces,
                }
            )
        info = self.extraction.info
        return {
            "path": self.path,
            "model": self.model,
            "kind": self.extraction.kind,
            **self.summary.to_dict(),
            "threshold": self.threshold,
            "aggregate": self.aggregate,
            "reliability": self.reliability,
            "tracks": {str(k): {**v.to_dict(), "decides": v.decides} for k, v in self.tracks.items()},
            "video": None
            if info is None
            else {
                "fps": info.fps,
                "duration_s": info.duration_s,
                "frame_count": info.frame_count,
                "width": info.width,
                "height": info.height,
                "rotation": info.rotation,
            },
            "settings": self.extraction.settings,
            "timings_s": {**self.extraction.timings_s, **self.timings_s},
            "frames": frames,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_csv(self) -> str:
        return csv_safe_frame(self.to_dataframe()).to_csv(index=False)
