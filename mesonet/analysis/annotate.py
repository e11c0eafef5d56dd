"""The annotated video: a copy of a clip with each face's box and P(fake), and a timeline strip.

`mesonet detect CLIP --annotate OUT.mp4` and the Analyse page's "Annotated video" make it.

- Every frame of the source, at its frame rate, over its duration; the source's audio is kept
  (copied when browsers play it in MP4, AAC or MP3, else encoded to AAC) and stays in sync
  (a video track that starts later than the audio starts as late in the copy). Frames are
  evenly spaced at the rate ffmpeg reports: a variable-frame-rate video keeps its length, and
  its frames their timing to within the rate's variation.
- Each face's box and label in the verdict's colour (`mesonet.analysis.draw`), and above the
  video a strip of P(fake) along the video, revealed up to the current frame (above: a paused
  player's controls cover the picture's bottom).
- Which boxes a frame shows: those of the nearest analysed frame (by time), within the time
  range the analysis covered; `score_every_frame` analyses every frame instead.
- H.264, yuv420p, BT.709, `+faststart` (the index before the data): plays in every browser, and
  starts playing before it has fully downloaded. Frames longer than `MAX_SIDE_PX` on their
  longer side are scaled down to it.
- Streaming, so memory does not grow with the video's length: one ffmpeg decodes the source to
  raw RGB frames, each is drawn on and piped into a second ffmpeg that encodes. Both open the
  user's file through the same safe input as everything else (`mesonet.media.ffmpeg`: the file
  protocol and real containers only) and are bounded in CPU time (`mesonet.config.max_decode_s`).
- The file appears only when complete: it is written under a hidden temporary name in the
  destination folder and renamed at the end; any failure or cancel deletes the partial file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING

from PIL import Image

from mesonet import config
from mesonet.analysis.draw import Annotations, FramePainter, ScoredFrame
from mesonet.errors import AnnotateError, CancelledError, MediaError
from mesonet.faces.detect import DEFAULT_DETECTOR
from mesonet.media.ffmpeg import BROWSER_H264, VIDEO_HINT, VideoInfo, ffmpeg_input, ffmpeg_reason, probe_video
from mesonet.media.video import FrameSampling, sampling_range

if TYPE_CHECKING:
    pass

Progress = Callable[[int, int], None]

MAX_SIDE_PX = 1920
# Frames analysed per worker job by `score_every_frame`: the crops of one window (about 200 kB
# a face) are all it holds at a time.
EVERY_FRAME_WINDOW = 240
# Audio codecs every browser plays in MP4: copied as they are; anything else is encoded to AAC.
_BROWSER_AUDIO = ("aac", "mp3")
# A decode that ends before this share of the probed frames means a damaged file.
_MIN_DECODED_SHARE = 0.9
_TRUNCATED = "partial file"


@dataclass(frozen=True)
class AnnotatedVideo:
    """An annotated video that was written.

    Attributes:
        path: the MP4 file.
        frame_count: frames written.
        fps: frames per second (the source's).
        width, height: the frame size in pixels, strip included.
        audio: whether the source's audio was kept (False when it had none).
        seconds: how long making it took.
    """

    path: Path
    frame_count: int
    fps: float
    width: int
    height: int
    audio: bool
    seconds: float


def check_output_path(out: str | Path, *, source: str | Path | None = None) -> Path:
    """Refuses an output path that cannot take the annotated video, before any work is done.

    Raises:
        AnnotateError: not a .mp4 name, a folder, in a folder that does not exist, or the source itself.
    """
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise AnnotateError(f"{out.name}: the annotated video is an MP4 file; give a name ending in .mp4.")
    if out.is_dir():
        raise AnnotateError(f"{out}: is a folder; give a file name ending in .mp4.")
    if not out.parent.is_dir():
        raise AnnotateError(f"{out.parent}: no such folder for the annotated video. Create it or choose another path.")
    if source is not None and (
        out.resolve() == Path(source).resolve() or (out.exists() and os.path.samefile(out, source))
    ):
        raise AnnotateError(f"{out.name}: is the video being annotated; choose another name so the original is kept.")
    return out


def output_size(width: int, height: int) -> tuple[int, int]:
    """The annotated video's frame size (strip excluded): even, at most MAX_SIDE_PX on the longer side."""
    scale = min(1.0, MAX_SIDE_PX / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def frame_rate(fps: float) -> Fraction:
    """The exact rate to encode at: ffmpeg reports NTSC rates rounded (29.97 for 30000/1001)."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 0.006 and abs(fps - ntsc) > 0.006:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def check_length(source: Path, frames: int, fps: float) -> None:
    """Refuses a video range longer than the server's cap (`config.max_annotated_frames`), before any work."""
    cap = config.max_annotated_frames()
    if frames > cap:
        raise AnnotateError(
            f"{source.name}: {frames:,} frames ({frames / fps / 60:.1f} minutes) is more than an annotated video "
            f"may cover here ({cap:,} frames, {cap / fps / 60:.1f} minutes at its frame rate). Choose a shorter "
            "range (start and end) and try again."
        )


def check_budget(source: Path, started: float) -> None:
    """Stops work that has run longer than the server's budget (`config.annotate_max_s`)."""
    budget = config.annotate_max_s()
    if time.perf_counter() - started > budget:
        raise AnnotateError(
            f"{source.name}: the annotated video took longer than {budget / 60:.0f} minutes, this server's limit, "
            "and was stopped. Choose a shorter range and try again."
        )


def annotate_video(
    source: str | Path,
    out: str | Path,
    annotations: Annotations,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> AnnotatedVideo:
    """Writes the annotated copy of a video (see the module docstring).

    Args:
        source: the video that was analysed.
        out: the MP4 file to write (replaced if it exists; appears only when complete).
        annotations: the faces and scores to draw (`Annotations.from_analysis`, `score_every_frame`).
        progress: called with (frames written, frames in the video) after each frame.
        cancel: set it from another thread to stop between frames (raises CancelledError).

    Returns:
        What was written.

    Raises:
        MediaError: the source cannot be read or decoded to the end.
        AnnotateError: a wrong output path, the analysis is of another video, or encoding failed.
        CancelledError: `cancel` was set.
    """
    start = time.perf_counter()
    source = Path(source)
    out = check_output_path(out, source=source)
    info = probe_video(source)
    check_length(source, info.frame_count, info.fps)
    if annotations.frame_size is not None and annotations.frame_size != (info.width, info.height):
        width, height = annotations.frame_size
        raise AnnotateError(
            f"{source.name}: its frames are {info.width}x{info.height} pixels but the analysis was of "
            f"{width}x{height} frames; annotate the video that was analysed."
        )
    width, height = output_size(info.width, info.height)
    painter = FramePainter(annotations, info, (width, height))
    rate = frame_rate(info.fps)
    # A hidden name of its own in the destination folder, so the final rename is atomic. Created
    # here (as any new file, with the user's umask) to find an unwritable folder before any work.
    partial = out.parent / f".{out.stem}.{uuid.uuid4().hex[:12]}.part.mp4"
    try:
        partial.open("xb").close()
    except OSError as exc:
        raise AnnotateError(f"{out.parent}: cannot write the annotated video there ({exc.strerror}).") from exc
    try:
        written = _render(source, partial, info, painter, rate, progress, cancel)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)  # never a half-written file, whatever stopped the work
        raise
    height += painter.strip.height
    return AnnotatedVideo(
        out, written, float(rate), width, height, info.audio_codec is not None, time.perf_counter() - start
    )


def _render(
    source: Path,
    partial: Path,
    info: VideoInfo,
    painter: FramePainter,
    rate: Fraction,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> int:
    """Runs the decoder and the encoder, piping painted frames from one to the other; returns the frames written.

    Raises:
        MediaError: the decoder failed, or stopped well before the end of the video.
        AnnotateError: the encoder failed.
    """
    canvas_size = (painter.width, painter.height + painter.strip.height)
    offset = _video_start_s(source) if info.audio_codec else 0.0
    decode = decoder_command(source, info, (painter.width, painter.height))
    encode = encoder_command(source, info, canvas_size, rate, offset, partial)
    with (
        tempfile.TemporaryFile() as decoder_log,
        tempfile.TemporaryFile() as encoder_log,
        _running(decode, stdout=subprocess.PIPE, stderr=decoder_log) as decoder,
        _running(encode, stdin=subprocess.PIPE, stderr=encoder_log) as encoder,
    ):
        written = _pipe_frames(
            source, decoder, encoder, painter, canvas_size, encoder_log, info.frame_count, progress, cancel
        )
        decoder.wait()
        log = _text(decoder_log)
        # "partial file": the container's data ends early (a cut download); the probe then counts
        # only the frames that are there, so the count alone does not tell.
        if decoder.returncode != 0 or written < _MIN_DECODED_SHARE * info.frame_count or _TRUNCATED in log:
            raise MediaError(_decode_failure(source, decoder.returncode, log, written, info.frame_count))
        encoder.stdin.close()
        if encoder.wait() != 0:
            raise AnnotateError(f"encoding the annotated video failed ({_encoder_reason(encoder_log)}).")
    return written


@contextlib.contextmanager
def _running(command: list[str], **streams: object) -> Iterator[subprocess.Popen]:
    """Runs a command for the `with` block; kills it if it still runs at the end (an error, a cancel)."""
    process = subprocess.Popen(command, **({"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL} | streams))
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a killed encoder's stdin cannot be flushed
                    stream.close()


def _pipe_frames(
    source: Path,
    decoder: subprocess.Popen,
    encoder: subprocess.Popen,
    painter: FramePainter,
    canvas_size: tuple[int, int],
    encoder_log: IO[bytes],
    total: int,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> int:
    """Reads each decoded frame, paints it and sends it to the encoder; returns the frames sent.

    One canvas is reused: the strip covers its rows at the top and each frame the video's rows below.
    """
    frame_bytes = painter.width * painter.height * 3
    canvas = Image.new("RGB", canvas_size)
    written = 0
    started = time.perf_counter()
    while True:
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"{source.name}: annotated video cancelled after {written} of {total} frames.")
        check_budget(source, started)
        raw = decoder.stdout.read(frame_bytes)
        if len(raw) < frame_bytes:
            return written  # the end (a partial last frame is dropped)
        canvas.paste(
            Image.frombuffer("RGB", (painter.width, painter.height), raw, "raw", "RGB", 0, 1), (0, painter.video_top)
        )
        painter.paint(canvas, written)
        try:
            encoder.stdin.write(canvas.tobytes())
        except BrokenPipeError as exc:
            encoder.wait()
            raise AnnotateError(f"encoding the annotated video failed ({_encoder_reason(encoder_log)}).") from exc
        written += 1
        if progress is not None:
            progress(min(written, total), total)


def _ffmpeg_command() -> list[str]:
    """ffmpeg with errors only in its log, bounded in CPU time like every decode of a user's file."""
    import imageio_ffmpeg

    limit = f"{config.max_decode_s():.0f}"
    return [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-nostats",
        "-timelimit",
        limit,
    ]


def decoder_command(source: Path, info: VideoInfo, size: tuple[int, int]) -> list[str]:
    options, url = ffmpeg_input(source)
    scale = [] if size == (info.width, info.height) else ["-vf", f"scale={size[0]}:{size[1]}:flags=area"]
    return [
        *_ffmpeg_command(),
        *options,
        "-i",
        url,
        # passthrough: one output frame per decoded frame, as everywhere in mesonet.media.video.
        *["-map", "0:V:0", "-fps_mode", "passthrough", *scale, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    ]


def encoder_command(
    source: Path, info: VideoInfo, size: tuple[int, int], rate: Fraction, offset_s: float, partial: Path
) -> list[str]:
    frames = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-framerate", str(rate)]
    if offset_s > 0:
        frames += ["-itsoffset", f"{offset_s:.6f}"]
    audio_input: list[str] = []
    audio_output: list[str] = []
    if info.audio_codec is not None:
        # The source again, through the same safe input options, for its first audio stream only.
        options, url = ffmpeg_input(source)
        audio_input = [*options, "-i", url]
        codec = ["-c:a", "copy"] if info.audio_codec in _BROWSER_AUDIO else ["-c:a", "aac", "-b:a", "160k"]
        audio_output = ["-map", "1:a:0", *codec]
    return [
        *_ffmpeg_command(),
        *frames,
        "-i",
        "pipe:0",
        *audio_input,
        "-map",
        "0:v:0",
        *BROWSER_H264,
        *audio_output,
        *["-f", "mp4", "-y", f"file:{partial}"],
    ]


def _video_start_s(source: Path) -> float:
    """How long after the container's start the first video frame comes (0 when it comes first)."""
    from mesonet.media.seek import timeline

    line = timeline(source)
    return max(0.0, line.first_pts_s - line.format_start_s)


def _text(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")


def _encoder_reason(log: IO[bytes]) -> str:
    lines = [line.strip() for line in _text(log).splitlines() if line.strip()]
    return lines[0] if lines else "the encoder stopped"


def _decode_failure(source: Path, returncode: int, log: str, written: int, expected: int) -> str:
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return (
            f"{source.name}: decoding took longer than {config.max_decode_s():.0f} s of CPU time and was stopped "
            f"after {written} of {expected} frames. Annotate a shorter or smaller video."
        )
    if returncode != 0:
        reason = ffmpeg_reason(source, log)
        return f"{source.name}: decoding failed after {written} of {expected} frames ({reason}). {VIDEO_HINT}"
    if _TRUNCATED in log:
        return (
            f"{source.name}: the file is cut short: only its first {written} frames could be read. "
            "Re-export or download it again."
        )
    return (
        f"{source.name}: only {written} of its {expected} frames could be decoded; the file may be damaged or "
        "incomplete: re-export or download it again."
    )


def score_every_frame(
    source: str | Path,
    classifier,
    *,
    threshold: float,
    all_faces: bool = False,
    detector: str = DEFAULT_DETECTOR,
    start_s: float | None = None,
    end_s: float | None = None,
    extract: Callable[..., object] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    window_frames: int = EVERY_FRAME_WINDOW,
) -> Annotations:
    """Finds and scores the faces of every frame, for an annotated video without carried boxes.

    Works through the video `window_frames` frames at a time and keeps only boxes and scores, so
    memory stays flat however long the video (the crops of one window at a time).

    Args:
        source: the video.
        classifier: a Classifier or Ensemble (anything `score_extraction` takes).
        threshold: P(fake) at or above which a face is fake.
        all_faces: follow every face (numbered as tracks across the whole video), else the largest.
        detector: one of mesonet.faces.detect.DETECTORS.
        start_s, end_s: the time range to score (default: the whole video).
        extract: runs one window's extraction, like `extract_faces_from_media` (the default, in this
            process) or a `WorkerPool.extract`.
        progress: called with (frames done, frames to score).
        cancel: set it from another thread to stop (raises CancelledError).
        window_frames: frames per extraction.

    Raises:
        MediaError, InvalidSamplingError, CancelledError: as `extract_faces_from_media`.
    """
    from mesonet.analysis.pipeline import extract_faces_from_media, score_extraction
    from mesonet.faces.detect import match_tracks

    extract = extract or extract_faces_from_media
    source = Path(source)
    info = probe_video(source)
    first, stop = sampling_range(info, FrameSampling(start_s=start_s, end_s=end_s))
    check_length(source, stop - first, info.fps)
    started = time.perf_counter()
    frames: list[ScoredFrame] = []
    tracks: list = []
    for window_start in range(first, stop, window_frames):
        check_budget(source, started)
        window_stop = min(stop, window_start + window_frames)
        sampling = FrameSampling(mode="all", start_s=window_start / info.fps, end_s=window_stop / info.fps)
        done = window_start - first

        def window_progress(frames_done: int, _: int, done: int = done) -> None:
            if progress is not None:
                progress(done + frames_done, stop - first)

        extraction = extract(
            source, sampling=sampling, all_faces=all_faces, detector=detector, progress=window_progress, cancel=cancel
        )
        by_frame = score_extraction(extraction, classifier, threshold=threshold).faces_by_frame()
        for frame in extraction.frames:
            faces = by_frame.get(frame.frame_index, [])
            if all_faces:
                # Track ids restart in each window: number the faces across the whole video instead.
                track_ids, tracks = match_tracks(tracks, [face.box for face in faces])
                faces = [replace(face, track_id=track_id) for face, track_id in zip(faces, track_ids)]
            frames.append(ScoredFrame(frame.frame_index, tuple(faces)))
        del extraction, by_frame  # the window's crops go before the next window's come
    return Annotations(tuple(frames), threshold, first, stop, (info.width, info.height))
