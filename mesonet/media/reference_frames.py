"""Samples of a video from its reference pictures: no decoding of the pictures nothing refers to.

Most pictures of H.264 and HEVC video from the web and from cameras are B-frames that no other
picture is predicted from. The decoder may skip them (ffmpeg's `-skip_frame noref`), and every
other picture still decodes bit for bit as in a full decode: on the shared 720p FF++ clips, 203
of 390 pictures were decoded, each identical to sequential decoding. For 30 samples of a 13-s
720p clip that is 0.39 CPU s of ffmpeg instead of 0.64 (benchmarks/bench_pipeline.py, "decoding").

Each sample becomes the first decoded picture at or after it: ffmpeg's select filter, on times
counted from the first picture (`setpts=PTS-STARTPTS`). With x264's defaults that is the sampled
frame or the next one; where the decoder skips nothing (another codec, or a file without B-frames)
it is the sampled frame. showinfo prints the time of each picture handed over, and its index is
round(time * fps), as everywhere in mesonet.media (exact for constant frame rate, nominal for
variable rate).

Used by `mesonet.media.video.iter_frames` when exact frames are not asked for and the samples are
at least `MIN_GAP_FRAMES` apart.
"""

from __future__ import annotations

import collections
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from mesonet.errors import MediaError, exit_reason
from mesonet.media.ffmpeg import (
    PROBE_TIMEOUT_S,
    SHOWINFO_TIME,
    VIDEO_HINT,
    VideoFrame,
    VideoInfo,
    decode_time_limit,
    decoding_failed,
    ffmpeg_input,
    ffmpeg_reason,
    frame_from_bytes,
)

# x264's defaults put at most 3 B-frames in a row, so the reference pictures are at most 4 frames
# apart: samples that far apart each get a picture of their own.
MIN_GAP_FRAMES = 4
# One select term per sample (the samples need not be regular); beyond this many, decode them all.
MAX_SAMPLES = 300
# ffmpeg's log lines kept for an error message (the first lines name the cause).
_LOG_LINES = 200
# A log line of level warning or worse (-loglevel level+...): "[h264 @ 0x...] [error] message".
_PROBLEM = re.compile(r"^(\[[^\]]*\] )?\[(?:warning|error|fatal|panic)\] (.*)$")


def spaced_enough(wanted: Sequence[int]) -> bool:
    """Whether sorted, distinct frame indices are far enough apart to take reference pictures for them."""
    gaps = [b - a for a, b in zip(wanted, wanted[1:])]
    return 0 < len(wanted) <= MAX_SAMPLES and min(gaps, default=MIN_GAP_FRAMES) >= MIN_GAP_FRAMES


def iter_reference_frames(
    path: Path, wanted: Sequence[int], info: VideoInfo, *, one_thread: bool = False
) -> Iterator[VideoFrame]:
    """Decodes the reference pictures of a video up to the last sample and hands over, for each
    sample, the first one at or after it (see the module docstring).

    Args:
        path: a video file.
        wanted: sorted, distinct frame indices within the video.
        info: the video's VideoInfo.
        one_thread: decode on one ffmpeg thread (see video.one_decoder_thread_keeps_up).

    Yields:
        VideoFrame with the index and time of each picture decoded, strictly increasing; one per
        sample (fewer only if more than MIN_GAP_FRAMES B-frames follow each other).

    Raises:
        MediaError: ffmpeg could not decode the video.
    """
    import imageio_ffmpeg

    # Half a frame early, so that a picture exactly at the sampled time is taken.
    times = [f"{(index - 0.5) / info.fps:.6f}" for index in wanted]
    # A picture is taken when a sample's time lies in (previous picture's time, its time]; the first
    # picture's previous time is NAN, for which gte() is 0.
    select = "+".join(f"gte(t,{t})*not(gte(prev_t,{t}))" for t in times)
    safe_options, url = ffmpeg_input(path)
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        # Each log line tagged with its level: showinfo's lines are "info", problems "warning" and worse.
        *("-hide_banner", "-nostats", "-loglevel", "level+info", *safe_options, *decode_time_limit()),
        *(["-threads", "1"] if one_thread else []),
        *("-skip_frame", "noref", "-i", url, "-map", "0:V:0", "-fps_mode", "passthrough"),
        *("-vf", f"setpts=PTS-STARTPTS,select='{select}',showinfo=checksum=0", "-frames:v", str(len(wanted))),
        *("-pix_fmt", "rgb24", "-f", "rawvideo", "-"),
    ]
    shape = (info.height, info.width, 3)
    size = shape[0] * shape[1] * 3
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log: collections.deque[str] = collections.deque(maxlen=_LOG_LINES)
    picture_times: queue.Queue[float | None] = queue.Queue()
    reader = threading.Thread(target=_read_log, args=(process.stderr, log, picture_times), daemon=True)
    reader.start()
    previous = -1
    try:
        while raw := process.stdout.read(size):
            if len(raw) != size:
                break  # ffmpeg stopped part-way: its exit status says why
            try:
                picture_time = picture_times.get(timeout=PROBE_TIMEOUT_S)  # printed before the picture
            except queue.Empty:
                picture_time = None
            if picture_time is None:
                raise MediaError(f"{path.name}: ffmpeg gave a picture without its time. {VIDEO_HINT}")
            index = round(picture_time * info.fps)
            if index > previous:  # a variable frame rate may round two times to one index
                previous = index
                yield VideoFrame(index, index / info.fps, frame_from_bytes(raw, shape))
        process.wait(timeout=PROBE_TIMEOUT_S)
        reader.join(timeout=PROBE_TIMEOUT_S)
        if process.returncode != 0:
            reason = ffmpeg_reason(path, "\n".join(log)) if log else f"ffmpeg {exit_reason(process.returncode)}"
            raise decoding_failed(path, reason, started=started)
    finally:
        # Stops ffmpeg at once when the caller leaves early.
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.wait()
        reader.join(timeout=5)


def _read_log(stream, log: collections.deque[str], picture_times: queue.Queue[float | None]) -> None:
    """Reads ffmpeg's log as it comes: showinfo's picture times to `picture_times`, warnings and
    errors (without their level tag) to `log`."""
    try:
        for raw_line in iter(stream.readline, b""):
            line = raw_line.decode("utf-8", errors="replace").rstrip()
            if match := SHOWINFO_TIME.search(line):
                picture_times.put(float(match.group(1)))
            elif problem := _PROBLEM.match(line):
                log.append((problem.group(1) or "") + problem.group(2))
    finally:
        picture_times.put(None)
        stream.close()
