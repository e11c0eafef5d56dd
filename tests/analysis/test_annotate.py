"""The annotated video (mesonet.analysis.annotate, `detect --annotate`): real clips, real faces, real ffmpeg.

Every output is checked from the outside: ffmpeg's own description of the file (codec, pixel
format, frame rate, duration, audio), the order of the MP4's top-level boxes (faststart), a
decoded frame count, and the pixels where the boxes should be.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mesonet.analysis.annotate import (
    AnnotatedVideo,
    annotate_video,
    check_output_path,
    frame_rate,
    output_size,
    score_every_frame,
)
from mesonet.analysis.draw import Annotations, ScoredFrame, nearest_frames, strip_height
from mesonet.errors import AnnotateError, CancelledError, MediaError
from mesonet.media.ffmpeg import probe_video
from mesonet.media.video import FrameSampling, iter_frames
from mesonet.verdict import VERDICT_COLORS
from tests.helpers import FFMPEG, probe, run_cli, top_level_boxes

# The `clip` (the astronaut sample) and `clips` (variants of it) fixtures are tests/conftest.py's.
N_SAMPLES = 6


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


@pytest.fixture(scope="module")
def analysis(clip: Path, classifier):
    from mesonet.analysis.pipeline import analyze_media

    return analyze_media(clip, classifier("meso4-df"), sampling=FrameSampling(n_frames=N_SAMPLES))


@pytest.fixture(scope="module")
def annotated(analysis, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AnnotatedVideo, list]:
    out = tmp_path_factory.mktemp("annotated") / "astronaut_annotated.mp4"
    seen: list[tuple[int, int]] = []
    video = annotate_video(clip, out, Annotations.from_analysis(analysis), progress=lambda d, t: seen.append((d, t)))
    return out, video, seen


# ---- pure parts ----------------------------------------------------------------------------


def test_each_frame_takes_the_nearest_sample_within_the_analysed_range() -> None:
    frames = np.arange(12)
    # Samples at 2, 5 and 9 (ties go to the earlier sample); frames outside [1, 11) get none.
    assert nearest_frames([2, 5, 9], frames, first=1, stop=11).tolist() == [-1, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, -1]
    assert nearest_frames([], frames, first=0, stop=12).tolist() == [-1] * 12


def test_frame_rates_and_sizes() -> None:
    assert frame_rate(29.97) == frame_rate(30000 / 1001) and str(frame_rate(29.97)) == "30000/1001"
    assert str(frame_rate(23.98)) == "24000/1001" and str(frame_rate(59.94)) == "60000/1001"
    assert frame_rate(25.0) == 25 and frame_rate(30.0) == 30 and frame_rate(12.5) == 12.5 and frame_rate(5.0) == 5
    assert output_size(640, 360) == (640, 360)
    assert output_size(641, 363) == (640, 364)  # yuv420p needs even sides
    assert output_size(3840, 2160) == (1920, 1080)
    assert output_size(1080, 2400) == (864, 1920)


def test_wrong_output_paths_are_refused_before_any_work(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(AnnotateError, match=r"out\.avi: the annotated video is an MP4 file"):
        check_output_path(tmp_path / "out.avi")
    with pytest.raises(AnnotateError, match="no such folder"):
        check_output_path(tmp_path / "missing" / "out.mp4")
    with pytest.raises(AnnotateError, match="is a folder"):
        (tmp_path / "dir.mp4").mkdir()
        check_output_path(tmp_path / "dir.mp4")
    with pytest.raises(AnnotateError, match="is the video being annotated"):
        check_output_path(clip, source=clip)
    (tmp_path / "link.mp4").symlink_to(clip)
    with pytest.raises(AnnotateError, match="is the video being annotated"):
        check_output_path(tmp_path / "link.mp4", source=clip)


def test_every_ffmpeg_input_of_the_users_file_goes_through_the_whitelists(clips: dict[str, Path]) -> None:
    """The decoder and the encoder's audio input open the user's file only as a file, with real demuxers."""
    from fractions import Fraction

    from mesonet.analysis.annotate import decoder_command, encoder_command

    source = clips["sine_aac.mp4"]
    info = probe_video(source)
    commands = [
        decoder_command(source, info, (640, 360)),
        encoder_command(source, info, (640, 418), Fraction(25), 0.0, source.with_name("x.mp4")),
    ]
    urls = []
    for command in commands:
        inputs = [n for n, arg in enumerate(command) if arg == "-i"]
        for k, at in enumerate(inputs):
            url = command[at + 1]
            if url == "pipe:0":
                continue
            urls.append(url)
            options = command[inputs[k - 1] + 2 if k else 0 : at]
            assert url == f"file:{source.resolve()}"
            assert options[options.index("-protocol_whitelist") + 1] == "file"
            assert "hls" not in options[options.index("-format_whitelist") + 1].split(",")
    assert len(urls) == 2


# ---- the file ------------------------------------------------------------------------------


def test_annotated_clip_is_browser_ready_h264_with_the_source_timing(annotated, clip: Path) -> None:
    out, video, seen = annotated
    source, result = probe(clip), probe(out)
    assert (result["codec"], result["pix_fmt"]) == ("h264", "yuv420p")
    assert result["fps"] == source["fps"] == 25
    assert result["frames"] == source["frames"] == 75 == video.frame_count
    assert abs(result["duration_s"] - source["duration_s"]) <= 1 / source["fps"]
    assert result["audio"] is None and video.audio is False
    # The strip above, the video below it (below, a paused player's controls covered the strip: issue 21).
    assert result["size"] == (640, 360 + strip_height(360)) == (video.width, video.height)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # +faststart
    assert seen[0] == (1, 75) and seen[-1] == (75, 75) and len(seen) == 75
    assert leftovers(out.parent) == []


def _near(pixels: np.ndarray, color: str, tolerance: float = 45) -> np.ndarray:
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    return np.abs(pixels.astype(int) - rgb).max(axis=-1) <= tolerance


def test_boxes_are_drawn_at_the_faces_in_the_verdict_colour(annotated, analysis, clip: Path) -> None:
    out, _, _ = annotated
    sampled = {face.frame_index: face for face in analysis.faces}
    assert len(sampled) == N_SAMPLES
    sampled_indices = sorted(sampled)
    # A frame between two samples carries the nearer one's box.
    between = (sampled_indices[1] + sampled_indices[2]) // 2
    carried = sampled[
        sampled_indices[1] if between - sampled_indices[1] <= sampled_indices[2] - between else sampled_indices[2]
    ]
    wanted = {**{i: sampled[i] for i in sampled_indices}, between: carried}
    drawn = {index: rgb for index, _, rgb in iter_frames(out, list(wanted))}
    plain = {index: rgb for index, _, rgb in iter_frames(clip, list(wanted))}
    color = VERDICT_COLORS[analysis.verdict]
    assert analysis.verdict == "real"  # the real astronaut: green boxes
    strip = strip_height(360)
    for index, face in wanted.items():
        top, right, bottom, left = face.box
        edge = drawn[index][strip + top + 1, left + 4 : right - 4]  # along the box's top line (3 px wide at 640 px)
        assert _near(edge, color).mean() > 0.9, (index, face.box)
        assert not _near(plain[index][top + 1, left + 4 : right - 4], color).mean() > 0.5
        # Inside the box the face is untouched (up to the encoder's loss).
        inside = np.s_[top + 10 : bottom - 10, left + 10 : right - 10]
        assert np.abs(drawn[index][strip:][inside].astype(int) - plain[index][inside]).mean() < 6
    # Above the video: the strip, dark but for the bars of the scores so far (low bars: P(fake) is near 0).
    bars = np.s_[strip // 2 : strip, :]
    last, first = drawn[sampled_indices[-1]][bars], drawn[sampled_indices[0]][bars]
    assert last.mean() < 80 and _near(last[:, :600], color).mean() > 0.1
    assert _near(first[:, :40], color).any() and not _near(first[:, 200:], color).any()  # the rest is to come


def test_the_threshold_picks_the_colour(analysis, clip: Path, tmp_path: Path) -> None:
    """The boxes follow the threshold given, not the model's verdict: just under the face's P(fake) it is
    fake (red), just over it uncertain (amber), well over it real (green)."""
    annotations = Annotations.from_analysis(analysis)
    face = analysis.faces[0]
    top, right, _, left = face.box
    for name, threshold in (("fake", face.p_fake - 0.06), ("uncertain", face.p_fake + 0.01), ("real", 0.99)):
        drawn = Annotations(annotations.frames, threshold, frame_size=(640, 360))
        out = annotate_video(clip, tmp_path / f"{name}.mp4", drawn).path
        (_, _, rgb), *_ = iter_frames(out, [face.frame_index])
        row = strip_height(360) + top + 1
        assert _near(rgb[row, left + 4 : right - 4], VERDICT_COLORS[name]).mean() > 0.9, name


@pytest.mark.parametrize(("name", "codec"), [("sine_aac.mp4", "aac"), ("sine_opus.mkv", "opus")])
def test_audio_is_kept(clips: dict[str, Path], tmp_path: Path, name: str, codec: str) -> None:
    source = clips[name]
    assert probe_video(source).audio_codec == codec
    video = annotate_video(source, tmp_path / "out.mp4", Annotations((), 0.5))
    result, original = probe(video.path), probe(source)
    assert video.audio and result["audio"] == "aac"  # AAC copied; Opus encoded to AAC, which every browser plays
    assert abs(result["duration_s"] - original["duration_s"]) <= 1 / 25
    assert result["frames"] == 75


def test_a_video_that_starts_after_its_audio_stays_in_sync(shared_dir: Path, tmp_path: Path) -> None:
    """The shared Hamilton clip's picture starts 0.84 s after its sound, at 29.97 fps."""
    source = shared_dir / "data" / "videos" / "real" / "short_hamilton_clip.mp4"
    video = annotate_video(source, tmp_path / "hamilton.mp4", Annotations((), 0.5))
    result, original = probe(video.path), probe(source)
    frame_s = 1 / original["fps"]
    assert result["audio"] == "aac" and result["fps"] == original["fps"] == 29.97
    assert result["frames"] == original["frames"]
    assert abs(result["duration_s"] - original["duration_s"]) <= frame_s
    # The source's audio starts at its container's start, so its video starts that much later in the copy.
    delay = original["video_start_s"] - float(re.search(r"start: ([\d.]+)", _header(source)).group(1))
    assert delay > 0.8 and abs(result["video_start_s"] - delay) <= frame_s


def _header(path: Path) -> str:
    return subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


# ---- failures leave nothing behind ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [("random.mp4", "not a video ffmpeg can read"), ("cut.mp4", r"cut short: only its first \d+ frames could be read")],
)
def test_a_bad_clip_is_a_clear_error_and_no_file(clips: dict[str, Path], tmp_path: Path, name: str, message: str):
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match=message):
        annotate_video(clips[name], out, Annotations((), 0.5))
    assert not out.exists() and leftovers(tmp_path) == []
    # An earlier file of that name is left as it was.
    out.write_bytes(b"earlier")
    with pytest.raises(MediaError):
        annotate_video(clips[name], out, Annotations((), 0.5))
    assert out.read_bytes() == b"earlier" and leftovers(tmp_path) == []


def test_cancel_stops_and_deletes_the_partial_file(clip: Path, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 10:
            cancel.set()

    with pytest.raises(CancelledError, match="after 10 of 75 frames"):
        annotate_video(clip, tmp_path / "out.mp4", Annotations((), 0.5), progress=progress, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_an_analysis_of_another_video_is_refused(analysis, shared_dir: Path, tmp_path: Path) -> None:
    other = shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"
    with pytest.raises(AnnotateError, match="1280x720 pixels but the analysis was of 640x360 frames"):
        annotate_video(other, tmp_path / "out.mp4", Annotations.from_analysis(analysis))
    assert list(tmp_path.iterdir()) == []


# ---- every frame ---------------------------------------------------------------------------


def test_every_frame_is_scored_window_by_window(analysis, clip: Path, classifier, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    annotations = score_every_frame(
        clip, classifier("meso4-df"), threshold=0.5, window_frames=30, progress=lambda d, t: seen.append((d, t))
    )
    assert [f.frame_index for f in annotations.frames] == list(range(75))
    assert (annotations.first_frame, annotations.stop_frame, annotations.frame_size) == (0, 75, (640, 360))
    assert seen[-1] == (75, 75) and all(t == 75 for _, t in seen)
    scored = {f.frame_index: f.faces for f in annotations.frames}
    assert sum(len(faces) == 1 for faces in scored.values()) >= 70
    # The sampled frames get about the boxes and scores the analysis gave them (three windows, seeks
    # included); not exactly, as the detector looks near the previous frame's face first.
    for face in analysis.faces:
        (again,) = scored[face.frame_index]
        assert _iou(again.box, face.box) > 0.6 and again.p_fake == pytest.approx(face.p_fake, abs=0.05)
    video = annotate_video(clip, tmp_path / "every.mp4", annotations)
    assert probe(video.path)["frames"] == 75


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    top, right, bottom, left = max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = lambda box: (box[1] - box[3]) * (box[2] - box[0])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_scored_frame_defaults() -> None:
    assert ScoredFrame(3).faces == ()


# ---- command line --------------------------------------------------------------------------


def test_detect_annotate_writes_the_video_and_keeps_stdout_json(clips: dict[str, Path], tmp_path: Path) -> None:
    import json

    out = tmp_path / "annotated.mp4"
    result = run_cli(
        "detect", str(clips["sine_aac.mp4"]), "--frames", "5", "--annotate", str(out), "--json", "-", timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["verdict"] == "real"
    assert f"annotated video: {out} (75 frames at 25.00 fps, 640x" in result.stderr and "audio kept" in result.stderr
    assert probe(out)["audio"] == "aac" and probe(out)["frames"] == 75
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{clip}", "--annotate", "{tmp}/out.avi"], "out.avi: the annotated video is an MP4 file"),
        (["{clip}", "{clip}", "--annotate", "{tmp}/out.mp4"], "give one video file, not 2 files"),
        (["{photo}", "--annotate", "{tmp}/out.mp4"], "obama.jpg: is a photo; --annotate needs a video file"),
        (["{tmp}", "--annotate", "{tmp}/out.mp4"], ": is a folder; --annotate needs one video file"),
        (["{clip}", "--annotate-every-frame"], "--annotate-every-frame goes with --annotate OUT.mp4"),
        (["{random}", "--annotate", "{tmp}/out.mp4"], "random.mp4: not a video ffmpeg can read"),
    ],
)
def test_detect_annotate_errors_are_one_line_and_leave_no_file(
    args: list[str], message: str, clip: Path, clips: dict[str, Path], shared_dir: Path, tmp_path: Path
) -> None:
    names = {"clip": clip, "tmp": tmp_path, "photo": shared_dir / "data" / "photos" / "obama.jpg"}
    names["random"] = clips["random.mp4"]
    result = run_cli("detect", *(a.format(**names) for a in args), timeout=600)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mesonet: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_detect_annotate_stopped_mid_way_leaves_no_file(clips: dict[str, Path], tmp_path: Path, signum, exit_code):
    """Ctrl-C, or a kill, while the video is being written: the partial file goes with the command."""
    command = [sys.executable, "-m", "mesonet", "detect", str(clips["long.mp4"]), "--frames", "3"]
    process = subprocess.Popen(
        [*command, "--annotate", str(tmp_path / "out.mp4")],
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job (CI started with `&`) inherits SIGINT ignored: give Ctrl-C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.*.part.mp4")):
        assert process.poll() is None and time.monotonic() < deadline, "the video was never started"
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the 750 frames
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_a_video_longer_than_the_servers_cap_is_refused_before_any_work(
    clip, analysis, classifier, tmp_path, monkeypatch
):
    """Issue 24, finding 5: a 20 MB upload probed as 1.4 million frames would have held the slot for hours."""
    frames = probe_video(clip).frame_count
    monkeypatch.setenv("MESONET_MAX_ANNOTATED_FRAMES", str(frames - 1))
    started = time.perf_counter()
    with pytest.raises(AnnotateError, match=rf"{frames} frames .* more than an annotated video may cover"):
        annotate_video(clip, tmp_path / "long.mp4", Annotations.from_analysis(analysis))
    with pytest.raises(AnnotateError, match="Choose a shorter range"):
        score_every_frame(clip, classifier("meso4-df"), threshold=0.5)
    assert time.perf_counter() - started < 5 and leftovers(tmp_path) == []
    # A range within the cap is fine.
    scored = score_every_frame(clip, classifier("meso4-df"), threshold=0.5, end_s=0.5)
    assert scored.frames


def test_work_beyond_the_servers_time_budget_is_stopped(clip, analysis, tmp_path, monkeypatch):
    monkeypatch.setenv("MESONET_ANNOTATE_MAX_MINUTES", "0.00001")
    with pytest.raises(AnnotateError, match="took longer than 0 minutes, this server's limit"):
        annotate_video(clip, tmp_path / "slow.mp4", Annotations.from_analysis(analysis))
    assert leftovers(tmp_path) == []
