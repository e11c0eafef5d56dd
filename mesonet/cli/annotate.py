"""`mesonet detect CLIP --annotate OUT.mp4`: the command line's side of the annotated video."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from mesonet.cli.output import ProgressBar
from mesonet.errors import AnnotateError


def add_annotate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--annotate",
        metavar="OUT.mp4",
        help="also write the video with each face's box and P(fake) and a timeline strip of the scores "
        "(H.264 MP4 with the audio; one video file only). Frames between the sampled ones show the nearest "
        "sampled frame's boxes",
    )
    parser.add_argument(
        "--annotate-every-frame",
        action="store_true",
        help="with --annotate: find and score the faces of every frame for the video (slower); the verdict "
        "still comes from the sampled frames",
    )


def check_annotate_options(args: argparse.Namespace) -> None:
    """Refuses --annotate options that cannot work, before any file is read or model loaded.

    Raises:
        AnnotateError: the message names the option and what to give instead.
    """
    from mesonet.analysis.annotate import check_output_path
    from mesonet.media.images import is_video

    if args.annotate is None:
        if args.annotate_every_frame:
            raise AnnotateError("--annotate-every-frame goes with --annotate OUT.mp4.")
        return
    if len(args.files) != 1:
        raise AnnotateError(f"--annotate writes one video: give one video file, not {len(args.files)} files.")
    source = Path(args.files[0])
    if source.is_dir():
        raise AnnotateError(f"{args.files[0] or '.'}: is a folder; --annotate needs one video file.")
    if not is_video(source):
        raise AnnotateError(f"{source.name}: is a photo; --annotate needs a video file (MP4, MOV, AVI, MKV, WebM).")
    check_output_path(args.annotate, source=source)


def annotate_analysis(args: argparse.Namespace, analysis) -> str:
    """Draws a detect run's analysis onto its video, on this machine (whatever the engine);
    returns the line that says where the video is."""
    from mesonet.analysis.workers import WorkerPool
    from mesonet.cli.engines import threshold_for
    from mesonet.models.ensemble import load_scorer

    classifier = load_scorer(args.model, weights_file=args.weights_file)  # cached when detect loaded it here
    threshold = threshold_for(args, classifier.threshold)
    # Scoring every frame finds faces in the worker pool; drawing the sampled frames needs none.
    with WorkerPool(args.jobs) if args.annotate_every_frame else contextlib.nullcontext() as pool:
        return write_annotated_video(args, analysis, classifier, threshold, pool)


def write_annotated_video(args: argparse.Namespace, analysis, classifier, threshold: float, pool) -> str:
    """Writes the annotated video of the analysed file; returns the line that says where it is.

    Raises:
        MesonetError: the video could not be read, scored or written (no file is left behind).
    """
    from mesonet.analysis.annotate import annotate_video, score_every_frame
    from mesonet.analysis.draw import Annotations

    if args.annotate_every_frame and not (args.all_frames and args.max_frames is None):
        annotations = score_every_frame(
            analysis.path,
            classifier,
            threshold=threshold,
            all_faces=args.all_faces,
            detector=args.detector,
            start_s=args.start,
            end_s=args.end,
            extract=pool.extract,
            progress=ProgressBar("score every frame"),
        )
    else:
        annotations = Annotations.from_analysis(analysis)
    with _sigterm_exits():
        video = annotate_video(analysis.path, args.annotate, annotations, progress=ProgressBar("annotate"))
    audio = "audio kept" if video.audio else "no audio"
    return (
        f"annotated video: {video.path} ({video.frame_count} frames at {video.fps:.2f} fps, "
        f"{video.width}x{video.height}, {audio})"
    )


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Makes SIGTERM (a `kill`, `timeout`, a service stopping) exit like Ctrl-C does: through the
    clean-up that deletes the partial video, instead of ending the process on the spot."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_now(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
