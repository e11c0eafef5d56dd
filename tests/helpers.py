"""What several test files use: files made at test time, ffmpeg's view of a file, the command line,
and driving the app under AppTest and in Chromium. Fixtures are in the conftest.py files."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parent.parent
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

# Raw sigmoid outputs of the authors' released weights on their four sample crops, P(real),
# batch size 1, nearest resize, /255 (REFERENCE.md).
GOLDEN = {
    "meso4-df": {"df00204": 0.041411787, "df01254": 0.048693784, "real00240": 0.98974758, "real00772": 0.99770159},
    "meso4-f2f": {"df00204": 0.83123744, "df01254": 0.64109969, "real00240": 0.88102329, "real00772": 0.95243871},
    "mesoinception4-df": {"df00204": 0.026218221, "df01254": 0.00095196458, "real00240": 1.0, "real00772": 1.0},
    "mesoinception4-f2f": {"df00204": 0.99874312, "df01254": 0.99999744, "real00240": 1.0, "real00772": 0.99083012},
}


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`mesonet ARGS`, run as users run it, in a child process."""
    return subprocess.run([sys.executable, "-m", "mesonet", *args], capture_output=True, text=True, timeout=timeout)


# ---- files made at test time ------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    """Runs ffmpeg quietly, overwriting its output; fails the test if ffmpeg fails."""
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def pattern_clip(path: Path, *, seconds: int, fps: int, x264: tuple[str, ...] = ()) -> Path:
    """An H.264 clip of ffmpeg's moving 320x240 test pattern (every frame differs), with more x264 options."""
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={fps}", "-t", str(seconds)),
        *("-c:v", "libx264", *x264, "-pix_fmt", "yuv420p", str(path)),
    )
    return path


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of the given size; all-black rows compress to a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# Issue 24's weight file: its first kernel, (3, 3, 3, 8) in Meso4, claims 1.6 GB.
BOMB_SHAPE = (3, 3, 3, 15_000_000)


def shape_bomb(target, dataset: str, shape: tuple[int, ...] = BOMB_SHAPE):
    """Replaces `dataset` of an HDF5 weight file by gzip-compressed zeros of `shape`, in place.

    Whatever the shape, the file grows by a few hundred bytes (no chunk is ever written: reading
    gives the fill value), while a reader that loads the whole dataset allocates all of it.

    Args:
        target: the file's path, or the file open for writing (an h5py.File).

    Returns:
        `target`.
    """
    import h5py

    if not isinstance(target, h5py.File):
        with h5py.File(target, "r+") as file:
            shape_bomb(file, dataset, shape)
        return target
    del target[dataset]
    target.create_dataset(dataset, shape=shape, dtype="float32", chunks=True, compression="gzip")
    return target


def rewrite_keras(
    source: Path,
    out: Path,
    *,
    config: Callable[[dict], None] | None = None,
    weights: Callable[..., None] | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A copy of the `.keras` archive `source` at `out`: `config(config_dict)` edits its config.json,
    `weights(h5py_file)` its model.weights.h5 (opened for writing), and `extra` adds members."""
    import h5py

    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if config is not None:
        model_config = json.loads(members["config.json"])
        config(model_config)
        members["config.json"] = json.dumps(model_config).encode()
    if weights is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "r+") as file:
            weights(file)
        members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in {**members, **(extra or {})}.items():
            archive.writestr(name, data)
    return out


# Camera-like input made from the shared videos: 640 x 480 frames, and a y4m file for Chromium's
# fake camera. Nothing derived from the shared videos is written into the repository.
WEBCAM_WIDTH, WEBCAM_HEIGHT = 640, 480
# A laptop camera's picture: the middle 4:3 of the video, scaled to 640 x 480.
WEBCAM_FILTER = f"crop=ih*4/3:ih,scale={WEBCAM_WIDTH}:{WEBCAM_HEIGHT}"


def webcam_y4m(source: Path, out: Path, *, seconds: float = 4.0) -> Path:
    """Writes the first `seconds` of `source` as a 640 x 480 y4m (what --use-file-for-fake-video-capture plays)."""
    command = [FFMPEG, "-loglevel", "error", "-y", "-i", str(source), "-t", str(seconds)]
    subprocess.run([*command, "-vf", WEBCAM_FILTER, "-pix_fmt", "yuv420p", str(out)], check=True, timeout=120)
    return out


def webcam_frames(source: Path, *, n_frames: int, start_s: float = 0.0) -> Iterator[np.ndarray]:
    """The video's frames as a 640 x 480 camera would give them: uint8 RGB arrays (480, 640, 3)."""
    command = [FFMPEG, "-loglevel", "error", "-ss", str(start_s), "-i", str(source), "-vf", WEBCAM_FILTER]
    command += ["-frames:v", str(n_frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    size = WEBCAM_WIDTH * WEBCAM_HEIGHT * 3
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        try:
            while chunk := process.stdout.read(size):
                if len(chunk) < size:
                    break
                yield np.frombuffer(chunk, dtype=np.uint8).reshape(WEBCAM_HEIGHT, WEBCAM_WIDTH, 3).copy()
        finally:
            process.kill()


# ---- a video file seen from the outside ---------------------------------------------------------


def probe(path: Path) -> dict:
    """What ffmpeg itself says of a file: video codec, pixel format, fps, duration, audio codec, and
    the number of video frames it decodes, and the video stream's start time."""
    header = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    video = re.search(r"Stream #0:\d+.*?: Video: (\w+) .*?, (\w+)\(.*?, (\d+)x(\d+).*?, ([\d.]+) fps(.*)", header)
    audio = re.search(r"Stream #0:\d+.*?: Audio: (\w+)", header)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", header)
    decoded = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"], capture_output=True, text=True
    ).stderr
    start = re.search(r"start ([\d.]+)", video.group(6))
    hours, minutes, seconds = duration.groups()
    return {
        "codec": video.group(1),
        "pix_fmt": video.group(2),
        "size": (int(video.group(3)), int(video.group(4))),
        "fps": float(video.group(5)),
        "duration_s": int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        "audio": audio.group(1) if audio else None,
        "frames": int(re.findall(r"frame=\s*(\d+)", decoded)[-1]),
        "video_start_s": float(start.group(1)) if start else 0.0,
    }


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order."""
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        if size < 8:
            break
        offset += size
    return boxes


# ---- the app under AppTest ----------------------------------------------------------------------

APP = str(REPO / "streamlit_app.py")
APP_TIMEOUT = 120  # the first run imports TensorFlow and dlib


class RecordingStorage(MemoryMediaFileStorage):
    """Keeps every media storage AppTest makes, so tests can read the app's downloads (the
    `record_downloads` fixture puts it in place)."""

    instances: list[MemoryMediaFileStorage] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingStorage.instances.append(self)


def download_content(at: AppTest, file_name: str) -> bytes:
    """The bytes behind the download button that saves `file_name` (needs `record_downloads`)."""
    for storage in reversed(RecordingStorage.instances):
        for button in at.get("download_button"):
            media_name = button.proto.url.rsplit("/", 1)[-1]
            try:
                stored = storage.get_file(media_name)
            except Exception:
                continue
            if stored.filename == file_name:
                return stored.content
    raise AssertionError(f"no download button saves {file_name}")


def open_app(page: str | None = None, *, query: dict[str, str] | None = None) -> AppTest:
    """The app after its first run, on `page` ("pages/compare.py", ...) or the Analyse page; `query` is
    the address's query string on that page (as a reload of a page with one sends it)."""
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.run()
    if page:
        at.switch_page(page)
        at.query_params.update(query or {})
        at.run()
    assert not at.exception
    return at


def upload(at: AppTest, key: str, path: Path, mime: str) -> AppTest:
    at.file_uploader(key=key).set_value((path.name, path.read_bytes(), mime))
    return at.run()


def plotly_arrays(spec: dict) -> list[np.ndarray]:
    """y values of every trace; Plotly 7 stores arrays base64-encoded."""
    out = []
    for trace in spec["data"]:
        y = trace["y"]
        if isinstance(y, dict):
            y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
        y = np.asarray([np.nan if v is None else v for v in y], dtype=float)
        out.append(y[~np.isnan(y)])  # frames without that face are gaps
    return out


def captions_of(at: AppTest) -> list[str]:
    return [c for image in at.get("image") for c in image.captions]


# ---- the real app (`streamlit run`) in Chromium -------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = REPO / "artifacts" / "screenshots"  # git-ignored, for a human to look at
VIEWPORT = {"width": 1400, "height": 3200}  # tall enough for a whole analysed video
# The first analysis of a server also imports TensorFlow and loads the model.
FIRST_ANALYSIS_MS = 90_000
ANALYSIS_MS = 60_000
UI_MS = 15_000
FILE_INPUT = 'input[type="file"]'
# The verdict card's markdown ("REAL" above "verdict for <name>") and its P(fake) metric.
VERDICT_CARD = '[data-testid="stMarkdownContainer"]:has-text("verdict for {name}")'
# The app root says whether a script run is going on; a click during the first run can be
# overwritten when that run's widget values arrive.
IDLE_APP = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Height of the page's content: Streamlit scrolls inside its main container, not the document.
CONTENT_HEIGHT_JS = """() => Math.max(document.body.scrollHeight,
    ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
        .map(e => e.scrollHeight))"""
# Every <img> (frame view, crops, gallery) has arrived and decoded.
IMAGES_LOADED_JS = "() => [...document.images].every(img => img.complete && img.naturalWidth > 0)"


@dataclass
class Server:
    """A `streamlit run streamlit_app.py` child process (the `server` fixture's)."""

    url: str
    process: subprocess.Popen
    log: Path

    def output(self, lines: int = 60) -> str:
        """What the server printed last: from a crash's "Fatal Python error" on, if any
        (faulthandler's stacks of every thread), else the last `lines` lines."""
        text = self.log.read_text(errors="replace").splitlines()
        fatal = [n for n, line in enumerate(text) if line.startswith("Fatal Python error")]
        return "\n".join(text[fatal[-1] :] if fatal else text[-lines:])

    def check_alive(self) -> None:
        """Fails the test with the server's last output if the server process has died."""
        if self.process.poll() is not None:
            pytest.fail(
                f"The streamlit server died (exit code {self.process.returncode}). Its last output:\n{self.output()}",
                pytrace=False,
            )


def open_page(browser, url: str, **context_options):
    """A page of a fresh browser context (a new Streamlit session) on the Analyse page at `url`,
    once the page's first script run has ended; close it with `page.context.close()`."""
    context = browser.new_context(**({"viewport": VIEWPORT} | context_options))
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(FILE_INPUT, state="attached", timeout=30_000)
    wait_until_idle(page)
    return page


def p_fake_value(page):
    """The verdict card's P(fake) metric value (works for sync and async pages alike)."""
    label = page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(r"^\s*P\(fake\)\s*$"))
    return page.locator('[data-testid="stMetric"]', has=label).locator('[data-testid="stMetricValue"]')


def wait_for_verdict(page, name: str, *, timeout: float = ANALYSIS_MS) -> tuple[str, str]:
    """Waits for the verdict card of the file `name`; returns (verdict word, P(fake) text)."""
    card = page.locator(VERDICT_CARD.format(name=name))
    card.wait_for(timeout=timeout)
    value = p_fake_value(page)
    value.wait_for(timeout=timeout)
    return card.inner_text().splitlines()[0].strip(), value.inner_text().strip()


def wait_until_idle(page, *, timeout: float = 30_000) -> None:
    page.locator(IDLE_APP).wait_for(state="attached", timeout=timeout)


def full_screenshot(page, path: Path) -> None:
    """The whole page: grows the viewport to the content's height first (Streamlit's main
    container scrolls, so Playwright's full_page alone would cut it at the viewport)."""
    page.wait_for_function(IMAGES_LOADED_JS, timeout=UI_MS)
    height = page.evaluate(CONTENT_HEIGHT_JS)
    size = page.viewport_size
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
    page.screenshot(path=str(path), full_page=True)


def zip_bytes(entries: dict[str, bytes], **options) -> bytes:
    """A ZIP archive (bytes) holding each name with its data; `options` go to zipfile.ZipFile."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", **options) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _process_tree(pid: int) -> dict[int, list[str]]:
    """{pid: the fields of /proc/pid/stat after the command name} of a process and its descendants."""
    stats: dict[int, list[str]] = {}
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        stats[int(stat.parent.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = {}, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        if current in stats:
            tree[current] = stats[current]
    return tree


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc (0 once it has gone)."""
    page = os.sysconf("SC_PAGE_SIZE")
    return sum(int(fields[21]) * page for fields in _process_tree(pid).values())


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants (ended children included)."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum(sum(int(v) for v in fields[11:15]) / tick for fields in _process_tree(pid).values())


class PeakTreeRss:
    """Samples a process tree's resident memory every `interval_s` in a thread, for a `with` block;
    `peak` is the largest sum seen, `before` the sum at the start."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        import threading

        self.pid, self.interval_s = pid, interval_s
        self.before = self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(self.interval_s):
            self.peak = max(self.peak, process_tree_rss(self.pid))

    def __enter__(self) -> PeakTreeRss:
        self.before = self.peak = process_tree_rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._done.set()
        self._thread.join()
