"""Speed and memory of the annotated video (`mesonet.analysis.annotate`, `detect --annotate`).

Measures, on a ~10-s clip and the same clip looped to ~60 s, at 360p (the shared Hamilton clip,
with audio) and 720p (the shared FaceForensics++ clip 183):

1. `annotate_video` with the boxes of a 30-frame analysis carried to every frame (the default):
   wall time, frames per second, and peak RSS in a fresh process that imports only the core's
   annotate module (baseline = after imports; peak = at the end), and the peak RSS of the two
   ffmpeg processes together (decoder + encoder). Target: memory flat with the video's length
   (the 60-s peak within 10% of the 10-s one).
2. `score_every_frame` (faces of every frame found and scored, in this process, 240 frames a
   window) on the 360p clips: wall time, frames per second and peak RSS in a fresh process
   (imports, model load). Target: flat with length too. Skipped with --quick.

The analyses whose boxes are drawn are made once in this process (meso4-df, 30 frames) and
handed to the children as pickles. Every figure is the median of --repeats runs (section 2:
--every-repeats); the load average is printed (the machine is shared).

Run (about 6 minutes on the 2-core machine; --quick for about 2):
    python benchmarks/bench_annotate.py [--repeats 3] [--every-repeats 1] [--quick] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA_DIR, ChildPeakRss, read_proc

MODEL = "meso4-df"
MIB = 1024 * 1024
RESULT_PREFIX = "BENCH_RESULT "
FLAT_WITHIN = 0.10


def peak_rss() -> int:
    """This process's peak RSS in bytes since it started its program (VmHWM).

    Not ru_maxrss: Linux carries that over from the parent through fork and exec, so a child of
    this benchmark's parent (which holds TensorFlow) would report the parent's peak.
    """
    status = read_proc(Path("/proc/self/status")).splitlines()
    return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) * 1024


def render_child(source: Path, annotations_pickle: Path, out: Path) -> None:
    """Runs in a fresh process: draw and encode one annotated video; print time and memory."""
    from mesonet.analysis.annotate import annotate_video

    annotations = pickle.loads(annotations_pickle.read_bytes())
    baseline = peak_rss()
    with ChildPeakRss(total=True) as ffmpeg_rss:
        video = annotate_video(source, out, annotations)
    result = {
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak_rss(),
        "ffmpeg_peak_rss_bytes": ffmpeg_rss.peak_bytes,
        "wall_s": video.seconds,
        "frames": video.frame_count,
        "size_bytes": out.stat().st_size,
    }
    out.unlink()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def every_frame_child(source: Path) -> None:
    """Runs in a fresh process: load the model, score every frame; print time and memory."""
    from mesonet.analysis.annotate import score_every_frame
    from mesonet.models.scoring import load_classifier

    classifier = load_classifier(MODEL)
    classifier.score_real([])  # builds the model's functions before the baseline
    baseline = peak_rss()
    start = time.perf_counter()
    annotations = score_every_frame(source, classifier, threshold=classifier.threshold)
    result = {
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak_rss(),
        "wall_s": time.perf_counter() - start,
        "frames": len(annotations.frames),
        "frames_with_face": sum(bool(f.faces) for f in annotations.frames),
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_child(*args: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child failed ({done.returncode}) on {args}:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def medians(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def clips(cache_dir: Path) -> list[tuple[str, Path]]:
    from bench_pipeline import looped_video

    hamilton = DATA_DIR / "videos" / "real" / "short_hamilton_clip.mp4"
    ff183 = DATA_DIR / "videos" / "real" / "ff_youtube_183.mp4"
    return [
        ("360p 10 s + audio", hamilton),
        ("360p 60 s + audio", looped_video(cache_dir, hamilton, 6)),
        ("720p 13 s", ff183),
        ("720p 65 s", looped_video(cache_dir, ff183, 5)),
    ]


def bench_render(cases: list[tuple[str, Path]], args: argparse.Namespace) -> None:
    from bench_pipeline import print_table

    from mesonet.analysis.draw import Annotations
    from mesonet.analysis.pipeline import analyze_media
    from mesonet.media.ffmpeg import probe_video
    from mesonet.models.scoring import load_classifier

    classifier = load_classifier(MODEL)
    print(f"\n== 1. annotate_video, boxes of a 30-frame analysis carried to every frame ({args.repeats} runs) ==")
    print("   RSS in MiB: baseline = after imports; peak = at the end; ffmpeg = decoder + encoder peaks together")
    rows, peaks = [], {}
    for name, path in cases:
        pickled = args.cache_dir / f"{path.stem}.annotations.pickle"
        pickled.write_bytes(pickle.dumps(Annotations.from_analysis(analyze_media(path, classifier))))
        info = probe_video(path)
        out = args.cache_dir / f"{path.stem}.annotated.mp4"
        result = medians([run_child("--render-child", str(path), str(pickled), str(out)) for _ in range(args.repeats)])
        peaks[name] = result["peak_rss_bytes"]
        rows.append(
            [
                name,
                f"{info.width}x{info.height}",
                int(result["frames"]),
                f"{result['wall_s']:.2f}",
                f"{result['frames'] / result['wall_s']:.0f}",
                f"{result['baseline_rss_bytes'] / MIB:.0f}",
                f"{result['peak_rss_bytes'] / MIB:.0f}",
                f"{result['ffmpeg_peak_rss_bytes'] / MIB:.0f}",
                f"{result['size_bytes'] / 1e6:.1f}",
            ]
        )
    print_table(["clip", "size", "frames", "wall s", "frames/s", "baseline", "peak", "ffmpeg", "MB out"], rows)
    for short, long in ((cases[0][0], cases[1][0]), (cases[2][0], cases[3][0])):
        print_flat(f"{long} vs {short}", peaks[short], peaks[long])


def bench_every_frame(cases: list[tuple[str, Path]], args: argparse.Namespace) -> None:
    from bench_pipeline import print_table

    print(f"\n== 2. score_every_frame in this process, 360p ({args.every_repeats} run(s)) ==")
    print("   RSS in MiB: baseline = after imports and model load; peak = at the end")
    rows, peaks = [], []
    for name, path in cases[:2]:
        result = medians([run_child("--every-child", str(path)) for _ in range(args.every_repeats)])
        peaks.append(result["peak_rss_bytes"])
        rows.append(
            [
                name,
                int(result["frames"]),
                int(result["frames_with_face"]),
                f"{result['wall_s']:.1f}",
                f"{result['frames'] / result['wall_s']:.1f}",
                f"{result['baseline_rss_bytes'] / MIB:.0f}",
                f"{result['peak_rss_bytes'] / MIB:.0f}",
            ]
        )
    print_table(["clip", "frames", "with face", "wall s", "frames/s", "baseline", "peak"], rows)
    print_flat("60 s vs 10 s", *peaks)


def print_flat(label: str, short_peak: float, long_peak: float) -> None:
    from bench_pipeline import met

    growth = long_peak / short_peak - 1
    print(f"   peak RSS {label}: {growth:+.1%} (target: within {FLAT_WITHIN:.0%}) {met(growth <= FLAT_WITHIN)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every-repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="section 1 only")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "mesonet-bench")
    parser.add_argument("--render-child", nargs=3, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--every-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_child:
        render_child(*args.render_child)
        return
    if args.every_child:
        every_frame_child(args.every_child)
        return
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}")
    cases = clips(args.cache_dir)
    bench_render(cases, args)
    if not args.quick:
        bench_every_frame(cases, args)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
