"""Live scoring speed: scored frames per second at 640 x 480, per detection and following choice.

Feeds 640 x 480 frames made from a shared clip (the middle 4:3 of real/ff_youtube_183.mp4, one
face) through the core's LiveScorer, in one run for each choice:
  - as fast as possible (every frame scored, one after the other): frames/s and per-frame times;
  - as a camera sends them, 30 frames per second, through LiveStream (which scores only the newest
    frame and drops the others): scored frames/s and the share of frames dropped.
Reports medians of 3 runs. The goal (issue 13): at least 10 scored frames per second on 2 cores.
The browser, WebRTC decoding and encoding and the drawing come on top: with --page, the real app
(`streamlit run`) is opened in headless Chromium whose fake camera plays the same clip (640 x 480
at 30 fps), and the Live page's own figure is read once a second for 20 seconds (median).

Run: python benchmarks/bench_live.py [--quick] [--repeats 3] [--seconds 4] [--page]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from _common import CHROMIUM, CHROMIUM_ARGS, DATA_DIR

from mesonet.models.scoring import load_classifier
from mesonet.serving.app_server import start_streamlit, stop_streamlit
from mesonet.serving.live import LiveScorer, LiveStream

CLIP = DATA_DIR / "videos" / "real" / "ff_youtube_183.mp4"
# ffmpeg on the clip as a laptop camera films it: the middle 4:3, scaled to 640 x 480.
WEBCAM = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(CLIP)]
WEBCAM += ["-vf", "crop=ih*4/3:ih,scale=640:480"]
ARRIVAL_FPS = 30.0
CHOICES = {  # name: LiveScorer options
    "detect every frame, full size": {"detect_every": 1, "detect_max_side": 640},
    "detect every frame, 320 px": {"detect_every": 1},
    "detect every 5th, follow landmarks (default)": {},
    "detect every 5th, correlation tracker": {"follow": "correlation"},
    "detect every 10th, follow landmarks": {"detect_every": 10},
}


def webcam_frames(n_frames: int) -> list[np.ndarray]:
    """The clip's first frames as a 640 x 480 camera gives them: uint8 RGB arrays (480, 640, 3)."""
    command = [*WEBCAM, "-frames:v", str(n_frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    data = subprocess.run(command, capture_output=True, check=True, timeout=120).stdout
    return list(np.frombuffer(data, np.uint8).reshape(-1, 480, 640, 3).copy())


def webcam_y4m(out: Path, seconds: float) -> Path:
    """The clip's first `seconds` at 640 x 480, as a y4m file for Chromium's fake camera."""
    subprocess.run([*WEBCAM, "-t", str(seconds), "-pix_fmt", "yuv420p", str(out)], check=True, timeout=120)
    return out


def as_fast_as_possible(scorer: LiveScorer, frames: list[np.ndarray]) -> tuple[float, list[float]]:
    """(frames per second, seconds per frame) scoring every frame in turn."""
    scorer.reset()
    start = time.perf_counter()
    results = [scorer.score_frame(frame, frame_index=i, time_s=i / ARRIVAL_FPS) for i, frame in enumerate(frames)]
    return len(frames) / (time.perf_counter() - start), [r.seconds for r in results]


def at_camera_rate(scorer: LiveScorer, frames: list[np.ndarray]) -> tuple[float, float]:
    """(scored frames per second, share dropped) with frames arriving at ARRIVAL_FPS."""
    scorer.reset()
    stream = LiveStream(scorer)
    start = time.perf_counter()
    for n, frame in enumerate(frames):
        time.sleep(max(0.0, start + n / ARRIVAL_FPS - time.perf_counter()))
        stream.offer(frame)
    elapsed = time.perf_counter() - start
    # The frame being scored when the last one arrives still counts as scored in time.
    deadline = time.perf_counter() + 5
    while stream.stats().scored + stream.stats().dropped < len(frames) and time.perf_counter() < deadline:
        time.sleep(0.005)
    stream.stop()
    stats = stream.stats()
    return stats.scored / elapsed, stats.dropped / stats.received


def page_fps(seconds: float = 20.0) -> tuple[list[float], float]:
    """The Live page's "Scored frames per second", read once a second while the fake camera plays,
    and the cores the server process used meanwhile (CPU seconds per second)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        clip = webcam_y4m(Path(folder) / "camera.y4m", seconds=4.0)
        camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        camera.append(f"--use-file-for-fake-video-capture={clip}")
        process, url, _ = start_streamlit(Path(folder) / "server.log")
        readings: list[float] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *camera])
                page = browser.new_page(viewport={"width": 1400, "height": 1600})
                page.goto(f"{url}/live_camera")
                page.get_by_text("Press START and allow the camera").wait_for(timeout=180_000)
                page.frame_locator('iframe[title*="webrtc_streamer"]').get_by_role("button", name="START").click()
                value = page.locator('[data-testid="stMetric"]', has_text="Scored frames per second")
                value = value.locator('[data-testid="stMetricValue"]').first
                value.wait_for(timeout=120_000)
                time.sleep(5)  # past the first seconds, once the rate is measured over a whole window
                cpu_start, start = _cpu_seconds(process.pid), time.perf_counter()
                for _ in range(round(seconds)):
                    time.sleep(1)
                    readings.append(float(value.inner_text()))
                cores = (_cpu_seconds(process.pid) - cpu_start) / (time.perf_counter() - start)
                browser.close()
        finally:
            stop_streamlit(process)
    return readings, cores


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seconds of frames, the default choice and one other")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of the clip (30 frames each)")
    parser.add_argument("--page", action="store_true", help="also the Live page in Chromium with a fake camera")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    frames = webcam_frames(round(seconds * ARRIVAL_FPS))
    choices = {k: v for k, v in CHOICES.items() if not args.quick or "every frame, 320" in k or "default" in k}
    print(f"{len(frames)} frames of {CLIP.name} at {frames[0].shape[1]}x{frames[0].shape[0]}; ", end="")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians of {args.repeats} runs")
    print(f"{'model':<19}{'choice':<46}{'max fps':>8}{'p50 ms':>8}{'p95 ms':>8}{'30 fps in: scored':>19}{'dropped':>9}")
    for model in ("meso4-df", "mesoinception4-df"):
        classifier = load_classifier(model)
        for name, options in choices.items():
            if model != "meso4-df" and "default" not in name:
                continue
            scorer = LiveScorer(classifier, **options)
            scorer.score_frame(frames[0])  # warm-up: dlib's models and the tf.function trace
            fast = [as_fast_as_possible(scorer, frames) for _ in range(args.repeats)]
            live = [at_camera_rate(scorer, frames) for _ in range(args.repeats)]
            per_frame = [s * 1000 for _, times in fast for s in times]
            print(
                f"{model:<19}{name:<46}{statistics.median(f for f, _ in fast):>8.1f}"
                f"{np.percentile(per_frame, 50):>8.1f}{np.percentile(per_frame, 95):>8.1f}"
                f"{statistics.median(s for s, _ in live):>19.1f}{statistics.median(d for _, d in live):>9.0%}"
            )
    if args.page:
        readings, cores = page_fps()
        print(
            f"Live page in Chromium (fake 640x480 camera at 30 fps, meso4-df, the defaults): median "
            f"{statistics.median(readings):.1f} scored fps over {len(readings)} s (min {min(readings):.1f}, "
            f"max {max(readings):.1f}); the server used {cores:.2f} cores; load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
