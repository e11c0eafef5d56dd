"""What a user waits for in the real app: `streamlit run` driven in headless Chromium.

Measures, on this machine, with the models already loaded (a warm server):

1. Server start: from launching `streamlit run streamlit_app.py` to `/_stcore/health` answering
   "ok" (median of --starts fresh servers). Informational, no target.
2. A face photo (obama.jpg): from the upload finishing (the browser's PUT to
   /_stcore/upload_file answered) to the verdict card's P(fake) metric on screen. Target <= 1.5 s.
3. A 10 s 720p clip, 30 frames (ff_youtube_183.mp4 cut to 10 s with stream copy): same
   measure. Target <= 4 s. The time until the whole page (charts, gallery images) is
   complete is shown too.
4. Switching the weights DF -> F2F on an analysed video: from the click on the sidebar's
   "F2F" radio label to the P(fake) metric showing the new value. Target <= 1 s.

The server keeps extracted faces in a cache keyed by the file's content, so every timed
upload is a new file: the photo gets a different JPEG comment segment (same pixels) and the
clip a different `-metadata comment=` (stream copy, same frames). Each repetition also has a
new file name, so the page's "verdict for <name>" line tells the new result from the old one.
Untimed warm-up uploads (and one DF -> F2F -> DF round trip) come first: they import
TensorFlow and load both classifiers. Tables give the median and the minimum; the machine is
small and may be busy (its load average is printed).

Chromium is Debian's /usr/bin/chromium (Playwright never downloads a browser).

Run (about 2 minutes):
    python benchmarks/bench_app.py [--repeats 5] [--starts 3]
        [--data-dir /work/shared/data]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg
from _common import CHROMIUM, CHROMIUM_ARGS, DATA_DIR
from playwright.sync_api import Page, sync_playwright

from mesonet.media.ffmpeg import probe_video
from mesonet.serving.app_server import start_streamlit, stop_streamlit

DEFAULT_DATA_DIR = DATA_DIR
TARGET_PHOTO_S = 1.5
TARGET_CLIP_S = 4.0
TARGET_SWITCH_S = 1.0
CLIP_SECONDS = 10
FILE_INPUT = 'input[type="file"]'
F2F_LABEL = "F2F: Face2Face reenactment"
DF_LABEL = "DF: Deepfake face swaps"
# The first analysis also imports TensorFlow and loads a model.
WARMUP_TIMEOUT_MS = 120_000
TIMEOUT_MS = 60_000

# The P(fake) metric's text, or null while there is none.
P_FAKE_JS = """() => {
    for (const metric of document.querySelectorAll('[data-testid="stMetric"]')) {
        const label = metric.querySelector('[data-testid="stMetricLabel"]');
        const value = metric.querySelector('[data-testid="stMetricValue"]');
        // Skip the previous run's metric while a rerun replaces it.
        const stale = metric.closest('[data-stale="true"]');
        if (label && value && !stale && label.innerText.trim() === "P(fake)") return value.innerText.trim();
    }
    return null;
}"""
# True once the verdict card of the file `name` and its P(fake) metric are on screen.
VERDICT_SHOWN_JS = (
    """(name) => {
    const cards = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')];
    if (!cards.some(card => card.innerText.includes("verdict for " + name))) return false;
    return ("""
    + P_FAKE_JS
    + """)() !== null;
}"""
)
# True when the P(fake) metric shows something other than `old`.
P_FAKE_CHANGED_JS = "(old) => { const now = (" + P_FAKE_JS + ")(); return now !== null && now !== old; }"
# The whole result: the gallery is there, nothing left from the previous run, every image arrived.
PAGE_COMPLETE_JS = """() => [...document.querySelectorAll("h3")].some(h => h.innerText.startsWith("Aligned faces"))
    && !document.querySelector('[data-stale="true"]')
    && [...document.images].every(img => img.complete && img.naturalWidth > 0)"""


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Files that the server's extraction cache has never seen
# ---------------------------------------------------------------------------------------------


def jpeg_with_comment(source: Path, target: Path, comment: str) -> Path:
    """The same JPEG (same pixels) with a COM segment right after the SOI marker."""
    data = source.read_bytes()
    if data[:2] != b"\xff\xd8":
        raise ValueError(f"{source} is not a JPEG file.")
    text = comment.encode()
    target.write_bytes(data[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + data[2:])
    return target


def clip_copy(source: Path, target: Path, *, seconds: int, comment: str) -> Path:
    """The first `seconds` of `source` (stream copy, no re-encoding) with a `comment` tag."""
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(source),
        "-t",
        str(seconds),
        "-map",
        "0",
        "-c",
        "copy",
        "-metadata",
        f"comment={comment}",
        str(target),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")
    return target


# ---------------------------------------------------------------------------------------------
# Browser measurements
# ---------------------------------------------------------------------------------------------


def upload_and_time(page: Page, path: Path, *, timeout_ms: float = TIMEOUT_MS) -> tuple[float, float, float]:
    """Uploads `path`; returns seconds from the upload finishing to (verdict shown, page complete),
    and the upload's own duration."""
    start = time.perf_counter()
    with page.expect_response(
        lambda r: "/_stcore/upload_file" in r.url and r.request.method == "PUT", timeout=timeout_ms
    ):
        page.set_input_files(FILE_INPUT, path)
    uploaded = time.perf_counter()
    page.wait_for_function(VERDICT_SHOWN_JS, arg=path.name, polling="raf", timeout=timeout_ms)
    verdict = time.perf_counter()
    page.wait_for_function(PAGE_COMPLETE_JS, polling="raf", timeout=timeout_ms)
    complete = time.perf_counter()
    return verdict - uploaded, complete - uploaded, uploaded - start


def switch_weights(page: Page, label: str) -> tuple[float, str]:
    """Clicks a Weights radio label in the sidebar; returns (seconds until P(fake) changed, new P(fake))."""
    old = page.evaluate(P_FAKE_JS)
    target = page.locator('[data-testid="stSidebar"]').get_by_text(label, exact=True)
    target.wait_for()
    start = time.perf_counter()
    target.click()
    page.wait_for_function(P_FAKE_CHANGED_JS, arg=old, polling="raf", timeout=TIMEOUT_MS)
    elapsed = time.perf_counter() - start
    return elapsed, page.evaluate(P_FAKE_JS)


def metric_text(page: Page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text=label)
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = [list(map(str, headers))] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


def seconds(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} s (min {min(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed uploads and switches (default 5)")
    parser.add_argument("--starts", type=int, default=3, help="fresh servers for the start-up time (default 3)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    photo = args.data_dir / "photos" / "obama.jpg"
    video = args.data_dir / "videos" / "real" / "ff_youtube_183.mp4"
    work = Path(tempfile.mkdtemp(prefix="mesonet-bench-app-"))
    print(
        f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
        f"Python {sys.version.split()[0]}; files in {work}"
    )

    # 1. Server start-up.
    starts = []
    for n in range(args.starts):
        process, _, elapsed = start_streamlit(work / f"start{n}.log")
        stop_streamlit(process)
        starts.append(elapsed)
    print(f"\nServer start to healthy: {', '.join(f'{s:.2f}' for s in starts)} s")

    # The files: one per warm-up and per repetition, each new to the server's cache.
    photos = [
        jpeg_with_comment(photo, work / f"obama_{n}.jpg", f"bench {n} {time.time_ns()}")
        for n in range(args.repeats + 1)
    ]
    clips = [
        clip_copy(video, work / f"clip10s_{n}.mp4", seconds=CLIP_SECONDS, comment=f"bench {n} {time.time_ns()}")
        for n in range(args.repeats + 1)
    ]
    info = probe_video(clips[0])
    print(f"Clip: {info.width}x{info.height}, {info.duration_s:.1f} s, {info.frame_count} frames, {info.codec}")

    process, url, _ = start_streamlit(work / "server.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.wait_for_selector(FILE_INPUT, state="attached", timeout=TIMEOUT_MS)

            # Warm-up: TensorFlow, the DF classifier, the face detector, then the F2F classifier.
            cold = upload_and_time(page, clips[0], timeout_ms=WARMUP_TIMEOUT_MS)[0]
            switch_weights(page, F2F_LABEL)
            switch_weights(page, DF_LABEL)
            upload_and_time(page, photos[0])
            print(f"Warm-up: first video verdict (TensorFlow import and model load included) {cold:.2f} s")

            photo_runs, photo_app_s = [], []
            for path in photos[1:]:
                photo_runs.append(upload_and_time(page, path))
                photo_app_s.append(float(metric_text(page, "Time").removesuffix(" s")))
            clip_runs, clip_app_s = [], []
            for path in clips[1:]:
                clip_runs.append(upload_and_time(page, path))
                # The page's own "Time" metric: face extraction and scoring on the server.
                clip_app_s.append(float(metric_text(page, "Time").removesuffix(" s")))
                frames = metric_text(page, "Frames with that face")
                if not frames.endswith("/ 30"):
                    raise RuntimeError(f"{path.name}: expected 30 sampled frames, the page says {frames}.")
            to_f2f, to_df = [], []
            for _ in range(args.repeats):
                elapsed, p_f2f = switch_weights(page, F2F_LABEL)
                to_f2f.append(elapsed)
                elapsed, p_df = switch_weights(page, DF_LABEL)
                to_df.append(elapsed)
            print(f"Weights switch on {clips[-1].name}: P(fake) DF {p_df} <-> F2F {p_f2f}")
            browser.close()
    finally:
        stop_streamlit(process)

    def row(what: str, values: Sequence[float], target: float | None, extra: str) -> list[str]:
        median = statistics.median(values)
        verdict = "-" if target is None else ("PASS" if median <= target else "FAIL")
        return [what, seconds(values), "-" if target is None else f"<= {target:g} s", verdict, extra]

    print(
        f"\nWarm server, {args.repeats} repetitions (server start: {args.starts}); "
        f"load average {os.getloadavg()[0]:.1f} at the end\n"
    )
    print_table(
        ["measure", "median (min)", "target", "result", "also"],
        [
            row("(i) streamlit run -> /_stcore/health ok", starts, None, ""),
            row(
                "(ii) photo: upload done -> verdict",
                [r[0] for r in photo_runs],
                TARGET_PHOTO_S,
                f"app's Time metric {seconds(photo_app_s)}; upload {seconds([r[2] for r in photo_runs])}",
            ),
            row(
                f"(iii) {info.height}p {info.duration_s:.0f} s clip, 30 frames: upload done -> verdict",
                [r[0] for r in clip_runs],
                TARGET_CLIP_S,
                f"app's Time metric {seconds(clip_app_s)}; page complete {seconds([r[1] for r in clip_runs])}; "
                f"upload {seconds([r[2] for r in clip_runs])}",
            ),
            row(
                "(iv) weights DF -> F2F click -> P(fake) changed",
                to_f2f,
                TARGET_SWITCH_S,
                f"F2F -> DF {seconds(to_df)}",
            ),
        ],
    )


if __name__ == "__main__":
    main()
