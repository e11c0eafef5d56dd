"""The two stages of `--engine ray` that run in Ray's worker processes (see `mesonet.serving.ray_engine`).

- `decode_chunks`, a Ray Data task: reads the files of a chunk with the core's own readers.
- `Scorer`, a Ray Data actor: one loaded model, scoring each chunk with the core's own functions.

Chunks (`crop_chunks`, `media_chunks`) are what the driver hands Ray Data, one per task: face crops
in the local engine's batches, and every photo or video on its own. This module imports no Ray.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mesonet.errors import MesonetError
from mesonet.faces.align import INPUT_SIZE


@dataclass(frozen=True)
class ScorerSpec:
    """What each actor loads: `mesonet.models.ensemble.load_scorer(model, weights_file=weights_file)`.

    Attributes:
        model: a catalog name, an ensemble, catalog names joined by commas, or an architecture
            with `weights_file`.
        weights_file: a weight file at the same path on every node, or None.
    """

    model: str
    weights_file: str | None = None


def crop_chunks(paths: Sequence[str | Path], *, batch_size: int, first_position: int = 0) -> list[dict]:
    """Chunks of `batch_size` face-crop files, positions counted from `first_position`."""
    return [
        {
            "kind": "crop",
            "positions": list(range(first_position + start, first_position + min(start + batch_size, len(paths)))),
            "paths": [str(p) for p in paths[start : start + batch_size]],
        }
        for start in range(0, len(paths), batch_size)
    ]


def media_chunks(paths: Sequence[str | Path], *, first_position: int = 0) -> list[dict]:
    """One chunk per photo or video file (each is a task of its own: a video takes seconds)."""
    return [{"kind": "media", "positions": [first_position + i], "paths": [str(p)]} for i, p in enumerate(paths)]


def decode_chunks(batch: dict[str, np.ndarray], *, options: dict) -> dict[str, np.ndarray]:
    """Ray Data task: reads the files of the chunks in `batch` (one row per chunk).

    A "crop" chunk holds images read as 256x256 face crops by `mesonet.data.datasets.face_loader`; a
    "media" chunk holds one photo or video whose faces `extract_faces_from_media` finds.

    Returns:
        One row per file: chunk, position (in the caller's file list), kind, face (uint8
        (256, 256, 3); zeros unless a crop was read), extraction (the pickled Extraction of a
        media file, else empty) and error (the message of the MesonetError that stopped the file).
    """
    from mesonet.analysis.pipeline import extract_faces_from_media
    from mesonet.data.datasets import face_loader

    loader = face_loader(options["faces"], resize=options["resize"], detector=options["detector"])
    rows: dict[str, list] = {"chunk": [], "position": [], "kind": [], "extraction": [], "error": []}
    faces: list[np.ndarray] = []
    for chunk, kind, positions, paths in zip(batch["chunk"], batch["kind"], batch["positions"], batch["paths"]):
        for position, path in zip(positions, paths):
            face, extraction, error = None, b"", ""
            try:
                if kind == "crop":
                    face = loader(Path(path))
                else:
                    found = extract_faces_from_media(path, **options["extract"])
                    extraction = pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)
            except MesonetError as exc:
                error = str(exc)
            except Exception as exc:  # a bug fails this file with a message, as in the local worker pool
                error = f"{Path(path).name}: analysis failed unexpectedly ({exc!r})."
            faces.append(face if face is not None else np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8))
            for name, value in zip(rows, (chunk, position, kind, extraction, error)):
                rows[name].append(value)
    return {
        "chunk": np.asarray(rows["chunk"], dtype=np.int64),
        "position": np.asarray(rows["position"], dtype=np.int64),
        "kind": np.asarray(rows["kind"], dtype=object),
        "face": np.stack(faces) if faces else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8),
        "extraction": np.asarray(rows["extraction"], dtype=object),
        "error": np.asarray(rows["error"], dtype=object),
    }


class Scorer:
    """Ray Data actor: one loaded model that scores what `decode_chunks` read.

    Args:
        spec: the model to load.
        mode: "evaluate" (a video's result is its score) or "detect" (a file's result is its
            pickled Analysis).
        threshold: P(fake) at or above which a face is called fake.
        aggregate: the video verdict's rule for "detect" ("mean" or "vote").
    """

    def __init__(self, spec: ScorerSpec, *, mode: str, threshold: float, aggregate: str = "mean") -> None:
        from mesonet.models.ensemble import load_scorer

        self.scorer = load_scorer(spec.model, weights_file=spec.weights_file)
        self.mode, self.threshold, self.aggregate = mode, threshold, aggregate

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Returns, per file: position, score_real (NaN when not scored), n_frames, error, and
        result (the pickled Analysis in "detect" mode, else empty)."""
        from mesonet.analysis.pipeline import score_extraction
        from mesonet.evaluation.evaluator import score_face_batch, score_video

        n = len(batch["position"])
        score_real = np.full(n, np.nan)
        n_frames = np.zeros(n, dtype=np.int64)
        errors = list(batch["error"])
        results: list[bytes] = [b""] * n
        ok = np.array([not error for error in errors], dtype=bool)
        is_crop = np.array([kind == "crop" for kind in batch["kind"]], dtype=bool)
        # One model call per chunk: the local engine's batches, so the scores are bitwise equal.
        for chunk in dict.fromkeys(batch["chunk"].tolist()):
            rows = np.flatnonzero((batch["chunk"] == chunk) & is_crop & ok)
            if len(rows):
                score_real[rows] = score_face_batch(self.scorer, batch["face"][rows])
                n_frames[rows] = 1
        for row in np.flatnonzero(~is_crop & ok):
            extraction = pickle.loads(batch["extraction"][row])
            try:
                if self.mode == "evaluate":
                    score_real[row], n_frames[row] = score_video(extraction, self.scorer, threshold=self.threshold)
                else:
                    analysis = score_extraction(
                        extraction, self.scorer, threshold=self.threshold, aggregate=self.aggregate
                    )
                    results[row] = pickle.dumps(analysis, protocol=pickle.HIGHEST_PROTOCOL)
            except MesonetError as exc:
                errors[row] = str(exc)
        return {
            "position": batch["position"],
            "score_real": score_real,
            "n_frames": n_frames,
            "error": np.asarray(errors, dtype=object),
            "result": np.asarray(results, dtype=object),
        }
