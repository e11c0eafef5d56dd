"""Setup the benchmarks share: the repository on sys.path, the shared data folder, median timings,
the Chromium that drives the app.

Import it first in a benchmark run as a script (`python benchmarks/bench_x.py`): Python puts
benchmarks/ on sys.path, and this module adds the repository so that `mesonet` imports from this
checkout (benchmarks never import the tests). The weights come from the repository's weights/
folder, as users get them.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mesonet import config  # noqa: E402  (needs the repository on sys.path)

# The shared third-party data (videos, photos, the authors' dataset): $MESONET_DATA_DIR/data.
DATA_DIR = config.data_dir() / "data"
# Debian's Chromium, headless (Playwright never downloads a browser here).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHROMIUM_ARGS += ["--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def timed_runs(call: Callable[[], object], repeats: int, *, warmup: int = 3) -> list[float]:
    """The wall time of each of `repeats` timed runs of `call()`, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(call: Callable[[], object], repeats: int, *, warmup: int = 3) -> float:
    """The median wall time of `call()` over `repeats` timed runs, after `warmup` untimed ones."""
    return statistics.median(timed_runs(call, repeats, warmup=warmup))


class PeakPoller:
    """Calls `sample()` every `interval_s` seconds in a thread while in a `with` block; keeps the peak.

    Subclasses define `sample() -> int` (bytes, say); `peak` is the largest value seen.
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def sample(self) -> int:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, self.sample())


def read_proc(path: Path) -> str:
    """A /proc file's text, or "" when its process or thread has just ended."""
    try:
        return path.read_text()
    except OSError:
        return ""


class ChildPeakRss(PeakPoller):
    """Watches the peak RSS (VmHWM) of this process's children: the ffmpeg processes.

    RUSAGE_CHILDREN cannot be used: Linux carries the parent's peak over into a child that
    was forked and exec'd, so it reports about the parent's RSS, not ffmpeg's. For the same
    reason only processes already named ffmpeg count (between fork and exec a child is a copy
    of this process). A child's VmHWM is its own peak, so polling every `interval_s` misses
    nothing but children that live shorter than that (the ffmpeg probe run).

    Args:
        interval_s: how often to look.
        total: the sum of the ffmpeg children's peaks (ffmpeg processes that run together, like a
            decoder and an encoder), instead of the largest one.
    """

    def __init__(self, interval_s: float = 0.05, *, total: bool = False) -> None:
        super().__init__(interval_s)
        self.total = total

    @property
    def peak_bytes(self) -> int:
        return self.peak

    def sample(self) -> int:
        peaks = [0]
        for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
            for pid in read_proc(children).split():
                lines = read_proc(Path(f"/proc/{pid}/status")).splitlines()
                status = dict(line.split(":", 1) for line in lines if ":" in line)
                if status.get("Name", "").strip().startswith("ffmpeg") and "VmHWM" in status:
                    peaks.append(int(status["VmHWM"].split()[0]) * 1024)
        return sum(peaks) if self.total else max(peaks)
