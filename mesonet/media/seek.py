"""Seeking in long videos: sparse samples without decoding everything in between.

`mesonet.media.video.iter_frames` decodes sequentially from the first frame, which is exact but
costs the whole video up to the last sample: 30 frames of a 10-minute 1080p video decode all
18,000 frames. When the samples are far apart (`wants_seeking`), each one is read by its own
short ffmpeg run that seeks first:

- keyframe seek (`-skip_frame nokey -noaccurate_seek -ss T`): the container jumps to the
  keyframe at or before T and only that picture is decoded. Cheapest (one picture), and
  phone videos have a keyframe about every second.
- accurate seek (`-ss T`): the keyframe before T, then every picture up to T, which is
  output. Exactly the sampled frame, at the cost of up to one keyframe interval.

Each sample takes the keyframe when it lies within half a sample spacing of the target (and
after the previous sample), else the accurate seek: "whichever is enough" per sample, so a
file with sparse keyframes still gets evenly spread, distinct frames.

Every frame reports the index and time of the picture actually decoded: ffmpeg's showinfo
filter prints its timestamp (kept as in the file with `-copyts`), and its index is
round((timestamp - first frame's timestamp) * fps), as everywhere in `mesonet.media.video` (exact
for constant-frame-rate video, nominal for variable rate).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from mesonet.errors import MediaError
from mesonet.media.ffmpeg import (
    PROBE_TIMEOUT_S,
    SHOWINFO_TIME,
    VIDEO_HINT,
    VideoFrame,
    VideoInfo,
    ffmpeg_input,
    ffmpeg_reason,
    frame_from_bytes,
)

# One seek costs an ffmpeg start, the container seek and one decoded picture, about 0.1-0.2 s
# whatever the frame size, while decoding and dropping a frame costs in proportion to its
# pixels: about 2.7 ms at 1080p on the 2-core machine, so one seek is worth about 60 frames of
# 1080p (and about 1,600 frames of 320x240). Seek only when the samples are further apart, on
# average, than that many pixels of video (benchmarks/bench_pipeline.py, section "seek").
SEEK_MIN_GAP_PIXELS = 60 * 1920 * 1080
# A time range that starts later than this many frames begins with a seek.
START_SEEK_MIN_FRAMES = 60

_FORMAT_START = re.compile(r"Duration: [^,]*, start: (-?[\d.]+)")


class Timeline(NamedTuple):
    """Where frame 0 is, for turning frame indices into seek positions and back.

    Attributes:
        first_pts_s: timestamp of the first video frame, as stored in the file, in seconds.
        format_start_s: the container's start time (the origin of `-ss` positions), in seconds.
    """

    first_pts_s: float
    format_start_s: float

    def seek_position(self, frame_time_s: float) -> float:
        """The `-ss` position, in seconds, of a time measured from the first video frame."""
        return max(0.0, self.first_pts_s - self.format_start_s + frame_time_s)


def gap_pixels(wanted: Sequence[int], info: VideoInfo) -> float:
    """The pixels decoded, on average, to get from one sorted wanted frame to the next (from the
    start, for one frame): what decoding through costs per sample."""
    gap_frames = wanted[0] if len(wanted) == 1 else (wanted[-1] - wanted[0]) / (len(wanted) - 1)
    return gap_frames * info.width * info.height


def wants_seeking(wanted: Sequence[int], info: VideoInfo) -> bool:
    """True when sorted frame indices are so far apart that seeking to each beats decoding through."""
    return bool(wanted) and gap_pixels(wanted, info) >= SEEK_MIN_GAP_PIXELS


def timeline(path: Path) -> Timeline:
    """Reads the first video frame's timestamp and the container's start (one short ffmpeg run)."""
    log = _run(path, [], ["-vf", "showinfo", "-f", "null", "-"])[1]
    times = SHOWINFO_TIME.findall(log)
    start = _FORMAT_START.search(log)
    if not times:
        raise MediaError(f"{path.name}: ffmpeg decoded no video frame. {VIDEO_HINT}")
    return Timeline(float(times[0]), float(start.group(1)) if start else 0.0)


def start_seek_params(path: Path, first_index: int, info: VideoInfo) -> list[str]:
    """ffmpeg input options that start decoding exactly at frame `first_index` (accurate seek).

    Empty when the frame is near the start: decoding from the start is then as cheap.
    """
    if first_index < START_SEEK_MIN_FRAMES:
        return []
    # Half a frame early: the first picture at or after that time is frame `first_index`.
    return ["-ss", f"{timeline(path).seek_position((first_index - 0.5) / info.fps):.6f}"]


def iter_seeked_frames(path: Path, wanted: Sequence[int], info: VideoInfo) -> Iterator[VideoFrame]:
    """Decodes one frame per wanted index by seeking; see the module docstring.

    The next sample's ffmpeg starts before the current frame is handed over, so seeking and
    decoding overlap with the caller's work on the previous frame.

    Args:
        path: a video file.
        wanted: sorted, distinct frame indices within the video.
        info: the video's VideoInfo.

    Yields:
        VideoFrame for each sample, with the index and time of the picture decoded (a
        keyframe near the target, or the target itself); strictly increasing indices.

    Raises:
        MediaError: ffmpeg could not seek or decode.
    """
    if not wanted:
        return
    line = timeline(path)
    spacing = [b - a for a, b in zip(wanted, wanted[1:])] or [wanted[0] + 1]
    previous = -1
    pending = _start_keyframe_seek(path, line, wanted[0], info)
    try:
        for k, target in enumerate(wanted):
            current = pending
            pending = _start_keyframe_seek(path, line, wanted[k + 1], info) if k + 1 < len(wanted) else None
            frame = _finish(path, current, line, info)
            near = min(spacing[max(k - 1, 0)], spacing[min(k, len(spacing) - 1)]) // 2
            if frame is None or not previous < frame.frame_index <= target or target - frame.frame_index > near:
                exact = _start(path, line, target, info, keyframe=False)
                frame = _finish(path, exact, line, info)
            if frame is not None and frame.frame_index > previous:
                previous = frame.frame_index
                yield frame
    finally:
        if pending is not None:
            pending.kill()
            pending.communicate()


def _start_keyframe_seek(path: Path, line: Timeline, index: int, info: VideoInfo) -> subprocess.Popen:
    return _start(path, line, index, info, keyframe=True)


def _start(path: Path, line: Timeline, index: int, info: VideoInfo, *, keyframe: bool) -> subprocess.Popen:
    """Starts ffmpeg on the keyframe at or before frame `index` (keyframe) or on the frame itself."""
    if keyframe:
        # Half a frame late, so a keyframe at exactly `index` is not missed by rounding.
        options = [
            "-skip_frame",
            "nokey",
            "-noaccurate_seek",
            "-ss",
            f"{line.seek_position((index + 0.5) / info.fps):.6f}",
        ]
    else:
        options = ["-ss", f"{line.seek_position((index - 0.5) / info.fps):.6f}"]
    output = ["-frames:v", "1", "-vf", "showinfo", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    return subprocess.Popen(
        _command(path, options, output), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _finish(path: Path, process: subprocess.Popen, line: Timeline, info: VideoInfo) -> VideoFrame | None:
    """Collects one seek's picture; None when there was none (a target past the last keyframe)."""
    try:
        raw, log_bytes = process.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.communicate()
        raise MediaError(
            f"{path.name}: seeking in the video took longer than {PROBE_TIMEOUT_S:.0f} s. "
            "Check the file is on a local disk and not damaged."
        ) from exc
    log = log_bytes.decode("utf-8", errors="replace")
    if process.returncode != 0:
        raise MediaError(f"{path.name}: seeking in the video failed ({ffmpeg_reason(path, log)}). {VIDEO_HINT}")
    times = SHOWINFO_TIME.findall(log)
    shape = (info.height, info.width, 3)
    if not raw or not times:
        return None
    if len(raw) != shape[0] * shape[1] * 3:
        raise MediaError(f"{path.name}: a seeked frame has an unexpected size. {VIDEO_HINT}")
    index = max(0, round((float(times[0]) - line.first_pts_s) * info.fps))
    return VideoFrame(index, index / info.fps, frame_from_bytes(raw, shape))


def _run(path: Path, input_options: list[str], output: list[str]) -> tuple[bytes, str]:
    done = subprocess.run(
        _command(path, input_options, ["-frames:v", "1", *output]),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PROBE_TIMEOUT_S,
    )
    log = done.stderr.decode("utf-8", errors="replace")
    if done.returncode != 0:
        raise MediaError(f"{path.name}: not a video ffmpeg can read ({ffmpeg_reason(path, log)}). {VIDEO_HINT}")
    return done.stdout, log


def _command(path: Path, input_options: list[str], output: list[str]) -> list[str]:
    import imageio_ffmpeg

    # Only the file itself, through real container demuxers (video.ffmpeg_input); -copyts keeps the
    # file's timestamps, so showinfo prints where the picture really is.
    safe_options, url = ffmpeg_input(path)
    return [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        *safe_options,
        "-nostats",
        "-copyts",
        *input_options,
        "-i",
        url,
        "-map",
        "0:V:0",
        *output,
    ]
