"""Exporting results: the aligned face crops of an analysis (one PNG per face and frame, named the
same everywhere), and CSV cells made safe to open in a spreadsheet (`csv_safe`).

Faces are numbered from 1 for people (face 1 is the first face track seen), in file names as in
the app's captions; the track ids inside results (`track_id`, JSON "track") stay 0-based.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mesonet.analysis import Extraction


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
