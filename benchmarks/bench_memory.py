"""Memory and time of hostile files: the worst uploads under the limits, and refusing the rest.

Measures, in one run (files generated once into --cache-dir):

1. Peak RSS of `mesonet detect FILE --json -` in a fresh process (imports, model load, face
   detection, scoring) on the worst files that pass the pixel budget (`MESONET_MAX_MEGAPIXELS`,
   24 by default) and the 500 MB upload limit: a 16-bit greyscale PNG, a 16-bit RGB PNG, a
   float32 TIFF and an H.264 video, each 3:2 and just under the budget; plus a small photo for
   the baseline. Target: at most 1.5 GB (1.5e9 bytes) each.
2. The same files through `load_image` alone, in a fresh process, with the banded conversion
   (`mesonet.media.images.to_rgb`) against the whole-image int64/float64 conversion it replaced:
   what the change saves.
3. Time to refuse an over-budget image (a 60 MP 1-bit PNG of 7 KB): `load_image` in-process
   (the server's case) and the whole `mesonet detect` command. Target: under 2 s.

Peak RSS is the child's ru_maxrss (os.wait4). Every figure is the median of --repeats runs;
the load average is printed with them (the machine is shared).

Run (about 4 minutes on the 2-core machine):
    python benchmarks/bench_memory.py [--repeats 3] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the repository on sys.path)
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def side_under_budget() -> tuple[int, int]:
    """Even width and height, 3:2, with width x height just under the pixel budget."""
    budget = _common.config.max_pixels()
    height = int((budget / 1.5) ** 0.5) // 2 * 2
    return min(budget // height, int(height * 1.5)) // 2 * 2, height


TARGET_BYTES = 1.5e9
TARGET_REFUSAL_S = 2.0

# The conversion `to_rgb` used before the pixel budget: whole-image int64 / float64 copies.
_OLD_TO_RGB = """
import numpy as np
from PIL import Image
import mesonet.media.images as media
_new = media.to_rgb
def _old(image):
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.int64)
        return Image.fromarray(np.clip(values >> 8, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255.0 if np.nanmax(values) <= 1.0 else 1.0
        return Image.fromarray(np.nan_to_num(np.clip(values * scale, 0, 255)).astype(np.uint8)).convert("RGB")
    return _new(image)
media.to_rgb = _old
"""


def make_files(folder: Path) -> dict[str, Path]:
    """The worst files under the limits, generated once."""
    import imageio_ffmpeg

    width, height = side_under_budget()
    folder = folder / f"{width}x{height}"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "png16_grey": folder / "grey16.png",
        "png16_rgb": folder / "rgb48.png",
        "tiff_float": folder / "float.tif",
        "video": folder / "huge_frames.mp4",
    }
    ramp = np.linspace(0, 1, width, dtype=np.float32)
    if not files["png16_grey"].exists():
        Image.fromarray((np.tile(ramp, (height, 1)) * 65535).astype(np.uint16)).save(files["png16_grey"])
    if not files["tiff_float"].exists():
        Image.fromarray(np.tile(ramp, (height, 1))).save(files["tiff_float"], compression="tiff_deflate")
    ffmpeg = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    if not files["png16_rgb"].exists():
        subprocess.run(
            ffmpeg
            + ["-f", "lavfi", "-i", f"gradients=size={width}x{height}", "-frames:v", "1"]
            + ["-pix_fmt", "rgb48be", str(files["png16_rgb"])],
            check=True,
        )
    if not files["video"].exists():
        subprocess.run(
            ffmpeg
            + ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=5", "-t", "2"]
            + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(files["video"])],
            check=True,
        )
    files["photo_small"] = _common.DATA_DIR / "photos" / "obama.jpg"
    files["bomb_60mp"] = folder / "bomb60.png"
    if not files["bomb_60mp"].exists():  # 60 megapixels of black, 1 bit each: a few kilobytes
        Image.new("1", (10_000, 6_000)).save(files["bomb_60mp"], optimize=True)
        assert files["bomb_60mp"].stat().st_size < 100_000, "the 60-megapixel PNG should stay small"
    return files


def run_measured(args: list[str]) -> tuple[int, float, int, str]:
    """(peak RSS in bytes, wall seconds, exit code, last stderr line) of a fresh Python process."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = [line for line in err.read().decode(errors="replace").splitlines() if line.strip()]
    return usage.ru_maxrss * 1024, seconds, process.returncode, lines[-1] if lines else ""


def median_run(args: list[str], repeats: int) -> tuple[float, float, int, str]:
    runs = [run_measured(args) for _ in range(repeats)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        runs[-1][2],
        runs[-1][3],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "mesonet-bench-memory")
    args = parser.parse_args()
    files = make_files(args.cache_dir)
    print(f"load average at start: {os.getloadavg()}")
    print("\n1. Peak RSS of `mesonet detect FILE --json -` (median of", args.repeats, "runs)")
    print(f"{'file':<12} {'size on disk':>12} {'peak RSS':>10} {'wall':>7} {'exit':>4}  target <= 1.5 GB")
    width, height = side_under_budget()
    budget_mp = _common.config.max_pixels() / 1e6
    print(f"worst files: {width}x{height} = {width * height / 1e6:.2f} MP (budget {budget_mp:g} MP)")
    for name in ("photo_small", "png16_grey", "png16_rgb", "tiff_float", "video"):
        path = files[name]
        rss, seconds, code, last = median_run(["-m", "mesonet", "detect", str(path), "--json", "-"], args.repeats)
        verdict = "ok" if rss <= TARGET_BYTES and code == 0 else f"FAIL ({last})"
        size = path.stat().st_size
        print(f"{name:<12} {size / 1e6:>10.1f}MB {rss / 1e9:>8.2f}GB {seconds:>6.1f}s {code:>4}  {verdict}")

    print("\n2. Peak RSS of load_image alone: banded conversion vs the old whole-image int64/float64 one")
    print(f"{'file':<12} {'banded':>9} {'old':>9}")
    for name in ("png16_grey", "tiff_float"):
        load = f"from mesonet.media.images import load_image; load_image({str(files[name])!r})"
        banded, *_ = median_run(["-c", load], args.repeats)
        old, *_ = median_run(["-c", _OLD_TO_RGB + load], args.repeats)
        print(f"{name:<12} {banded / 1e9:>7.2f}GB {old / 1e9:>7.2f}GB")

    print("\n3. Refusing a 60 MP image of", f"{files['bomb_60mp'].stat().st_size / 1e3:.0f} KB (target < 2 s)")
    from mesonet.errors import MediaError
    from mesonet.media.images import load_image

    times = []
    for _ in range(max(5, args.repeats)):
        start = time.perf_counter()
        try:
            load_image(files["bomb_60mp"])
        except MediaError as exc:
            message = str(exc)
        times.append(time.perf_counter() - start)
    print(f"load_image in-process: median {statistics.median(times) * 1000:.2f} ms  ({message})")
    rss, seconds, code, last = median_run(
        ["-m", "mesonet", "detect", str(files["bomb_60mp"]), "--json", "-"], args.repeats
    )
    print(f"mesonet detect, whole command: median {seconds:.2f} s, peak RSS {rss / 1e9:.2f} GB, exit {code}: {last}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
