"""Reading videos: metadata, which frames to sample, and decoding them as uint8 RGB.

Frames are numbered 0, 1, 2, ... in the order the decoder outputs them (ffmpeg with
``-fps_mode passthrough``: no frame is duplicated or dropped to fit a constant rate, so
index k is the k-th picture stored in the file). A frame's time is ``index / fps`` seconds
from the first video frame: exact for constant-frame-rate video, nominal for variable rate.
Frames come out upright: ffmpeg applies the rotation stored in the file's metadata, and
`VideoInfo.width` / `height` describe the upright frame.

A user's file is untrusted: ffmpeg only opens the file itself (no other protocol) with the
demuxer of a real media container (`_ALLOWED_DEMUXERS`), so a playlist or manifest (HLS, DASH,
concat lists, image sequences) renamed to .mp4 cannot make it read other files of the server;
such text files are refused before ffmpeg sees them. Frames larger than the pixel budget
(`mesonet.config.max_pixels`) are refused from the header, and decoding is bounded in CPU time
(`mesonet.config.max_decode_s`).

Every failure to read a user's file raises `MediaError` with a one-line message that says
what is wrong and what to do. Photos, and the one entry point for any media file
(`iter_media_frames`), are in `mesonet.media.images`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mesonet.errors import InvalidSamplingError, MediaError, first_line
from mesonet.media import reference_frames, seek
from mesonet.media.ffmpeg import (
    VIDEO_HINT,
    VideoFrame,
    VideoInfo,
    decode_time_limit,
    decoding_failed,
    ffmpeg_input,
    frame_from_bytes,
    probe_video,
)

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp"}
)

# Decoding on one thread keeps up with the analysis of each sample while the samples are at
# most about 20 frames of 720p apart (one_decoder_thread_keeps_up).
ONE_THREAD_MAX_GAP_PIXELS = 20 * 1280 * 720
# A select expression with one term per irregular wanted frame stays fast up to a few hundred
# terms; beyond that, converting every frame and picking in Python is simpler.
_MAX_SELECT_TERMS = 300


class _RotatedSizeFilter(logging.Filter):
    """Drops imageio-ffmpeg's warning that a rotated video's frames differ in size from the stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


_ROTATED_SIZE_FILTER = _RotatedSizeFilter()


@dataclass(frozen=True)
class FrameSampling:
    """Which frames of a video to look at.

    Attributes:
        mode: "even" picks `n_frames` frames spread evenly over the range; "every" picks every
            `every`-th frame of the range, starting with its first frame; "all" picks them all.
        n_frames: number of frames for mode "even" (fewer when the range has fewer frames).
        every: step, in frames, for mode "every".
        start_s: start of the range in seconds (inclusive); None means the first frame.
        end_s: end of the range in seconds (exclusive); None means the end of the video.
        max_frames: upper bound on the number of frames, applied last by thinning evenly.
        exact: decode every frame from the first on, so every frame is exactly the sampled
            index (reproducible whatever the file's keyframes and B-frames). False (the default)
            saves decoding: a sparse sample becomes the keyframe at or before it (or the exact
            frame when that keyframe is far), samples at least 4 frames apart become the first
            reference picture at or after them (the sampled frame or the next one, with x264's
            defaults: `mesonet.media.reference_frames`), and a time range starts with a seek.
            Either way each VideoFrame reports the index and time of the frame actually decoded.

    Raises:
        InvalidSamplingError: an option is out of range.
    """

    mode: Literal["even", "every", "all"] = "even"
    n_frames: int = 30
    every: int = 1
    start_s: float | None = None
    end_s: float | None = None
    max_frames: int | None = None
    exact: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("even", "every", "all"):
            raise InvalidSamplingError(f"Frame sampling mode {self.mode!r} is unknown: use 'even', 'every' or 'all'.")
        if self.n_frames < 1:
            raise InvalidSamplingError(f"Number of frames must be at least 1, got {self.n_frames}.")
        if self.every < 1:
            raise InvalidSamplingError(f"Frame step must be at least 1, got {self.every}.")
        if self.max_frames is not None and self.max_frames < 1:
            raise InvalidSamplingError(f"Maximum number of frames must be at least 1, got {self.max_frames}.")
        if self.start_s is not None and not self.start_s >= 0:
            raise InvalidSamplingError(f"Start time must be 0 s or later, got {self.start_s} s.")
        if self.end_s is not None and not self.end_s > (self.start_s or 0.0):
            raise InvalidSamplingError(
                f"End time ({self.end_s} s) must be after the start time ({self.start_s or 0.0} s)."
            )


def sample_frame_indices(
    info_or_count: VideoInfo | int, sampling: FrameSampling, *, fps: float | None = None
) -> list[int]:
    """Chooses the frame indices to analyse. Pure and deterministic.

    The range is the frames whose time (index / fps) lies in [start_s, end_s), clipped to the
    video. Within a range of n frames [first, first + n):
      - "even": the frame at the middle of each of N equal segments,
        first + floor((k + 0.5) * n / N) for k = 0..N-1 (all n frames when n <= N). Middles,
        not ends: first and last frames are often fades or cuts.
      - "every": first, first + every, first + 2 * every, ...
      - "all": every frame.
    Then, if more than `max_frames` remain, the same middle-of-segment rule keeps
    `max_frames` of them, spread evenly.

    Args:
        info_or_count: the video's VideoInfo, or its frame count.
        sampling: the options.
        fps: frame rate, needed with a plain count when start_s or end_s is set.

    Returns:
        Sorted, distinct frame indices.

    Raises:
        InvalidSamplingError: the time range selects no frame of this video.
    """
    first, stop = sampling_range(info_or_count, sampling, fps=fps)
    n = stop - first
    if n <= 0:
        return []
    if sampling.mode == "even":
        indices = [first + i for i in _spread(n, sampling.n_frames)]
    elif sampling.mode == "every":
        indices = list(range(first, stop, sampling.every))
    else:
        indices = list(range(first, stop))
    if sampling.max_frames is not None and len(indices) > sampling.max_frames:
        indices = [indices[i] for i in _spread(len(indices), sampling.max_frames)]
    return indices


def sampling_range(
    info_or_count: VideoInfo | int, sampling: FrameSampling, *, fps: float | None = None
) -> tuple[int, int]:
    """The frames [first, stop) whose time (index / fps) lies in the sampling's [start_s, end_s).

    Clipped to the video: (0, frame count) without a time range, (0, 0) for a video without frames.

    Raises:
        InvalidSamplingError: the time range selects no frame of this video, or it needs the
            frame rate and none was given.
    """
    if isinstance(info_or_count, VideoInfo):
        count, fps = info_or_count.frame_count, info_or_count.fps if fps is None else fps
    else:
        count = int(info_or_count)
    if count <= 0:
        return 0, 0
    first, stop = 0, count
    if sampling.start_s is not None or sampling.end_s is not None:
        if not fps or fps <= 0:
            raise InvalidSamplingError("A time range needs the video's frame rate: pass a VideoInfo or fps.")
        # The small epsilon keeps a time that falls exactly on a frame from rounding past it.
        if sampling.start_s is not None:
            first = max(0, math.ceil(sampling.start_s * fps - 1e-6))
        if sampling.end_s is not None:
            stop = min(count, math.ceil(sampling.end_s * fps - 1e-6))
        if first >= stop:
            end = "end" if sampling.end_s is None else f"{sampling.end_s:g}"
            raise InvalidSamplingError(
                f"The time range {sampling.start_s or 0.0:g}-{end} s holds no frame of this {count / fps:.2f} s "
                "video: choose a range inside the video."
            )
    return first, stop


def _spread(n: int, k: int) -> list[int]:
    """k positions out of range(n) at the middles of k equal segments (all of them if n <= k)."""
    if n <= k:
        return list(range(n))
    # Integer arithmetic: floor((i + 0.5) * n / k) without floating-point surprises.
    return [((2 * i + 1) * n) // (2 * k) for i in range(k)]


def iter_frames(
    path: str | Path, indices: Sequence[int], *, info: VideoInfo | None = None, exact: bool = True
) -> Iterator[VideoFrame]:
    """Decodes the wanted frames of a video, in order, streaming.

    One ffmpeg process decodes the video sequentially from the start (exact frames, no
    seeking) up to the last wanted frame and stops there. Frames in between are decoded but,
    thanks to ffmpeg's `select` filter, never converted to RGB nor copied to Python: for
    30 frames of a 720p clip this is about 2x faster than reading every frame. Only one frame
    is in memory at a time. ffmpeg runs in its own process, so it decodes ahead while the
    caller works on the previous frame.

    With exact=False, samples far apart are read by seeking instead (`mesonet.media.seek`):
    a keyframe near each target, or the target itself; samples at least 4 frames apart from the
    start of the video skip the pictures nothing refers to (`mesonet.media.reference_frames`); and
    decoding starts with a seek to the first wanted frame when that is far from the start.

    Args:
        path: a video file.
        indices: frame indices (from 0) to decode; sorted and deduplicated here. Indices past
            the end of the video are silently skipped.
        info: the video's VideoInfo, if already probed (saves one ffmpeg run).
        exact: decode every wanted frame exactly, from the start (see FrameSampling.exact).

    Yields:
        VideoFrame(frame_index, time_s, rgb): the index and time of the frame decoded, and rgb
        a uint8 array of shape (H, W, 3), upright (rotation metadata applied).

    Raises:
        MediaError: the video cannot be decoded.
        ValueError: a negative index.
    """
    import imageio_ffmpeg

    path = Path(path)
    wanted = sorted(set(int(i) for i in indices))
    if wanted and wanted[0] < 0:
        raise ValueError(f"Frame indices must be 0 or more, got {wanted[0]}.")
    info = info or probe_video(path)
    wanted = [i for i in wanted if i < info.frame_count]
    if not wanted:
        return
    first = 0
    input_params: list[str] = []
    one_thread = one_decoder_thread_keeps_up(wanted, info)
    if not exact:
        if seek.wants_seeking(wanted, info):
            yield from seek.iter_seeked_frames(path, wanted, info)
            return
        seek_params = seek.start_seek_params(path, wanted[0], info)
        if not seek_params and reference_frames.spaced_enough(wanted):
            yield from reference_frames.iter_reference_frames(path, wanted, info, one_thread=one_thread)
            return
        if seek_params:
            # Output frame n is then frame first + n.
            first, input_params = wanted[0], [*input_params, *seek_params]

    # passthrough: one output frame per decoded frame. The default for a pipe is constant
    # frame rate, which duplicates frames to fill gaps (e.g. 25 copies of the first frame when
    # the video stream starts 0.85 s after the audio) and would shift every index.
    output_params = ["-map", "0:V:0", "-fps_mode", "passthrough"]
    expression = _select_expression([i - first for i in wanted])
    if expression is not None:
        # -frames:v makes ffmpeg stop by itself after the last wanted frame.
        output_params += ["-vf", f"select='{expression}'", "-frames:v", str(len(wanted))]
    else:
        output_params += ["-frames:v", str(wanted[-1] - first + 1)]

    # That warning is expected for rotated videos; adding the same filter twice is a no-op.
    logging.getLogger("imageio_ffmpeg").addFilter(_ROTATED_SIZE_FILTER)
    options, url = ffmpeg_input(path)
    options += decode_time_limit()
    if one_thread and not first:  # after a seek, decoding up to the first sample is the wait
        options += ["-threads", "1"]
    started = time.monotonic()
    try:
        reader = imageio_ffmpeg.read_frames(url, input_params=[*options, *input_params], output_params=output_params)
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise MediaError(f"{path.name}: not a video ffmpeg can read ({first_line(exc)}). {VIDEO_HINT}") from exc
    width, height = meta["size"]
    shape = (height, width, 3)
    try:
        if expression is not None:
            for frame_index, raw in zip(wanted, reader):
                yield VideoFrame(frame_index, frame_index / info.fps, frame_from_bytes(raw, shape))
        else:
            want = set(wanted)
            for frame_index, raw in enumerate(reader, start=first):
                if frame_index in want:
                    yield VideoFrame(frame_index, frame_index / info.fps, frame_from_bytes(raw, shape))
                if frame_index >= wanted[-1]:
                    break
    except (OSError, RuntimeError) as exc:
        raise decoding_failed(path, first_line(exc), started=started) from exc
    finally:
        # Stops ffmpeg at once when the caller leaves early.
        reader.close()


def one_decoder_thread_keeps_up(wanted: list[int], info: VideoInfo) -> bool:
    """Whether one ffmpeg thread decodes the frames between two samples while the caller analyses
    a sample (dense samples; from the first frame on, ffmpeg's threads cost CPU in hand-offs).

    On the 2-core machine, 30 samples of 13-s and 17-s 720p clips (13 and 17 frames apart): 0.07-0.13
    CPU s less per clip on one thread, and as fast or faster; a 23-s 1080p clip (19 frames apart, 2.2
    times the pixels) was 5% slower on one.
    Sparser samples, and seeks, keep ffmpeg's threads: there the decoding is the wait.
    """
    return seek.gap_pixels(wanted, info) <= ONE_THREAD_MAX_GAP_PIXELS


def _select_expression(wanted: list[int]) -> str | None:
    """An ffmpeg `select` expression true exactly for the wanted frame numbers n.

    None when it would need more than _MAX_SELECT_TERMS terms (irregular indices).
    """
    first, last = wanted[0], wanted[-1]
    if len(wanted) == last - first + 1:
        return f"between(n,{first},{last})"
    steps = {b - a for a, b in zip(wanted, wanted[1:])}
    if len(steps) == 1:
        return f"between(n,{first},{last})*not(mod(n-{first},{steps.pop()}))"
    if len(wanted) > _MAX_SELECT_TERMS:
        return None
    return "+".join(f"eq(n,{i})" for i in wanted)
