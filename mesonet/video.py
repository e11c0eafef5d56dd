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
(`iter_media_frames`), are in `mesonet.media`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from mesonet import config
from mesonet.errors import InvalidSamplingError, MediaError, first_line

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp"}
)

_VIDEO_HINT = "Check the file is a complete MP4/MOV/AVI/MKV/WebM video."
# A select expression with one term per irregular wanted frame stays fast up to a few hundred
# terms; beyond that, converting every frame and picking in Python is simpler.
_MAX_SELECT_TERMS = 300
_PROBE_TIMEOUT_S = 120.0
# ffmpeg's names of the demuxers of real video containers: mov also reads MP4, M4V and 3GP;
# matroska reads WebM. Anything else (hls, dash, concat, image2, ...) is refused by ffmpeg.
_ALLOWED_DEMUXERS = ("mov", "matroska", "avi", "mpeg", "mpegts", "asf", "flv")
# Text at the start of playlists and manifests, with the kind to name in the message.
_MANIFEST_SIGNATURES = (
    (b"#EXTM3U", "an HLS playlist"),
    (b"ffconcat", "an ffmpeg concat list"),
    (b"file ", "an ffmpeg concat list"),
    (b"<?xml", "an XML file (a DASH manifest?)"),
    (b"<MPD", "a DASH manifest"),
    (b"<smil", "a SMIL playlist"),
    (b"[playlist]", "a PLS playlist"),
)


class _RotatedSizeFilter(logging.Filter):
    """Drops imageio-ffmpeg's warning that a rotated video's frames differ in size from the stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


_ROTATED_SIZE_FILTER = _RotatedSizeFilter()


class VideoFrame(NamedTuple):
    """One decoded frame.

    Attributes:
        frame_index: position of the frame in the video, from 0.
        time_s: frame_index / fps, in seconds from the first video frame.
        rgb: uint8 RGB array of shape (H, W, 3), upright.
    """

    frame_index: int
    time_s: float
    rgb: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as far as the first video stream is concerned.

    Attributes:
        path: the file.
        fps: frames per second (the stream's nominal rate).
        duration_s: length in seconds (container duration; frame_count / fps if unknown).
        frame_count: number of frames (counted from the stream's packets; never inf).
        width: width in pixels of the upright frame (after rotation).
        height: height in pixels of the upright frame.
        rotation: clockwise rotation in degrees (0, 90, 180 or 270) that the file asks players
            to apply, the convention of the classic `rotate` tag of phone videos. Frames from
            `iter_frames` already have it applied.
        codec: the video codec's short name, e.g. "h264".
    """

    path: Path
    fps: float
    duration_s: float
    frame_count: int
    width: int
    height: int
    rotation: int
    codec: str


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
        exact: decode from the first frame on, so every frame is exactly the sampled index
            (reproducible whatever the file's keyframes). False (the default) lets a long video
            seek: a sparse sample becomes the keyframe at or before it (or the exact frame when
            that keyframe is far), and a time range starts with a seek. Either way each
            VideoFrame reports the index and time of the frame actually decoded.

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


def probe_video(path: str | Path) -> VideoInfo:
    """Reads a video's metadata and counts its frames without decoding them.

    Runs ffmpeg once, copying the first video stream to nowhere: this reads the container
    (about 20 ms for a short clip) and gives an exact packet count.

    Args:
        path: a video file.

    Returns:
        The VideoInfo of the first video stream (cover-art pictures are ignored).

    Raises:
        MediaError: missing, empty, truncated, not a video, or no video stream.
    """
    path = Path(path)
    check_media_file(path)
    _refuse_text_file(path)
    text = _run_ffmpeg(path, ["-map", "0:V:0", "-c", "copy", "-f", "null", "-"])
    info = _parse_probe(path, text)
    check_pixel_budget(info.width, info.height, label=path.name, what="video frames")
    return info


def check_pixel_budget(width: int, height: int, *, label: str, what: str = "image") -> None:
    """Refuses an image or video frame larger than the pixel budget, before it is decoded.

    Args:
        width: in pixels, from the file's header.
        height: in pixels.
        label: the file's name, for the message.
        what: "image" or "video frames".

    Raises:
        MediaError: width x height is over `mesonet.config.max_pixels()`.
    """
    limit = config.max_pixels()
    if width * height > limit:
        verb = "are" if what.endswith("s") else "is"
        raise MediaError(
            f"{label}: {what} {verb} too large: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), "
            f"over the {limit / 1e6:g} megapixel limit. Downscale it and try again."
        )


def _refuse_text_file(path: Path) -> None:
    """Refuses playlists, manifests and other text files: video containers are binary.

    ffmpeg's format whitelist would refuse them too, with a less helpful message.
    """
    with open(path, "rb") as f:
        head = f.read(4096)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    kind = next((kind for signature, kind in _MANIFEST_SIGNATURES if stripped.startswith(signature)), None)
    if kind is None:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            return  # binary: maybe a video; ffmpeg decides
        if not all(ch.isprintable() or ch in "\t\r\n" for ch in text):
            return
        kind = "a text file"
    raise MediaError(
        f"{path.name}: is {kind}, not a video file; playlists and manifests are not read. "
        "Upload the video file itself (MP4, MOV, AVI, MKV or WebM)."
    )


def _ffmpeg_input(path: Path) -> tuple[list[str], str]:
    """ffmpeg's input options and input URL for a user's file.

    Only the file protocol and the demuxers of real containers: a manifest cannot send ffmpeg to
    other files or URLs. The explicit file: URL keeps a name like "concat:a|b.mp4" a file name.
    """
    options = ["-nostdin", "-protocol_whitelist", "file", "-format_whitelist", ",".join(_ALLOWED_DEMUXERS)]
    return options, f"file:{path.resolve()}"


def check_media_file(path: Path, *, label: str | None = None, kind: str = "video") -> None:
    """Refuses a folder, a missing file or an empty one, naming it `label` (default: its name).

    Raises:
        MediaError: the message asks for a `kind` ("video", "image") file.
    """
    label = label or path.name
    if path.is_dir():
        raise MediaError(f"{label}: is a folder, not a file. Choose {'an' if kind[0] in 'aeiou' else 'a'} {kind} file.")
    if not path.is_file():
        raise MediaError(f"{label}: file not found ({path}). Check the path.")
    if path.stat().st_size == 0:
        raise MediaError(f"{label}: the file is empty (0 bytes). Check the file was copied completely.")


def _run_ffmpeg(path: Path, output_args: list[str]) -> str:
    """Runs ffmpeg on `path`; returns its log (stderr), or raises MediaError if it failed."""
    import imageio_ffmpeg

    options, url = _ffmpeg_input(path)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", *options, "-i", url, *output_args]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=_PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(
            f"{path.name}: reading the video took longer than {_PROBE_TIMEOUT_S:.0f} s. "
            "Check the file is on a local disk and not damaged."
        ) from exc
    text = done.stderr.decode("utf-8", errors="replace")
    if done.returncode != 0:
        raise MediaError(_ffmpeg_failure_message(path, text))
    return text


def _ffmpeg_failure_message(path: Path, log: str) -> str:
    if "not on whitelist" in log:
        return (
            f"{path.name}: not a video container MesoNet Studio reads (only MP4/MOV, MKV/WebM, AVI, MPEG, "
            "WMV and FLV files are opened). Convert it to MP4 (H.264) and try again."
        )
    if "matches no streams" in log or "does not contain any stream" in log:
        return (
            f"{path.name}: the file has no video stream (audio only?). "
            "Choose a video file, or a photo, that shows a face."
        )
    return f"{path.name}: not a video ffmpeg can read ({_ffmpeg_reason(path, log)}). {_VIDEO_HINT}"


def _ffmpeg_reason(path: Path, log: str) -> str:
    """The root cause in an ffmpeg error log (e.g. "moov atom not found"), without prefixes."""
    generic = ("Error opening", "Conversion failed", "Format ", "Press [q]")
    reasons = []
    for line in log.replace("\r", "\n").splitlines():
        line = re.sub(r"^\[[^\]]*\]\s*", "", line.strip())  # e.g. "[in#0 @ 0x55...]"
        line = line.replace(f"file:{path.resolve()}", path.name).replace(str(path), path.name).strip(" :.")
        if line and not line.startswith(generic):
            reasons.append(line)
    if reasons:
        return reasons[0]
    # Only generic lines: the last one still says something ("Invalid data found ...").
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1].split(": ", 1)[-1] if lines else "unknown ffmpeg error"


_STREAM_LINE = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio|Subtitle|Data|Attachment): (.*)$")


def _parse_probe(path: Path, log: str) -> VideoInfo:
    """Builds a VideoInfo from the log of `ffmpeg -i path -map 0:V:0 -c copy -f null -`."""
    lines = log.replace("\r", "\n").splitlines()
    input_part = []
    for line in lines:
        if line.startswith(("Stream mapping", "Output #")):
            break
        input_part.append(line)

    video_line, video_block = None, []
    for i, line in enumerate(input_part):
        match = _STREAM_LINE.match(line)
        if match and match.group(1) == "Video" and "(attached pic)" not in line:
            video_line = match.group(2)
            # The stream's own metadata and side data follow until the next stream.
            for following in input_part[i + 1 :]:
                if _STREAM_LINE.match(following):
                    break
                video_block.append(following)
            break
    if video_line is None:
        raise MediaError(
            f"{path.name}: the file has no video stream (audio only?). "
            "Choose a video file, or a photo, that shows a face."
        )

    codec = video_line.split(" ", 1)[0].strip(",")
    size = re.search(r", (\d+)x(\d+)[\s,\[]", video_line + " ")
    if not size:
        raise MediaError(f"{path.name}: ffmpeg could not tell the video's frame size. {_VIDEO_HINT}")
    width, height = int(size.group(1)), int(size.group(2))

    fps = _number_before(video_line, "fps") or _number_before(video_line, "tbr")
    duration_match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", "\n".join(input_part))
    duration_s = 0.0
    if duration_match:
        hours, minutes, seconds = duration_match.groups()
        duration_s = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    counts = re.findall(r"frame=\s*(\d+)", log)
    frame_count = int(counts[-1]) if counts else 0

    # Fill gaps from the other two numbers; count by decoding only as a last resort.
    if fps <= 0 and frame_count > 0 and duration_s > 0:
        fps = frame_count / duration_s
    if frame_count <= 0 and fps > 0 and duration_s > 0:
        frame_count = round(duration_s * fps)
    if frame_count <= 0:
        frame_count = _count_frames_by_decoding(path)
    if frame_count <= 0:
        raise MediaError(f"{path.name}: the video stream holds no frames. {_VIDEO_HINT}")
    if fps <= 0:
        raise MediaError(
            f"{path.name}: ffmpeg could not tell the video's frame rate. "
            "Re-encode the video to MP4 (H.264), e.g. with a video converter, and try again."
        )
    if duration_s <= 0:
        duration_s = frame_count / fps

    rotation = _rotation_cw(video_block)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        fps=fps,
        duration_s=duration_s,
        frame_count=frame_count,
        width=width,
        height=height,
        rotation=rotation,
        codec=codec,
    )


def _number_before(text: str, unit: str) -> float:
    match = re.search(r"(\d+(?:\.\d+)?)(k?) " + unit + r"\b", text)
    if not match:
        return 0.0
    return float(match.group(1)) * (1000.0 if match.group(2) else 1.0)


def _rotation_cw(stream_block: Sequence[str]) -> int:
    """Clockwise display rotation in degrees, from the stream's side data or rotate tag."""
    text = "\n".join(stream_block)
    matrix = re.search(r"rotation of (-?\d+(?:\.\d+)?) degrees", text)
    if matrix:
        # ffmpeg prints the display matrix angle counter-clockwise.
        return round(-float(matrix.group(1)) / 90.0) * 90 % 360
    tag = re.search(r"\brotate\s*:\s*(-?\d+)", text)
    if tag:
        return round(float(tag.group(1)) / 90.0) * 90 % 360
    return 0


def _count_frames_by_decoding(path: Path) -> int:
    log = _run_ffmpeg(path, ["-map", "0:V:0", "-fps_mode", "passthrough", "-f", "null", "-"])
    counts = re.findall(r"frame=\s*(\d+)", log)
    return int(counts[-1]) if counts else 0


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
    if isinstance(info_or_count, VideoInfo):
        count, fps = info_or_count.frame_count, info_or_count.fps if fps is None else fps
    else:
        count = int(info_or_count)
    if count <= 0:
        return []
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
    n = stop - first
    if sampling.mode == "even":
        indices = [first + i for i in _spread(n, sampling.n_frames)]
    elif sampling.mode == "every":
        indices = list(range(first, stop, sampling.every))
    else:
        indices = list(range(first, stop))
    if sampling.max_frames is not None and len(indices) > sampling.max_frames:
        indices = [indices[i] for i in _spread(len(indices), sampling.max_frames)]
    return indices


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

    With exact=False, samples far apart are read by seeking instead (`mesonet.video_seek`):
    a keyframe near each target, or the target itself; and decoding starts with a seek to the
    first wanted frame when that is far from the start.

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
    if not exact:
        from mesonet import video_seek

        if video_seek.wants_seeking(wanted, info):
            yield from video_seek.iter_seeked_frames(path, wanted, info)
            return
        seek = video_seek.start_seek_params(path, wanted[0], info)
        if seek:
            # Output frame n is then frame first + n.
            first, input_params = wanted[0], [*input_params, *seek]

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
    options, url = _ffmpeg_input(path)
    # -timelimit: ffmpeg stops itself after that much CPU time, whatever the file makes it do.
    limit_s = config.max_decode_s()
    options += ["-timelimit", f"{limit_s:.0f}"]
    started = time.monotonic()
    try:
        reader = imageio_ffmpeg.read_frames(url, input_params=[*options, *input_params], output_params=output_params)
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise MediaError(f"{path.name}: not a video ffmpeg can read ({first_line(exc)}). {_VIDEO_HINT}") from exc
    width, height = meta["size"]
    shape = (height, width, 3)
    try:
        if expression is not None:
            for frame_index, raw in zip(wanted, reader):
                yield VideoFrame(frame_index, frame_index / info.fps, _to_array(raw, shape))
        else:
            want = set(wanted)
            for frame_index, raw in enumerate(reader, start=first):
                if frame_index in want:
                    yield VideoFrame(frame_index, frame_index / info.fps, _to_array(raw, shape))
                if frame_index >= wanted[-1]:
                    break
    except (OSError, RuntimeError) as exc:
        # ffmpeg's threads can use every core, so the CPU limit may end it after limit / cores of wall time.
        if time.monotonic() - started >= limit_s / (os.cpu_count() or 1):
            raise MediaError(
                f"{path.name}: decoding took longer than {limit_s:.0f} s of CPU time and was stopped. "
                "Analyse fewer frames, a shorter range, or a smaller video."
            ) from exc
        raise MediaError(
            f"{path.name}: decoding failed part-way ({first_line(exc)}). "
            "The file may be damaged or incomplete: re-export or download it again."
        ) from exc
    finally:
        # Stops ffmpeg at once when the caller leaves early.
        reader.close()


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


def _to_array(raw: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    # A writable copy: callers may draw on frames; the copy costs well under 1 ms at 1080p.
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()
