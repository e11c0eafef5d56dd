"""Re-frames tight face crops (FaceForensics++ and DFDC snapshots) as the project's aligned crops.

Those snapshots hold tight detector boxes with no margin, framed unlike the crops our pipeline
cuts at inference (issue 12's weights trained on them and stalled at 0.65). Each crop is padded
by reflection, as the authors' alignment pads outside a frame, and the whole original picture is
taken as the face box: dlib's 68 landmarks inside it give the authors' aligned 256 x 256 crop
(or the margin crop when the landmarks are not usable, as at inference).

Input: a folder of class folders of JPEG crops (e.g. staged ffpp_crops/train or dfdc).
Output: OUT/<class>.npz with `crops` (uint8, N x 256 x 256 x 3), `names` and `aligned`.
--limit keeps at most N files per class, spread evenly over the sorted names (DFDC has 79,300
fakes: a balanced subset is enough, and the uint8 cache must fit in memory).

Usage:
    python training/align_crops.py --crops /work/data/staged/dfdc --out /work/data/studio_faces/dfdc \
        [--limit 8000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mesonet.faces.detect import crop_face

PAD = 0.5  # padding on each side, as a share of the crop's side: room for the aligned square


def realign(path: Path) -> tuple[np.ndarray, bool]:
    """The aligned crop of a tight face crop, and whether the landmarks were usable."""
    with Image.open(path) as image:
        tight = np.asarray(image.convert("RGB"))
    height, width = tight.shape[:2]
    pad_y, pad_x = int(height * PAD), int(width * PAD)
    frame = np.pad(tight, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect")
    box = (pad_y, pad_x + width, pad_y + height, pad_x)  # (top, right, bottom, left)
    face = crop_face(frame, box)
    return face.crop, face.aligned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="at most this many files per class")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    for folder in sorted(p for p in args.crops.iterdir() if p.is_dir()):
        out = args.out / f"{folder.name}.npz"
        if out.exists():
            continue
        paths = sorted(folder.glob("*.jpg"))
        if args.limit and len(paths) > args.limit:
            paths = [paths[i] for i in np.linspace(0, len(paths) - 1, args.limit).round().astype(int)]
        start = time.perf_counter()
        crops = np.zeros((len(paths), 256, 256, 3), np.uint8)
        aligned = np.zeros(len(paths), bool)
        for index, path in enumerate(paths):
            crops[index], aligned[index] = realign(path)
        partial = out.with_suffix(".partial.npz")
        np.savez(partial, crops=crops, names=np.array([p.name for p in paths]), aligned=aligned)
        partial.rename(out)
        print(
            f"{folder.name}: {len(paths)} crops, {aligned.mean():.0%} aligned, {time.perf_counter() - start:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
