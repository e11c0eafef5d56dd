"""Every core serving users: the real app with six users at once, and `mesonet detect --jobs N`.

Measures, on this machine:

1. "app": `streamlit run streamlit_app.py` (mesonet/serving/app_server.py) in headless Chromium. Six
   browser contexts (six sessions) upload six different clips at the same moment (copies of
   the shared clips with bytes appended that ffmpeg ignores, so the server's extraction cache
   never serves them), and each waits for its verdict card. Compared with the same six clips
   uploaded one after another by one user alone (each timed from its upload to its verdict).
   Targets: total time with six at once <= 0.6 x the six alone (1.0 when the server served
   users one at a time), no error on any page, and peak server memory <= 3 GB: the sum of
   the resident memory of the server and all its descendants (worker processes, ffmpeg),
   polled every 0.1 s (shared library pages count once per process, so this overstates).
   The browsers stand in for the users' own computers but share the server's cores here, so
   they run at nice 19 (`--browser-priority own` leaves them at Chromium's own priority), and
   the CPU seconds of the server, its workers (with ffmpeg) and the browsers are reported.
2. "cli": `mesonet detect` on 8 clips in a fresh process (start-up included), `--jobs 1`
   against `--jobs 2`. Target: at least 1.7x faster with 2 jobs on 2 cores. The JSON results
   of both must be equal. Also the cores one run keeps busy (its CPU seconds, workers and
   ffmpeg included, over its wall time), which bounds what more cores can give.

Rounds alternate the alternatives (--repeats rounds); tables give medians. The load average
is printed: the machine is small and shared, so compare alternatives within one run only.

Run (about 5 minutes on the 2-core machine):
    python benchmarks/bench_concurrency.py [--repeats 3] [--users 6] [--sections app cli]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import CHROMIUM, CHROMIUM_ARGS, DATA_DIR, PeakPoller, read_proc
from bench_app import FILE_INPUT, VERDICT_SHOWN_JS
from playwright.async_api import async_playwright

from mesonet.serving.app_server import start_streamlit, stop_streamlit

TARGET_APP_RATIO = 0.6
TARGET_PEAK_BYTES = 3e9
TARGET_CLI_SPEEDUP = 1.7
ANALYSIS_TIMEOUT_MS = 300_000
# Error boxes and tracebacks (not the warnings and notes a result may carry).
ERROR_JS = """() => [...document.querySelectorAll('[data-testid="stAlertContentError"], [data-testid="stException"]')]
    .map(e => e.innerText.trim()).filter(t => t.length > 0)"""
SECTIONS = ("app", "cli")


def shared_clips(data_dir: Path) -> list[Path]:
    videos = data_dir / "videos"
    return [
        videos / "real" / "ff_youtube_183.mp4",
        videos / "deepfakes" / "ff_c40_183_253.mp4",
        videos / "face2face" / "ff_c40_183_253.mp4",
        videos / "real" / "short_hamilton_clip.mp4",
        videos / "real" / "ff_actors_01_kitchen_pan.mp4",
    ]


def fresh_copies(sources: Sequence[Path], n: int, folder: Path, tag: str) -> list[Path]:
    """n new files cycling over `sources`, each with different trailing bytes (a new cache key)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for k in range(n):
        source = sources[k % len(sources)]
        copy = folder / f"{tag}_{k}_{source.parent.name}_{source.name}"
        shutil.copyfile(source, copy)
        with copy.open("ab") as file:
            file.write(f"\0{tag} {k} {time.time_ns()}".encode())
        copies.append(copy)
    return copies


# ---------------------------------------------------------------------------------------------
# Server memory
# ---------------------------------------------------------------------------------------------


class TreePeakRss(PeakPoller):
    """The peak summed resident memory (VmRSS) of a process and all its descendants."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        super().__init__(interval_s)
        self.pid = pid

    def sample(self) -> int:
        return sum(rss_bytes(pid) for pid in [self.pid, *descendants(self.pid)])


def descendants(pid: int) -> list[int]:
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for kid in map(int, read_proc(children).split()):
            found += [kid, *descendants(kid)]
    return found


def rss_bytes(pid: int) -> int:
    for line in read_proc(Path(f"/proc/{pid}/status")).splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, reaped_children: bool = True) -> float:
    """User + system CPU time of a process (and of its children it has waited for), from /proc."""
    fields = read_proc(Path(f"/proc/{pid}/stat")).rsplit(")", 1)[-1].split()
    if len(fields) < 15:
        return 0.0  # gone
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped_children else 0)
    return ticks / CLOCK_TICKS


def browser_pids(server_pid: int) -> list[int]:
    """This benchmark's other descendants: Playwright's driver and Chromium's processes."""
    server_tree = {server_pid, *descendants(server_pid)}
    return [pid for pid in descendants(os.getpid()) if pid not in server_tree]


def cpu_split(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server itself, of its workers and their ffmpeg, and of the browser."""
    return {
        "server": cpu_seconds(server_pid, reaped_children=False),
        "workers": sum(cpu_seconds(pid) for pid in descendants(server_pid)),
        "browser": sum(cpu_seconds(pid) for pid in browser_pids(server_pid)),
    }


class BrowserAtLowestPriority(PeakPoller):
    """Keeps the browser's processes at the lowest CPU priority (nice 19) while in a `with` block.

    The browsers stand in for the users' own computers, yet here they share the server's two
    cores; Chromium raises the priority of its own browser and GPU processes, so this renices
    them again every `interval_s` (new renderers included).
    """

    def __init__(self, server_pid: int, interval_s: float = 0.2) -> None:
        super().__init__(interval_s)
        self.server_pid = server_pid

    def sample(self) -> int:
        for pid in browser_pids(self.server_pid):
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError, ValueError):
                    if os.getpriority(os.PRIO_PROCESS, int(task.name)) != 19:
                        os.setpriority(os.PRIO_PROCESS, int(task.name), 19)
        return 0


# ---------------------------------------------------------------------------------------------
# 1. The app
# ---------------------------------------------------------------------------------------------


async def open_session(browser, url: str):
    """A new browser context (a new Streamlit session) on the Analyse page, ready for an upload."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(url, timeout=ANALYSIS_TIMEOUT_MS)
    await page.wait_for_selector(FILE_INPUT, state="attached", timeout=ANALYSIS_TIMEOUT_MS)
    return context, page


async def analyse(page, path: Path) -> tuple[float, list[str]]:
    """Uploads `path`; returns (seconds from the upload to the verdict, error texts on the page)."""
    start = time.perf_counter()
    await page.set_input_files(FILE_INPUT, path)
    try:
        await page.wait_for_function(VERDICT_SHOWN_JS, arg=path.name, timeout=ANALYSIS_TIMEOUT_MS, polling=50)
    except Exception as exc:  # a timeout is an error to count, not a reason to stop the benchmark
        return time.perf_counter() - start, [f"{path.name}: no verdict ({type(exc).__name__})"]
    elapsed = time.perf_counter() - start
    return elapsed, await page.evaluate(ERROR_JS)


async def users_at_once(browser, url: str, paths: Sequence[Path]) -> tuple[float, list[tuple[float, list[str]]]]:
    """One session per path; every page is loaded first, then all upload at the same moment.

    Returns:
        (seconds from the uploads to the last verdict, (seconds, errors) per user).
    """
    sessions = await asyncio.gather(*(open_session(browser, url) for _ in paths))
    try:
        start = time.perf_counter()
        results = await asyncio.gather(*(analyse(page, path) for (_, page), path in zip(sessions, paths)))
        return time.perf_counter() - start, results
    finally:
        await asyncio.gather(*(context.close() for context, _ in sessions))


async def app_rounds(url: str, server_pid: int, clips: list[Path], args: argparse.Namespace) -> list[dict]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        nice = BrowserAtLowestPriority(server_pid) if args.browser_priority == "lowest" else contextlib.nullcontext()
        try:
            with nice:
                # Untimed: imports TensorFlow, loads the model, starts the workers.
                warm = fresh_copies(clips, 2, args.work_dir, "warmup")
                await users_at_once(browser, url, warm)
                rounds = []
                for r in range(args.repeats):
                    alone = []
                    cpu_before = cpu_split(server_pid)
                    for path in fresh_copies(clips, args.users, args.work_dir, f"alone{r}"):
                        alone += (await users_at_once(browser, url, [path]))[1]
                    cpu_between = cpu_split(server_pid)
                    together_files = fresh_copies(clips, args.users, args.work_dir, f"together{r}")
                    with TreePeakRss(server_pid) as memory:
                        total, together = await users_at_once(browser, url, together_files)
                    cpu_after = cpu_split(server_pid)
                    rounds.append(
                        {
                            "alone_s": [t for t, _ in alone],
                            "together_total_s": total,
                            "together_s": [t for t, _ in together],
                            "errors": [e for _, errors in [*alone, *together] for e in errors],
                            "peak_bytes": memory.peak,
                            "cpu_alone": {k: cpu_between[k] - cpu_before[k] for k in cpu_before},
                            "cpu_together": {k: cpu_after[k] - cpu_between[k] for k in cpu_before},
                        }
                    )
                    print(
                        f"  round {r + 1}: alone {sum(rounds[-1]['alone_s']):.1f} s in total, together {total:.1f} s, "
                        f"peak {memory.peak / 1e9:.2f} GB, errors {len(rounds[-1]['errors'])}; CPU seconds "
                        f"alone {_cpu_text(rounds[-1]['cpu_alone'])}, together {_cpu_text(rounds[-1]['cpu_together'])}",
                        flush=True,
                    )
                return rounds
        finally:
            await browser.close()


def _cpu_text(cpu: dict[str, float]) -> str:
    return " + ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())


def bench_app(args: argparse.Namespace) -> None:
    clips = shared_clips(args.data_dir)
    print(f"\n== 1. The app: {args.users} users at once vs the same {args.users} clips one after another ==")
    process, url, _ = start_streamlit(args.work_dir / "server.log", timeout_s=120)
    try:
        rounds = asyncio.run(app_rounds(url, process.pid, clips, args))
    finally:
        stop_streamlit(process)
    alone = statistics.median(sum(r["alone_s"]) for r in rounds)
    together = statistics.median(r["together_total_s"] for r in rounds)
    single = statistics.median(t for r in rounds for t in r["alone_s"])
    peak = max(r["peak_bytes"] for r in rounds)
    errors = [e for r in rounds for e in r["errors"]]
    ratio = together / alone
    print(f"   one user alone: median {single:.2f} s per clip; {args.users} clips one after another: {alone:.2f} s")
    print(f"   {args.users} users at once: {together:.2f} s = {ratio:.2f} x one after another (target <= 0.6)")
    print(f"   per user at once: median {statistics.median(t for r in rounds for t in r['together_s']):.2f} s")
    print(f"   peak server memory (server + workers + ffmpeg): {peak / 1e9:.2f} GB (target <= 3 GB)")
    print(f"   errors: {len(errors)}{''.join(chr(10) + '     ' + e for e in errors[:10])}")
    for mode in ("alone", "together"):
        cpu = {k: statistics.median(r[f"cpu_{mode}"][k] for r in rounds) for k in rounds[0]["cpu_alone"]}
        print(f"   CPU seconds, {args.users} clips {mode} (median): {_cpu_text(cpu)}")
    verdict = ratio <= TARGET_APP_RATIO and peak <= TARGET_PEAK_BYTES and not errors
    print(f"   targets met: {'yes' if verdict else 'NO'}")


# ---------------------------------------------------------------------------------------------
# 2. The command line
# ---------------------------------------------------------------------------------------------


def run_detect(files: Sequence[Path], jobs: int, out: Path) -> tuple[float, float]:
    """Runs `mesonet detect`; returns (wall seconds, CPU seconds of it, its workers and their ffmpeg)."""
    command = [sys.executable, "-m", "mesonet", "detect", *map(str, files), "--jobs", str(jobs), "--json", str(out)]
    cpu_before = _children_cpu_s()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"mesonet detect --jobs {jobs} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, _children_cpu_s() - cpu_before


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_cli(args: argparse.Namespace) -> None:
    files = fresh_copies(shared_clips(args.data_dir), 8, args.work_dir, "cli")
    print(f"\n== 2. mesonet detect on {len(files)} clips, fresh process each, --jobs 1 vs --jobs 2, seconds ==")
    times: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    results: dict[int, list] = {}
    for r in range(args.repeats):
        for jobs in (1, 2):
            out = args.work_dir / f"detect_jobs{jobs}.json"
            wall, cpu_s = run_detect(files, jobs, out)
            times[jobs].append(wall)
            cpu[jobs].append(cpu_s)
            results[jobs] = [
                {key: item[key] for key in ("path", "verdict", "p_fake", "frames")}
                for item in json.loads(out.read_text())
            ]
        print(
            f"  round {r + 1}: --jobs 1 {times[1][-1]:.1f} s ({cpu[1][-1]:.1f} CPU s), "
            f"--jobs 2 {times[2][-1]:.1f} s ({cpu[2][-1]:.1f} CPU s)",
            flush=True,
        )
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(
        f"   --jobs 1: median {one:.2f} s (min {min(times[1]):.2f}); "
        f"--jobs 2: median {two:.2f} s (min {min(times[2]):.2f})"
    )
    print(f"   speed-up {one / two:.2f}x (target >= {TARGET_CLI_SPEEDUP}); same results: {results[1] == results[2]}")
    # One job is already two processes at work (ffmpeg decoding while dlib detects), so it keeps
    # more than one core busy; N cores can then speed it up by N / (cores one job keeps busy) at most.
    cores_one_job = statistics.median(c / t for c, t in zip(cpu[1], times[1]))
    cores = os.cpu_count() or 1
    print(
        f"   cores kept busy: --jobs 1 {cores_one_job:.2f}, --jobs 2 "
        f"{statistics.median(c / t for c, t in zip(cpu[2], times[2])):.2f} of {cores}; "
        f"so at most {cores / cores_one_job:.2f}x faster with every core"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of each alternative (default 3)")
    parser.add_argument("--users", type=int, default=6, help="users at once (default 6)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="shared videos/")
    parser.add_argument(
        "--browser-priority",
        choices=["lowest", "own"],
        default="lowest",
        help="run the browsers at nice 19, as if on the users' own computers (default), or at their own priority",
    )
    args = parser.parse_args(argv)
    print(
        f"MesoNet concurrency benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
        f"(a training job running: {'yes' if _training_running() else 'no'})"
    )
    with tempfile.TemporaryDirectory(prefix="mesonet-bench-concurrency-") as work:
        args.work_dir = Path(work)
        if "app" in args.sections:
            bench_app(args)
        if "cli" in args.sections:
            bench_cli(args)
    print(f"\nload average now {os.getloadavg()[0]:.2f}")


def _training_running() -> bool:
    return subprocess.run(["pgrep", "-f", "train_studio"], capture_output=True).returncode == 0


if __name__ == "__main__":
    main()
