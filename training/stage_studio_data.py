"""Lays out the Studio weights' training and validation data, split by video, with compressed copies.

Sources (third-party; nothing here is copied into the repository):
    MESONET_DF:  the authors' aligned faces, DIR/{df,real}/*.jpg. Consecutive file numbers are
                 consecutive frames of one video, so the split cuts the numbering into runs of
                 similar frames ("sequences") and keeps whole sequences in contiguous blocks on
                 one side: no video is on both sides (at most a cut inside one source video).
    FFPP:        FaceForensics++ crops staged by shared/tools/stage_ffpp_crops.sh,
                 DIR/{train,test}/{real,deepfakes,face2face,faceswap,neuraltextures}/. One frame per
                 video; its own train/test split is kept (test becomes validation).

Output (symbolic links to the sources, plus generated degraded copies):
    OUT/train/<class>/<source>/...        e.g. train/df/mesonet_df/df00012.jpg, train/real/ffpp/roi_3.jpg
    OUT/train/<class>/<source>_h264/...   the same faces through an H.264 round trip (see `degrade_h264`)
    OUT/val/<class>/<source>/...          clean validation faces
    OUT/val_c40/<class>/<source>/...      the validation faces through the same H.264 round trip
    OUT/split.json                        what went where, with the sequence boundaries

Usage:
    python training/stage_studio_data.py --mesonet-df ../shared/data/mesonet_df/train \
        --ffpp /work/data/ffpp --out /work/data/studio
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

VAL_EVERY = 10  # one block in ten goes to validation (10%)
BLOCK_FILES = 250  # files per block; blocks are snapped to sequence boundaries
SEQUENCE_BREAK = 18.0  # mean absolute difference (0-255) of 16x16 thumbnails that starts a new sequence
H264_SIDES = (96, 128, 160, 192)  # the face's size in pixels before encoding (a face in a 480-720p frame)
H264_CRFS = (28, 32, 36, 40)  # x264 constant rate factors; FF++ c40 is QP 40


def sequences(paths: list[Path]) -> list[int]:
    """Sequence id of each file (files in numbering order): a new id where the picture jumps."""
    ids, previous, current = [], None, 0
    for path in paths:
        thumb = np.asarray(Image.open(path).convert("L").resize((16, 16), Image.BILINEAR), dtype=np.float32)
        if previous is not None and float(np.abs(thumb - previous).mean()) > SEQUENCE_BREAK:
            current += 1
        ids.append(current)
        previous = thumb
    return ids


def split_by_sequence(paths: list[Path]) -> tuple[list[Path], list[Path], int]:
    """(train, val, number of sequences): whole sequences, in blocks of at least BLOCK_FILES files."""
    ids = sequences(paths)
    runs: list[list[Path]] = []
    for index, path in enumerate(paths):
        if index == 0 or ids[index] != ids[index - 1]:
            runs.append([])
        runs[-1].append(path)
    train, val = [], []
    block, in_block = 0, 0
    for run in runs:
        if in_block >= BLOCK_FILES:  # a new block starts only where a sequence starts
            block, in_block = block + 1, 0
        (val if block % VAL_EVERY == VAL_EVERY // 2 else train).extend(run)
        in_block += len(run)
    return train, val, len(runs)


def link(paths: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        target = folder / path.name
        if not target.exists():
            target.symlink_to(path.resolve())


def degrade_h264(paths: list[Path], folder: Path, *, seed: int) -> None:
    """Writes each face after a c40-like round trip: downscale, x264 at a high CRF, upscale.

    Faces are grouped by (side, CRF) and each group goes through one ffmpeg process as the
    frames of one intra-coded video, which is thousands of times cheaper than a process per face.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    groups: dict[tuple[int, int], list[Path]] = {}
    for path in paths:
        groups.setdefault((rng.choice(H264_SIDES), rng.choice(H264_CRFS)), []).append(path)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    for (side, crf), members in sorted(groups.items()):
        encode = [
            ffmpeg,
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{side}x{side}",
            "-r",
            "25",
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-preset",
            "medium",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            "-f",
            "h264",
            "-",
        ]
        frames = b"".join(
            np.asarray(Image.open(p).convert("RGB").resize((side, side), Image.BILINEAR)).tobytes() for p in members
        )
        encoded = subprocess.run(encode, input=frames, capture_output=True, check=True).stdout
        decode = [ffmpeg, "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        decoded = subprocess.run(decode, input=encoded, capture_output=True, check=True).stdout
        array = np.frombuffer(decoded, np.uint8).reshape(-1, side, side, 3)
        if len(array) != len(members):
            raise RuntimeError(f"ffmpeg returned {len(array)} frames for {len(members)} faces")
        for path, face in zip(members, array, strict=True):
            original = Image.open(path).size
            Image.fromarray(face).resize(original, Image.BILINEAR).save(folder / (path.stem + ".jpg"), quality=95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesonet-df", type=Path, required=True)
    parser.add_argument("--ffpp", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    if args.out.exists():
        shutil.rmtree(args.out)
    report: dict = {"mesonet_df": {}, "ffpp": {}}
    plan: list[tuple[str, str, str, list[Path]]] = []  # (split, class, source, files)
    for cls in ("df", "real"):
        paths = sorted((args.mesonet_df / cls).glob("*.jpg"))
        train, val, n_sequences = split_by_sequence(paths)
        report["mesonet_df"][cls] = {
            "train": len(train),
            "val": len(val),
            "sequences": n_sequences,
            "val_files": [p.name for p in val],
        }
        plan += [("train", cls, "mesonet_df", train), ("val", cls, "mesonet_df", val)]
    for cls in ("real", "deepfakes", "face2face", "faceswap", "neuraltextures"):
        train = sorted((args.ffpp / "train" / cls).glob("*.jpg"))
        val = sorted((args.ffpp / "test" / cls).glob("*.jpg"))
        report["ffpp"][cls] = {"train": len(train), "val": len(val)}
        plan += [("train", cls, "ffpp", train), ("val", cls, "ffpp", val)]

    for seed, (split, cls, source, files) in enumerate(plan):
        link(files, args.out / split / cls / source)
        if split == "train":
            degrade_h264(files, args.out / "train" / cls / f"{source}_h264", seed=seed)
        else:
            degrade_h264(files, args.out / "val_c40" / cls / source, seed=1000 + seed)
        print(f"{split:5s} {cls:15s} {source:10s} {len(files):6d}", flush=True)
    (args.out / "split.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
