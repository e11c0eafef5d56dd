"""End-to-end speed and memory of the detection pipeline (decode -> detect+align -> score).

Measures, in one run, with the Meso4 "meso4-df" classifier loaded and warmed up first:

1. `analyze_media` (30 evenly spaced frames, default settings) on every shared clip and on two
   generated 10 s H.264 clips with a moving face (1280x720 and 1920x1080): wall time and the
   per-stage split from `timings_s` (decode, detect_align, score; "probe+other" is the rest,
   mostly the `probe_video` ffmpeg run). Targets: <= 2.0 s up to 720p, <= 3.0 s at 1080p.
   Each clip runs with the default detector and with HOG alone (the default before MTCNN came
   in); the default's time over HOG's must stay <= 1.5x on 720p and larger clips (on smaller
   ones it finds the faces HOG misses, and that costs what it costs).
2. One 1080p photo with one face, end to end: target <= 0.5 s.
3. Peak RSS of a fresh subprocess (imports, model load, one analysis) on a generated
   1080p video 10 minutes long (30 and 300 frames) and 1 minute long (30 frames), plus the
   baseline RSS after imports and model load. Target: < 1.5 GB (1.5e9 bytes) and not growing
   with the video's length.
4. The face detectors (mesonet.faces.detect.DETECTORS, and HOG without upsampling) on frames
   decoded once, searched as the pipeline does (near the previous face first): faces found and
   ms per frame, on every clip and on 1080p clips made like a phone video of a dim room (a
   shared clip scaled so that the face is 60, 90 or 120 px tall, padded into a 1920x1080 frame,
   luma at 40%); and on photos: the shared ones, one made small (an 80-px face in a 1920x1080
   canvas) and one made dark. The target: the default finds a face in >= 25 of 30 frames of each
   dim 1080p clip.
5. Long videos ("long"): 30 frames of a 10-minute 1080p video with a keyframe every second
   (the shared FaceForensics++ clip 183, upscaled to 1080p and looped) against the same clip's
   first 10 s at 720p, end to end with `analyze_media`: the default sampling (sparse samples
   seek) and exact sampling (`FrameSampling(exact=True)`: decoding from the start). Target:
   the long video in <= 2x the short clip's time, with faces in as many frames. Also what one
   seek costs against decoding and dropping frames, which sets
   `mesonet.media.seek.SEEK_MIN_GAP_PIXELS`.
6. Decoding ("decoding"): the default 30 samples of every clip, decoded exactly (every picture
   from the first) and from the reference pictures only (`mesonet.media.reference_frames`, the
   default): CPU seconds of ffmpeg and of this process, wall time, and whether each sample is
   pixel for pixel the exact decoding of the frame it reports, and how far after its sampled
   frame that is.

Every timing is repeated (--repeats) after an untimed warm-up run; tables give the median
and the minimum (the machine is small and noisy). Generated videos are made once with
imageio-ffmpeg's ffmpeg and cached in --cache-dir under names keyed by their parameters.

Run (about 5-6 minutes on the 2-core machine; --quick for about 2):
    python benchmarks/bench_pipeline.py [--repeats 5]
        [--quick] [--sections e2e photo memory detectors long decoding] [--cache-dir DIR] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from _common import DATA_DIR, ChildPeakRss
from PIL import Image

from mesonet.analysis.pipeline import analyze_media
from mesonet.analysis.results import Analysis
from mesonet.faces.detect import DEFAULT_DETECTOR, DETECTORS, extract_faces
from mesonet.media import seek as video_seek
from mesonet.media.ffmpeg import probe_video
from mesonet.media.video import FrameSampling, iter_frames, sample_frame_indices
from mesonet.models.scoring import Classifier, load_classifier

MODEL = "meso4-df"
DEFAULT_DATA_DIR = DATA_DIR
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "mesonet-bench"
TARGET_S_UP_TO_720P = 2.0
TARGET_S_1080P = 3.0
TARGET_S_PHOTO = 0.5
TARGET_RSS_BYTES = 1.5e9
MIB = 1024 * 1024
SECTIONS = ("e2e", "photo", "memory", "detectors", "long", "decoding")
TARGET_RATIO_TO_HOG = 1.5
TARGET_DIM_FRAMES = 25  # of 30
DIM_FACE_PX = (60, 90, 120)
DIM_SOURCE = "real/ff_actors_01_kitchen_pan"
TARGET_LONG_RATIO = 2.0
# The child of the memory section prints its result on one line that starts with this.
RESULT_PREFIX = "BENCH_RESULT "


# ---------------------------------------------------------------------------------------------
# Generated test videos
# ---------------------------------------------------------------------------------------------


def run_ffmpeg(args: Sequence[str]) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")


def cached_video(cache_dir: Path, label: str, args: Sequence[str]) -> Path:
    """Runs `ffmpeg args... OUTPUT` once; the file name is keyed by the arguments.

    The output is written under a temporary name and renamed when complete, so an
    interrupted run never leaves a truncated file in the cache.
    """
    key = hashlib.sha1("\0".join(args).encode()).hexdigest()[:10]
    path = cache_dir / f"{label}-{key}.mp4"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.mp4")
        start = time.perf_counter()
        run_ffmpeg([*args, str(partial)])
        partial.rename(path)
        print(f"  generated {path.name} in {time.perf_counter() - start:.1f} s")
    return path


def face_clip(cache_dir: Path, photo: Path, width: int, height: int, *, seconds: int = 10, fps: int = 30) -> Path:
    """A `seconds`-long H.264 clip of the photo, scaled 10% up and panned so frames change."""
    big_w, big_h = round(width * 1.1) // 2 * 2, round(height * 1.1) // 2 * 2
    dx, dy = (big_w - width) // 2, (big_h - height) // 2
    pan = f"scale={big_w}:{big_h},crop={width}:{height}:x='{dx}+{dx - 4}*sin(2*PI*t/5)':y='{dy}+{dy - 4}*cos(2*PI*t/4)'"
    args = [
        "-loop",
        "1",
        "-framerate",
        str(fps),
        "-i",
        str(photo),
        "-t",
        str(seconds),
        "-vf",
        pan,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-an",
    ]
    return cached_video(cache_dir, f"face_{width}x{height}_{fps}fps_{seconds}s", args)


def looped_video(cache_dir: Path, clip: Path, copies: int) -> Path:
    """`copies` copies of `clip` back to back, without re-encoding (cheap to make)."""
    args = ["-stream_loop", str(copies - 1), "-i", str(clip), "-c", "copy"]
    return cached_video(cache_dir, f"{clip.stem}_x{copies}", args)


def phone_like_1080p(cache_dir: Path, clip: Path, minutes: int) -> Path:
    """`clip` upscaled to 1080p with a keyframe every 30 frames (1 s), looped to about `minutes` long."""
    args = ["-i", str(clip), "-vf", "scale=1920:1080", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30"]
    one = cached_video(cache_dir, f"{clip.stem}_1080p_gop30", [*args, "-pix_fmt", "yuv420p", "-an"])
    return looped_video(cache_dir, one, max(1, round(minutes * 60 / probe_video(one).duration_s)))


def first_seconds(cache_dir: Path, clip: Path, seconds: int) -> Path:
    return cached_video(cache_dir, f"{clip.stem}_{seconds}s", ["-i", str(clip), "-t", str(seconds), "-c", "copy"])


# ---------------------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------------------


@dataclass
class Runs:
    """Repeated timings of one case: wall times and per-stage times, in seconds."""

    wall_s: list[float]
    stages_s: dict[str, list[float]]
    frames_with_face: int
    frames_sampled: int
    tracks: int

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def min_s(self) -> float:
        return min(self.wall_s)

    def stage_median(self, stage: str) -> float:
        return statistics.median(self.stages_s[stage])

    def time_cells(self) -> list[str]:
        """wall median, wall min, and the median of each stage, as table cells."""
        stages = ("decode", "detect_align", "score", "other")
        return [f"{self.median_s:.3f}", f"{self.min_s:.3f}", *(f"{self.stage_median(s):.3f}" for s in stages)]


def time_analysis(
    path: Path,
    classifier: Classifier,
    *,
    n_frames: int,
    repeats: int,
    warmup: int,
    exact: bool = False,
    detector: str = DEFAULT_DETECTOR,
) -> Runs:
    """Times `analyze_media` on one file; the warm-up runs are not counted."""
    sampling = FrameSampling(n_frames=n_frames, exact=exact)
    for _ in range(warmup):
        analyze_media(path, classifier, sampling=sampling, detector=detector)
    wall: list[float] = []
    stages: dict[str, list[float]] = {"decode": [], "detect_align": [], "score": [], "other": []}
    analysis: Analysis | None = None
    for _ in range(repeats):
        start = time.perf_counter()
        analysis = analyze_media(path, classifier, sampling=sampling, detector=detector)
        elapsed = time.perf_counter() - start
        timings = {**analysis.extraction.timings_s, **analysis.timings_s}
        wall.append(elapsed)
        for stage in ("decode", "detect_align", "score"):
            stages[stage].append(timings[stage])
        stages["other"].append(elapsed - timings["decode"] - timings["detect_align"] - timings["score"])
    assert analysis is not None
    return Runs(wall, stages, frames_with_face(analysis), len(analysis.extraction.frames), len(analysis.tracks))


def frames_with_face(analysis: Analysis) -> int:
    """Sampled frames where any face was found.

    Not `analysis.summary.frames_with_face`: that counts one face track only, and a face that
    moves between sparse samples is split into several tracks.
    """
    return sum(1 for frame in analysis.extraction.frames if frame.faces)


def warm_up(classifier: Classifier) -> None:
    """Traces the classifier's tf.function and loads dlib's models (face_recognition import)."""
    classifier.score_real(np.zeros((30, 256, 256, 3), dtype=np.uint8))
    extract_faces(np.zeros((360, 640, 3), dtype=np.uint8))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Prints left-aligned first column, right-aligned others."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        print(line.rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def bench_end_to_end(clips: dict[str, Path], classifier: Classifier, args: argparse.Namespace) -> None:
    print(
        f"\n== 1. End to end: analyze_media({MODEL}, {args.frames} frames even, defaults), "
        f"{args.repeats} runs, seconds =="
    )
    print("   faces = sampled frames with a face; decode/detect+align/score = medians of timings_s;")
    print("   probe+other = wall - those stages (mostly the probe_video ffmpeg run)")
    print(
        f"   x hog = this wall time over HOG alone's on the same clip (target <= {TARGET_RATIO_TO_HOG}x from 720p up)"
    )
    rows = []
    for name, path in clips.items():
        info = probe_video(path)
        target = TARGET_S_UP_TO_720P if info.height <= 720 else TARGET_S_1080P
        by_detector = {
            detector: time_analysis(
                path, classifier, n_frames=args.frames, repeats=args.repeats, warmup=args.warmup, detector=detector
            )
            for detector in ("hog", DEFAULT_DETECTOR)
        }
        for detector, runs in by_detector.items():
            ratio = runs.median_s / by_detector["hog"].median_s
            rows.append(
                [
                    name,
                    detector,
                    f"{info.width}x{info.height}",
                    f"{info.duration_s:.0f}",
                    f"{runs.frames_with_face}/{runs.frames_sampled}",
                    runs.tracks,
                    *runs.time_cells(),
                    f"{ratio:.2f}",
                    f"<= {target:.1f}",
                    met(runs.median_s <= target and (info.height < 720 or ratio <= TARGET_RATIO_TO_HOG)),
                ]
            )
    print_table(
        [
            "clip",
            "detector",
            "size",
            "len s",
            "faces",
            "tracks",
            "wall med",
            "wall min",
            "decode",
            "detect+align",
            "score",
            "probe+other",
            "x hog",
            "target",
            "met",
        ],
        rows,
    )


def bench_photo(photo: Path, classifier: Classifier, args: argparse.Namespace) -> None:
    print(f"\n== 2. One-face photo, analyze_media({MODEL}) end to end, {args.repeats} runs, seconds ==")
    runs = time_analysis(photo, classifier, n_frames=1, repeats=args.repeats, warmup=args.warmup)
    with Image.open(photo) as image:
        size = f"{image.width}x{image.height}"
    print_table(
        ["photo", "size", "faces", "wall med", "wall min", "load", "detect+align", "score", "other", "target", "met"],
        [
            [
                photo.name,
                size,
                f"{runs.frames_with_face}/{runs.frames_sampled}",
                *runs.time_cells(),
                f"<= {TARGET_S_PHOTO:.1f}",
                met(runs.median_s <= TARGET_S_PHOTO),
            ]
        ],
    )


def rss_child(path: Path, n_frames: int) -> None:
    """Runs in a fresh process: load and warm everything, analyse once, print RSS and times."""
    start = time.perf_counter()
    classifier = load_classifier(MODEL)
    warm_up(classifier)
    load_s = time.perf_counter() - start
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with ChildPeakRss() as ffmpeg_rss:
        analysis = analyze_media(path, classifier, sampling=FrameSampling(n_frames=n_frames))
    wall_s = time.perf_counter() - start
    result = {
        "baseline_rss_bytes": baseline_kib * 1024,  # Linux reports ru_maxrss in KiB
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "ffmpeg_peak_rss_bytes": ffmpeg_rss.peak_bytes,
        "load_s": load_s,
        "wall_s": wall_s,
        "timings_s": {**analysis.extraction.timings_s, **analysis.timings_s},
        "frames_with_face": frames_with_face(analysis),
        "frames_sampled": len(analysis.extraction.frames),
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_rss_child(path: Path, n_frames: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(path), "--frames", str(n_frames)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"memory child failed ({done.returncode}) on {path.name}:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def bench_memory(clip_1080p: Path, args: argparse.Namespace) -> None:
    long_video = looped_video(args.cache_dir, clip_1080p, args.long_minutes * 6)
    short_video = looped_video(args.cache_dir, clip_1080p, 6)
    cases = [(short_video, 30), (long_video, 30), (long_video, 300)]
    print(
        f"\n== 3. Peak RSS, fresh process per case (imports + {MODEL} load + warm-up + one analyze_media), "
        f"{args.rss_repeats} run(s) each =="
    )
    print("   RSS in MiB: baseline = ru_maxrss after imports, model load and warm-up; peak = ru_maxrss at the end;")
    print("   ffmpeg = peak RSS of the decoder process (a separate process, not included in peak)")
    rows = []
    peaks: dict[tuple[Path, int], float] = {}
    for path, n_frames in cases:
        info = probe_video(path)
        results = [run_rss_child(path, n_frames) for _ in range(args.rss_repeats)]
        peak = statistics.median(r["peak_rss_bytes"] for r in results)
        peaks[(path, n_frames)] = peak
        last = results[-1]
        rows.append(
            [
                f"{info.duration_s / 60:.0f} min 1080p",
                n_frames,
                f"{last['frames_with_face']}/{last['frames_sampled']}",
                f"{statistics.median(r['baseline_rss_bytes'] for r in results) / MIB:.0f}",
                f"{peak / MIB:.0f}",
                f"{statistics.median(r['ffmpeg_peak_rss_bytes'] for r in results) / MIB:.0f}",
                f"{statistics.median(r['load_s'] for r in results):.1f}",
                f"{statistics.median(r['wall_s'] for r in results):.2f}",
                f"{statistics.median(r['timings_s']['decode'] for r in results):.2f}",
                f"{statistics.median(r['timings_s']['detect_align'] for r in results):.2f}",
                f"{statistics.median(r['timings_s']['score'] for r in results):.2f}",
                met(peak < TARGET_RSS_BYTES),
            ]
        )
    print_table(
        [
            "video",
            "frames",
            "faces",
            "baseline",
            "peak",
            "ffmpeg",
            "load s",
            "wall s",
            "decode s",
            "detect s",
            "score s",
            "< 1.5 GB",
        ],
        rows,
    )
    growth = peaks[(long_video, 30)] - peaks[(short_video, 30)]
    print(
        f"   30 frames, {args.long_minutes} min vs 1 min: peak RSS {growth / MIB:+.0f} MiB "
        f"({'not growing' if abs(growth) < 50 * MIB else 'GROWS'} with length; threshold 50 MiB)"
    )


def dim_clip(cache_dir: Path, clip: Path, face_px: int) -> Path:
    """A 10-s 1920x1080 clip like a phone video of a dim room: `clip` scaled so that its face is
    about `face_px` tall (dlib's box), padded into the frame left of centre, luma at 40%."""
    info = probe_video(clip)
    middle = sample_frame_indices(info, FrameSampling(n_frames=1))
    frame = next(iter(iter_frames(clip, middle, info=info))).rgb
    top, _, bottom, _ = extract_faces(frame, model="hog", upsample=1)[0].box
    scale = face_px / (bottom - top)
    width, height = round(info.width * scale) // 2 * 2, round(info.height * scale) // 2 * 2
    if width > 1920 or height > 1080:
        raise ValueError(f"{clip.name}: its face is too small to be {face_px} px in a 1080p frame")
    frame_filter = f"scale={width}:{height},pad=1920:1080:{(1920 - width) // 3}:{(1080 - height) // 2},lutyuv=y=val*0.4"
    args = ["-i", str(clip), "-t", "10", "-vf", frame_filter, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    return cached_video(cache_dir, f"{clip.stem}_dim_{face_px}px_1080p", [*args, "-pix_fmt", "yuv420p", "-an"])


def photo_variants(photos_dir: Path) -> dict[str, np.ndarray]:
    """The shared photos, and two made from obama.jpg: its face 80 px tall in a 1920x1080 grey
    canvas ("small"), and the photo at 30% brightness ("dark")."""
    photos = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in sorted(photos_dir.iterdir())}
    obama = photos["obama.jpg"]
    top, _, bottom, _ = extract_faces(obama, model="hog")[0].box
    scale = 80 / (bottom - top)
    small = Image.fromarray(obama).resize((round(obama.shape[1] * scale), round(obama.shape[0] * scale)))
    canvas = Image.new("RGB", (1920, 1080), (90, 90, 90))
    canvas.paste(small, (1200, 500))
    photos["obama small (80 px face, 1080p)"] = np.asarray(canvas)
    photos["obama dark (30%)"] = (obama * 0.3).astype(np.uint8)
    return photos


# (detector, HOG upsampling) pairs measured; the detectors' own upsampling is "auto".
DETECTOR_CASES = [(detector, "auto") for detector in DETECTORS] + [("hog", 0)]


def case_name(detector: str, upsample: int | str) -> str:
    return detector if upsample == "auto" else f"{detector}, upsample {upsample}"


def bench_detectors(clips: dict[str, Path], photos_dir: Path, args: argparse.Namespace) -> None:
    print(f"\n== 4. Face detectors: faces found and ms per frame (median of {args.repeats} runs) ==")
    print(f"   default: {DEFAULT_DETECTOR}")
    print("   aligned = faces whose dlib landmarks gave the authors' crop (the rest: a margin crop)")
    dim = {f"generated/dim_{px}px_1080p": dim_clip(args.cache_dir, clips[DIM_SOURCE], px) for px in DIM_FACE_PX}
    rows = []
    for name, path in {**clips, **dim}.items():
        info = probe_video(path)
        indices = sample_frame_indices(info, FrameSampling(n_frames=args.frames))
        frames = [frame.rgb for frame in iter_frames(path, indices, info=info)]
        for detector, upsample in DETECTOR_CASES:
            found, aligned, per_frame_ms = detect_all(
                frames, model=detector, upsample=upsample, repeats=args.repeats, warmup=args.warmup
            )
            target = name in dim and detector == DEFAULT_DETECTOR
            rows.append(
                [
                    name,
                    case_name(detector, upsample),
                    f"{found}/{len(frames)}",
                    aligned,
                    f"{statistics.median(per_frame_ms):.0f}",
                    f">= {TARGET_DIM_FRAMES}/30: {met(found >= TARGET_DIM_FRAMES)}" if target else "",
                ]
            )
    print_table(["clip", "detector", "faces", "aligned", "ms/frame", "target"], rows)

    print("\n   photos: faces found (all faces), ms per photo")
    rows = []
    for name, photo in photo_variants(photos_dir).items():
        for detector, upsample in DETECTOR_CASES:
            runs_ms = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                faces = extract_faces(photo, all_faces=True, model=detector, upsample=upsample)
                runs_ms.append((time.perf_counter() - start) * 1000)
            rows.append(
                [
                    name,
                    case_name(detector, upsample),
                    len(faces),
                    sum(face.aligned for face in faces),
                    f"{statistics.median(runs_ms):.0f}",
                ]
            )
    print_table(["photo", "detector", "faces", "aligned", "ms"], rows)


def detect_all(
    frames: list[np.ndarray], *, model: str, upsample: int | str, repeats: int, warmup: int
) -> tuple[int, int, list[float]]:
    """Runs extract_faces over the frames as the pipeline does (near the previous face first);
    returns (frames with a face, of them aligned, ms per frame of each run)."""

    def one_pass() -> tuple[int, int]:
        previous_box = None
        found = aligned = 0
        for frame in frames:
            faces = extract_faces(frame, near=previous_box, model=model, upsample=upsample)
            if faces:
                found += 1
                aligned += faces[0].aligned
                previous_box = faces[0].box
        return found, aligned

    for _ in range(warmup):
        one_pass()
    times_ms = []
    found = aligned = 0
    for _ in range(repeats):
        start = time.perf_counter()
        found, aligned = one_pass()
        times_ms.append((time.perf_counter() - start) * 1000 / len(frames))
    return found, aligned, times_ms


def bench_long(clip_720p: Path, classifier: Classifier, args: argparse.Namespace) -> None:
    short = first_seconds(args.cache_dir, clip_720p, 10)
    long_video = phone_like_1080p(args.cache_dir, clip_720p, args.long_minutes)
    info = probe_video(long_video)
    print(
        f"\n== 5. Long video: {args.frames} frames of {info.duration_s / 60:.1f} min {info.width}x{info.height} "
        f"(keyframe every 1 s) vs 10 s 720p, analyze_media({MODEL}), {args.repeats} runs, seconds =="
    )
    cases = [
        ("10 s 720p", short, False, args.repeats),
        (f"{info.duration_s / 60:.0f} min 1080p", long_video, False, args.repeats),
        (f"{info.duration_s / 60:.0f} min 1080p, exact", long_video, True, 1),  # decodes all 18,000 frames
    ]
    runs = {
        name: time_analysis(path, classifier, n_frames=args.frames, repeats=n, warmup=min(1, args.warmup), exact=exact)
        for name, path, exact, n in cases
    }
    base = runs["10 s 720p"]
    rows = []
    for name, result in runs.items():
        ratio = result.median_s / base.median_s
        rows.append(
            [
                name,
                f"{result.frames_with_face}/{result.frames_sampled}",
                f"{result.median_s:.2f}",
                f"{result.min_s:.2f}",
                f"{result.stage_median('decode'):.2f}",
                f"{result.stage_median('detect_align'):.2f}",
                f"{ratio:.2f}x",
                "-"
                if result is base
                else met(ratio <= TARGET_LONG_RATIO and result.frames_with_face >= base.frames_with_face),
            ]
        )
    print_table(["video", "faces", "wall med", "wall min", "decode", "detect+align", "vs 10 s 720p", "<= 2x"], rows)

    # What one seek costs, in frames decoded and dropped (SEEK_MIN_GAP_PIXELS).
    seconds_per_frame = statistics.median(
        _time(lambda: list(iter_frames(long_video, [599], info=info, exact=True))) / 600 for _ in range(args.repeats)
    )
    far = [3000 + 600 * k for k in range(10)]
    seek_s = statistics.median(
        _time(lambda: list(video_seek.iter_seeked_frames(long_video, far, info))) / len(far)
        for _ in range(args.repeats)
    )
    print(
        f"   1080p: decoding and dropping a frame {seconds_per_frame * 1000:.2f} ms; one keyframe seek "
        f"{seek_s * 1000:.0f} ms = {seek_s / seconds_per_frame:.0f} frames (SEEK_MIN_GAP_PIXELS is "
        f"{video_seek.SEEK_MIN_GAP_PIXELS / (1920 * 1080):.0f} frames of 1080p)"
    )


def bench_decoding(clips: dict[str, Path], args: argparse.Namespace) -> None:
    print(
        f"\n== 6. Decoding {args.frames} evenly spaced frames: exactly, and from reference pictures only "
        f"(the default); median of {args.repeats} runs; CPU = ffmpeg + this process =="
    )
    rows = []
    for name, path in clips.items():
        info = probe_video(path)
        wanted = sample_frame_indices(info, FrameSampling(n_frames=args.frames))
        runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
        for _ in range(args.repeats):
            for exact in (True, False):
                cpu_self, cpu_children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
                wall = _time(lambda: list(iter_frames(path, wanted, info=info, exact=exact)))  # noqa: B023
                runs[exact].append(
                    (_cpu(resource.RUSAGE_CHILDREN) - cpu_children, _cpu(resource.RUSAGE_SELF) - cpu_self, wall)
                )
        frames = list(iter_frames(path, wanted, info=info, exact=False))
        exact_frames = {f.frame_index: f.rgb for f in iter_frames(path, [f.frame_index for f in frames], info=info)}
        identical = sum(np.array_equal(f.rgb, exact_frames[f.frame_index]) for f in frames)
        shifts = [f.frame_index - w for f, w in zip(frames, wanted)]
        medians = {exact: [statistics.median(run[k] for run in runs[exact]) for k in range(3)] for exact in runs}
        exact_cpu, reference_cpu = sum(medians[True][:2]), sum(medians[False][:2])
        rows.append(
            [
                name,
                f"{info.width}x{info.height} {info.codec}",
                f"{medians[True][0]:.2f} + {medians[True][1]:.2f}",
                f"{medians[False][0]:.2f} + {medians[False][1]:.2f}",
                f"{reference_cpu / exact_cpu:.2f}x",
                f"{medians[True][2]:.2f} / {medians[False][2]:.2f}",
                f"{identical}/{len(frames)} of {len(wanted)}",
                f"{min(shifts)}..{max(shifts)}",
            ]
        )
    print_table(
        ["clip", "video", "exact CPU s", "reference CPU s", "ratio", "wall s exact / ref", "identical", "shift"],
        rows,
    )


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _time(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, help="timed runs per case (default 5, 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before timing a case (default 1)")
    parser.add_argument("--frames", type=int, default=30, help="frames sampled per video (default 30)")
    parser.add_argument("--rss-repeats", type=int, default=1, help="fresh processes per memory case (default 1)")
    parser.add_argument(
        "--long-minutes", type=int, help="length of the long video in minutes (default 10, 3 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and a shorter long video")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="shared videos/ and photos/")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where generated videos are kept")
    parser.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)  # internal: one memory case
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.long_minutes is None:
        args.long_minutes = 3 if args.quick else 10
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.rss_child is not None:
        rss_child(args.rss_child, args.frames)
        return
    photo = args.data_dir / "photos" / "obama-1080p.jpg"
    shared = {f"{p.parent.name}/{p.stem}": p for p in sorted((args.data_dir / "videos").glob("*/*.mp4"))}
    print(
        f"MesoNet pipeline benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
        f"Python {platform.python_version()}, ffmpeg {imageio_ffmpeg.get_ffmpeg_version()}"
    )
    print(f"cache: {args.cache_dir}")
    total_start = time.perf_counter()
    generated = {
        "generated/face_720p_10s": face_clip(args.cache_dir, photo, 1280, 720),
        "generated/face_1080p_10s": face_clip(args.cache_dir, photo, 1920, 1080),
    }
    clips = {**shared, **generated}

    classifier: Classifier | None = None
    if {"e2e", "photo", "long"} & set(args.sections):
        start = time.perf_counter()
        classifier = load_classifier(MODEL)
        warm_up(classifier)
        print(f"model load + warm-up: {time.perf_counter() - start:.1f} s")
    sections: dict[str, Callable[[], None]] = {
        "e2e": lambda: bench_end_to_end(clips, classifier, args),
        "photo": lambda: bench_photo(photo, classifier, args),
        "memory": lambda: bench_memory(generated["generated/face_1080p_10s"], args),
        "detectors": lambda: bench_detectors(clips, args.data_dir / "photos", args),
        "long": lambda: bench_long(shared["real/ff_youtube_183"], classifier, args),
        "decoding": lambda: bench_decoding(clips, args),
    }
    for name in SECTIONS:
        if name in args.sections:
            sections[name]()
    print(
        f"\ntotal benchmark time: {time.perf_counter() - total_start:.0f} s, load average now {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
