"""Opening a user's video safely with ffmpeg, and reading its metadata.

A user's file is untrusted: ffmpeg only opens the file itself (no other protocol) with the
demuxer of a real media container (`_ALLOWED_DEMUXERS`), so a playlist or manifest (HLS, DASH,
concat lists, image sequences) renamed to .mp4 cannot make it read other files of the server;
such text files are refused before ffmpeg sees them. Frames larger than the pixel budget
(`mesonet.config.max_pixels`) are refused from the header. Decoding is in mesonet.media.video.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mesonet import config
from mesonet.errors import MediaError

VIDEO_HINT = "Check the file is a complete MP4/MOV/AVI/MKV/WebM video."


PROBE_TIMEOUT_S = 120.0
# The time of a picture in a line of ffmpeg's showinfo filter.
SHOWINFO_TIME = re.compile(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.]+)")


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


# The encoding every MP4 the project writes uses: H.264 in BT.709 limited-range yuv420p, tagged so
# (browsers expect it of HD video), with the index before the data so it plays before it has loaded.
BROWSER_H264 = [
    *[
        "-vf",
        "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
        "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709",
    ],
    *["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"],
    *["-movflags", "+faststart"],
]


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
        audio_codec: the first audio stream's codec's short name, e.g. "aac"; None without audio.
        video_kbps: the video stream's bitrate in kbit/s as the container states it; 0 if unknown.
    """

    path: Path
    fps: float
    duration_s: float
    frame_count: int
    width: int
    height: int
    rotation: int
    codec: str
    audio_codec: str | None = None
    video_kbps: float = 0.0

    @property
    def bits_per_pixel(self) -> float | None:
        """Video bits per pixel and frame, a measure of compression (FF++ c23 about 0.05, c40 about 0.004)."""
        if self.video_kbps <= 0:
            return None
        return self.video_kbps * 1000 / (self.width * self.height * self.fps)


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
    if kind == "a text file":
        raise MediaError(f"{path.name}: is a text file, not a video. Use a video file (MP4, MOV, AVI, MKV or WebM).")
    raise MediaError(
        f"{path.name}: is {kind}, not a video file; playlists and manifests are not read. "
        "Use the video file itself (MP4, MOV, AVI, MKV or WebM)."
    )


def ffmpeg_input(path: Path) -> tuple[list[str], str]:
    """ffmpeg's input options and input URL for a user's file.

    Only the file protocol and the demuxers of real containers: a manifest cannot send ffmpeg to
    other files or URLs. The explicit file: URL keeps a name like "concat:a|b.mp4" a file name.
    """
    options = ["-nostdin", "-protocol_whitelist", "file", "-format_whitelist", ",".join(_ALLOWED_DEMUXERS)]
    return options, f"file:{path.resolve()}"


def decode_time_limit() -> list[str]:
    """ffmpeg input options that make it stop itself after `config.max_decode_s()` of CPU time,
    whatever the file makes it do."""
    return ["-timelimit", f"{config.max_decode_s():.0f}"]


def decoding_failed(path: Path, reason: str, *, started: float) -> MediaError:
    """The error for a decoding ffmpeg that stopped part-way after starting at `started`
    (time.monotonic()): over its CPU time limit (decode_time_limit), or for `reason`."""
    limit_s = config.max_decode_s()
    # ffmpeg's threads can use every core, so the CPU limit may end it after limit / cores of wall time.
    if time.monotonic() - started >= limit_s / (os.cpu_count() or 1):
        return MediaError(
            f"{path.name}: decoding took longer than {limit_s:.0f} s of CPU time and was stopped. "
            "Analyse fewer frames, a shorter range, or a smaller video."
        )
    return MediaError(
        f"{path.name}: decoding failed part-way ({reason}). "
        "The file may be damaged or incomplete: re-export or download it again."
    )


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

    options, url = ffmpeg_input(path)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", *options, "-i", url, *output_args]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(
            f"{path.name}: reading the video took longer than {PROBE_TIMEOUT_S:.0f} s. "
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
    return f"{path.name}: not a video ffmpeg can read ({ffmpeg_reason(path, log)}). {VIDEO_HINT}"


def ffmpeg_reason(path: Path, log: str) -> str:
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
        raise MediaError(f"{path.name}: ffmpeg could not tell the video's frame size. {VIDEO_HINT}")
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
        raise MediaError(f"{path.name}: the video stream holds no frames. {VIDEO_HINT}")
    if fps <= 0:
        raise MediaError(
            f"{path.name}: ffmpeg could not tell the video's frame rate. "
            "Re-encode the video to MP4 (H.264), e.g. with a video converter, and try again."
        )
    if duration_s <= 0:
        duration_s = frame_count / fps

    audio_codec = next(
        (
            match.group(2).split(" ", 1)[0].strip(",")
            for line in input_part
            if (match := _STREAM_LINE.match(line)) and match.group(1) == "Audio"
        ),
        None,
    )
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
        audio_codec=audio_codec,
        video_kbps=_number_before(video_line, "kb/s"),
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


def frame_from_bytes(raw: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    """A decoded rawvideo frame as a uint8 RGB array of `shape` (H, W, 3)."""
    # A writable copy: callers may draw on frames; the copy costs well under 1 ms at 1080p.
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()
