"""Face-swap speed (issue 23): one photo swap, and the swap of the astronaut clip frame by frame.

- photo: the authors' real crop real00240 onto the astronaut portrait (512 x 512), landmarks of both
  faces included, after one warm-up swap (dlib's models load once);
- video: the same face onto the 3-s, 25-fps, 640 x 360 astronaut clip (75 frames), decoding and
  H.264 encoding included; per clip and per frame.
Reports the median of `--repeats` runs of each, on this machine (give it the machine to itself).

Run: python benchmarks/bench_faceswap.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mesonet.faces.swap import swap_faces, swap_video
from mesonet.media.ffmpeg import probe_video
from mesonet.media.images import load_image
from mesonet.media.samples import sample_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    source = load_image(sample_path("authors-real00240"))
    photo = load_image(sample_path("astronaut-photo"))
    clip = sample_path("astronaut-clip")
    frames = probe_video(clip).frame_count
    swap_faces(source, photo)  # warm-up: dlib's detector and landmark model load once

    photo_s, video_s = [], []
    with tempfile.TemporaryDirectory() as folder:
        for n in range(args.repeats):
            start = time.perf_counter()
            swap_faces(source, photo)
            photo_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            swap_video(source, clip, Path(folder) / f"swap{n}.mp4")
            video_s.append(time.perf_counter() - start)
    photo_median, video_median = statistics.median(photo_s), statistics.median(video_s)
    print(f"photo swap ({photo.shape[1]}x{photo.shape[0]}): median {photo_median:.3f} s of {args.repeats}")
    print(
        f"video swap ({frames} frames, 640x360): median {video_median:.2f} s of {args.repeats}, "
        f"{1000 * video_median / frames:.0f} ms a frame"
    )


if __name__ == "__main__":
    main()
