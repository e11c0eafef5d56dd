"""Camera-like input made at test time from the shared videos: 640 x 480 frames, and a y4m file
for Chromium's fake camera. Nothing derived from the shared videos is written into the repository."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 640, 480
# A laptop camera's picture: the middle 4:3 of the video, scaled to 640 x 480.
WEBCAM_FILTER = f"crop=ih*4/3:ih,scale={WIDTH}:{HEIGHT}"


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def webcam_y4m(source: Path, out: Path, *, seconds: float = 4.0) -> Path:
    """Writes the first `seconds` of `source` as a 640 x 480 y4m (what --use-file-for-fake-video-capture plays)."""
    command = [_ffmpeg(), "-loglevel", "error", "-y", "-i", str(source), "-t", str(seconds)]
    subprocess.run([*command, "-vf", WEBCAM_FILTER, "-pix_fmt", "yuv420p", str(out)], check=True, timeout=120)
    return out


def webcam_frames(source: Path, *, n_frames: int, start_s: float = 0.0) -> Iterator[np.ndarray]:
    """The video's frames as a 640 x 480 camera would give them: uint8 RGB arrays (480, 640, 3)."""
    command = [_ffmpeg(), "-loglevel", "error", "-ss", str(start_s), "-i", str(source), "-vf", WEBCAM_FILTER]
    command += ["-frames:v", str(n_frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    size = WIDTH * HEIGHT * 3
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        try:
            while chunk := process.stdout.read(size):
                if len(chunk) < size:
                    break
                yield np.frombuffer(chunk, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3).copy()
        finally:
            process.kill()
