"""Cuts training faces out of whole videos with the project's own pipeline, at several compressions.

The faces users upload come from compressed web video, framed by our detector and alignment. So
the Studio weights train on exactly that: each staged video goes through the same sampling,
detection and alignment as at inference, once as it is (FaceForensics++ c23) and once per
whole-video H.264 re-encode at a constant quantizer (FF++ c40 is QP 40; 32 sits in between).

Input: VIDEOS/<class>/<name>.mp4, as laid out by shared/tools/stage_ffpp_videos.sh
(classes real, deepfakes, face2face, faceswap; a fake is named TARGET_SOURCE.mp4).
Output: OUT/<variant>/<class>/<name>.npz with `crops` (uint8, N x 256 x 256 x 3, RGB),
`frame_index` and `aligned`, one file per video and variant. Variants: c23, qp32, qp40.
A file already written is skipped, so the script resumes where it stopped.

Usage:
    python training/extract_video_faces.py --videos /work/data/staged/ffpp_videos \
        --out /work/data/studio_faces [--frames 80] [--qps 32 40]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from mesonet.analysis.pipeline import extract_faces_from_media
from mesonet.media.video import FrameSampling


def reencode(source: Path, target: Path, qp: int) -> None:
    """Re-encodes the whole video with x264 at a constant quantizer (inter frames included)."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), "-an"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-qp", str(qp), "-pix_fmt", "yuv420p", str(target)]
    subprocess.run(command, check=True)


def save_faces(video: Path, out: Path, n_frames: int) -> int:
    """Extracts the largest face of `n_frames` evenly spaced frames; returns how many were found."""
    extraction = extract_faces_from_media(video, sampling=FrameSampling(n_frames=n_frames))
    faces = [(frame.frame_index, face) for frame in extraction.frames for face in frame.faces]
    crops = np.stack([face.crop for _, face in faces]) if faces else np.zeros((0, 256, 256, 3), np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.npz")
    np.savez(
        partial,
        crops=crops,
        frame_index=np.array([index for index, _ in faces], np.int32),
        aligned=np.array([face.aligned for _, face in faces], bool),
    )
    partial.rename(out)  # a crash never leaves a half-written file that looks done
    return len(faces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=80, help="frames sampled per video")
    parser.add_argument("--qps", type=int, nargs="*", default=[32, 40], help="x264 quantizers of the re-encodes")
    args = parser.parse_args()

    videos = sorted(args.videos.glob("*/*.mp4"))
    variants = ["c23"] + [f"qp{qp}" for qp in args.qps]
    with tempfile.TemporaryDirectory(prefix="mesonet-reencode-") as scratch:
        for number, video in enumerate(videos, 1):
            for variant in variants:
                out = args.out / variant / video.parent.name / (video.stem + ".npz")
                if out.exists():
                    continue
                start = time.perf_counter()
                source = video
                if variant != "c23":
                    source = Path(scratch) / f"{video.stem}.{variant}.mp4"
                    reencode(video, source, int(variant.removeprefix("qp")))
                found = save_faces(source, out, args.frames)
                if source != video:
                    source.unlink()
                elapsed = time.perf_counter() - start
                print(
                    f"[{number}/{len(videos)}] {variant} {video.parent.name}/{video.name}: "
                    f"{found} faces, {elapsed:.1f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
