"""Setup the benchmarks share: the repository on sys.path, the shared data folder, median timings.

Import it first in a benchmark run as a script (`python benchmarks/bench_x.py`): Python puts
benchmarks/ on sys.path, and this module adds the repository so that `mesonet` and `tests`
import from this checkout. The weights come from the repository's weights/ folder, as users
get them.
"""

from __future__ import annotations

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


def median_seconds(call: Callable[[], object], repeats: int, *, warmup: int = 3) -> float:
    """The median wall time of `call()` over `repeats` timed runs, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
