"""The Studio weights' data: the face caches laid out by extract_video_faces.py and align_crops.py, split by identity.

Sources (nothing of them is committed; FF++ and DFDC terms apply, non-commercial research):
    videos     FACES/{c23,qp32,qp40}/{real,deepfakes,face2face,faceswap}/NAME.npz: our own pipeline's
               crops of 90 FaceForensics++ c23 videos, as they are and re-encoded at QP 32 and 40.
               They are one source; within it, each compression is drawn equally.
    ffpp       FACES/ffpp_crops/{real,deepfakes,face2face,faceswap,neuraltextures}.npz: one tight FF++
               crop per video, re-framed as our aligned crops.
    dfdc       FACES/dfdc/{real,fake}.npz: 6,000 + 6,000 DFDC crops, re-framed the same way.
    mesonet    the authors' aligned Deepfake training faces (MESONET_DF/{df,real}), cut into
               training and validation by sequence of frames (stage_studio_data.split_by_sequence).

Split by identity: a real NNN.mp4 and every fake with NNN in its name are on the same side.
FF++ fakes are TARGET_SOURCE, so identities pair up into groups; VAL_GROUPS go to validation.
They hold 8 real, 8 Deepfakes, 4 Face2Face and 4 FaceSwap videos (the only groups with
Face2Face videos besides the training ones, two of each kind).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mesonet.data.datasets import load_face_crop
from mesonet.training.inputs import FaceArrays

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage_studio_data import split_by_sequence  # noqa: E402

COMPRESSIONS = ("c23", "qp32", "qp40")
VAL_GROUPS = ({"252", "266"}, {"828", "830"}, {"644", "657"}, {"980", "992"})
VAL_IDS = set().union(*VAL_GROUPS)
LABELS = {"real": 1}  # every other class folder is forged


def identities(stem: str) -> set[str]:
    """The FF++ identities in a video's name: {"033"} for 033.mp4, {"033", "097"} for 033_097.mp4."""
    return set(stem.split("_"))


def video_faces(faces_dir: Path, methods: tuple[str, ...], *, validation: bool) -> dict:
    """{(compression, method, video stem): uint8 faces} of the videos on one side of the identity split."""
    found = {}
    for compression in COMPRESSIONS:
        for method in ("real", *methods):
            for path in sorted((faces_dir / compression / method).glob("*.npz")):
                if bool(identities(path.stem) & VAL_IDS) == validation:
                    found[(compression, method, path.stem)] = np.load(path)["crops"]
    return found


def video_arrays(videos: dict) -> list[FaceArrays]:
    """One FaceArrays per (compression, method), all of source "ffpp_video": a compression is a variant of a method.

    So the balanced sampler draws the videos as one source beside the crops and the authors' faces,
    and within it every compression equally.
    """
    grouped: dict[tuple[str, str], list[np.ndarray]] = {}
    for (compression, method, _), crops in videos.items():
        grouped.setdefault((compression, method), []).append(crops)
    return [
        FaceArrays.from_arrays(np.concatenate(parts), LABELS.get(method, 0), "ffpp_video", f"{method}-{compression}")
        for (compression, method), parts in sorted(grouped.items())
    ]


def crop_arrays(faces_dir: Path, collection: str, classes: tuple[str, ...], *, limit: int | None = None) -> list:
    """The re-framed crops of a collection ("ffpp_crops" or "dfdc"), one FaceArrays per class (at most `limit`)."""
    parts = []
    for cls in classes:
        crops = np.load(faces_dir / collection / f"{cls}.npz")["crops"]
        parts.append(FaceArrays.from_arrays(crops[:limit], LABELS.get(cls, 0), collection, cls))
    return parts


def mesonet_arrays(mesonet_df: Path, cache: Path) -> tuple[FaceArrays, FaceArrays]:
    """(train, validation) of the authors' faces, decoded once into `cache` (an .npz)."""
    if not cache.exists():
        parts = {}
        for cls in ("df", "real"):
            train, val, _ = split_by_sequence(sorted((mesonet_df / cls).glob("*.jpg")))
            parts[f"{cls}_train"] = np.stack([load_face_crop(p) for p in train])
            parts[f"{cls}_val"] = np.stack([load_face_crop(p) for p in val])
        partial = cache.with_suffix(".partial.npz")
        np.savez(partial, **parts)
        partial.rename(cache)
    stored = np.load(cache)
    return tuple(
        FaceArrays.concat(
            [
                FaceArrays.from_arrays(stored[f"df_{side}"], 0, "mesonet", "deepfakes"),
                FaceArrays.from_arrays(stored[f"real_{side}"], 1, "mesonet", "real"),
            ]
        )
        for side in ("train", "val")
    )
