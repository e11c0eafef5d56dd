"""Engine benchmark: `--engine local` against `--engine ray` on this machine, as a user runs them.

Each run is the whole command in a fresh process (`python -m mesonet evaluate|detect ...`), so
its wall time includes importing, loading the model and, for Ray, starting a local Ray
instance and stopping it. Runs alternate between the engines so that a change in the machine's
load falls on both. Reported: the median wall time of `--repeats` runs per engine, the ratio
ray / local, and Ray's start-up (what `ray.init` took inside the Ray runs of `evaluate`, which
record it in their JSON as `timings_s.ray_start`; and once more on its own, in a bare process).

Workloads (from ../shared/data):
- evaluate: `--crops` face crops from mesonet_df/train (half forged, half real), linked into a
  temporary class-folder dataset;
- detect: a folder with the shared videos (`--frames` sampled frames each).

Target (issue 13): on 2 cores Ray need not win, but it must cost at most 2x the local engine.
Also checked: both engines give the same metrics (evaluate) and the same per-file results (detect).

Usage:
    python benchmarks/bench_engines.py [--crops 600] [--frames 30] [--repeats 3] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA_DIR, REPO

ENGINES = ("local", "ray")


def make_crops_dataset(root: Path, n_crops: int) -> Path:
    """A class-folder dataset of n_crops crops, evenly drawn from the shared training set (symlinks)."""
    source = DATA_DIR / "mesonet_df" / "train"
    for folder in ("df", "real"):
        files = sorted((source / folder).glob("*.jpg"))
        step = max(1, len(files) // (n_crops // 2))
        (root / folder).mkdir(parents=True)
        for path in files[::step][: n_crops // 2]:
            (root / folder / path.name).symlink_to(path)
    return root


def make_video_folder(root: Path) -> Path:
    """Every shared video, in one folder (named after their class folder, as the same file names repeat)."""
    root.mkdir(parents=True)
    for path in sorted((DATA_DIR / "videos").glob("*/*.mp4")):
        (root / f"{path.parent.name}_{path.name}").symlink_to(path)
    return root


def run_command(args: list[str]) -> float:
    """Runs `python -m mesonet ARGS` from the repository; returns its wall time in seconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mesonet", *args], cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"mesonet {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def bare_ray_start() -> float:
    """Seconds to start (and, not counted, stop) a local Ray instance in a fresh process."""
    code = "from mesonet.serving.ray_engine import ray_cluster\n"
    code += "with ray_cluster() as cluster:\n    print(cluster.start_s)\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def compare(name: str, command: list[str], out_dir: Path, repeats: int) -> dict:
    """Times `command` with each engine `repeats` times, alternating; checks the outputs agree."""
    times: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    ray_starts: list[float] = []
    outputs: dict[str, object] = {}
    for repeat in range(repeats):
        for engine in ENGINES if repeat % 2 == 0 else ENGINES[::-1]:
            out = out_dir / f"{name}_{engine}.json"
            seconds = run_command([*command, "--engine", engine, "--json", str(out)])
            times[engine].append(seconds)
            outputs[engine] = json.loads(out.read_text())
            if name == "evaluate" and engine == "ray":
                ray_starts.append(outputs[engine]["timings_s"]["ray_start"])
            print(f"  {name} --engine {engine}: {seconds:.1f} s", flush=True)
    same = _without_timings(outputs["local"]) == _without_timings(outputs["ray"])
    medians = {engine: statistics.median(values) for engine, values in times.items()}
    result = {
        "runs_s": times,
        "median_s": medians,
        "ratio_ray_over_local": medians["ray"] / medians["local"],
        "same_results": same,
    }
    if ray_starts:
        result["ray_start_median_s"] = statistics.median(ray_starts)
        result["ray_start_runs_s"] = ray_starts
    return result


def _without_timings(output):
    if isinstance(output, list):
        return [_without_timings(item) for item in output]
    return {key: value for key, value in output.items() if key not in ("timings_s", "engine")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crops", type=int, default=600, help="face crops for evaluate (default: 600)")
    parser.add_argument("--frames", type=int, default=30, help="frames per video for detect (default: 30)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per engine (default: 3; the median is kept)")
    parser.add_argument("--quick", action="store_true", help="one run per engine")
    parser.add_argument("--json", type=Path, default=Path("/tmp/mesonet_bench_engines.json"))
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    with tempfile.TemporaryDirectory(prefix="mesonet-engines-") as tmp:
        tmp_dir = Path(tmp)
        crops = make_crops_dataset(tmp_dir / "crops", args.crops)
        videos = make_video_folder(tmp_dir / "videos")
        n_videos = len(list(videos.iterdir()))
        print(f"cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}", flush=True)
        start_s = bare_ray_start()
        print(f"Ray start-up alone: {start_s:.1f} s", flush=True)
        results = {
            "cores": os.cpu_count(),
            "load_average_at_start": os.getloadavg()[0],
            "ray_start_alone_s": start_s,
            "evaluate": {
                "crops": args.crops,
                **compare("evaluate", ["evaluate", str(crops), "--model", "meso4-df"], tmp_dir, repeats),
            },
            "detect": {
                "videos": n_videos,
                "frames": args.frames,
                **compare(
                    "detect",
                    ["detect", str(videos), "--model", "meso4-df", "--frames", str(args.frames)],
                    tmp_dir,
                    repeats,
                ),
            },
            "load_average_at_end": os.getloadavg()[0],
        }
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    for name in ("evaluate", "detect"):
        r = results[name]
        start = f"; Ray start-up {r['ray_start_median_s']:.1f} s of it" if "ray_start_median_s" in r else ""
        print(
            f"{name}: local {r['median_s']['local']:.1f} s, ray {r['median_s']['ray']:.1f} s{start} "
            f"(median of {repeats}); ray / local = {r['ratio_ray_over_local']:.2f} (target <= 2); "
            f"same results: {r['same_results']}"
        )
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
