"""mesonet.media.video (and mesonet.media.images's entry points): video probing, frame sampling and decoding.

Videos are generated here with the ffmpeg that imageio-ffmpeg ships; each frame of the main
test clip has the gray level 8 * frame_index, so decoded frames can be checked by content.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from mesonet.errors import InvalidSamplingError, MediaError, MesonetError
from mesonet.media import video
from mesonet.media.ffmpeg import VideoInfo, probe_video
from mesonet.media.images import is_video, iter_media_frames, load_image
from mesonet.media.video import FrameSampling, iter_frames, sample_frame_indices

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
FPS = 10
N_FRAMES = 30  # 3 s at 10 fps
GRAY_STEP = 8


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def _write_clip(path: Path, frames: list[np.ndarray], fps: int = FPS) -> None:
    height, width = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        quality=None,
        output_params=["-qp", "0"],
        macro_block_size=1,
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


def _frame_number(frame: np.ndarray) -> int:
    return int(round(float(frame.mean()) / GRAY_STEP))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    paths = {name: folder / f"{name}.mp4" for name in ("numbered", "marker", "one_frame")}
    _write_clip(paths["numbered"], [np.full((48, 64, 3), GRAY_STEP * i, np.uint8) for i in range(N_FRAMES)])
    # A white 16 x 16 square in the top-left corner of a black 64 x 48 frame.
    marker = np.zeros((48, 64, 3), np.uint8)
    marker[:16, :16] = 255
    _write_clip(paths["marker"], [marker] * 5)
    _write_clip(paths["one_frame"], [np.full((48, 64, 3), 100, np.uint8)])
    # Display rotations: +90 is counter-clockwise in ffmpeg; -90 is the classic rotate=90 tag of phones.
    for angle, name in ((90, "rot_ccw90"), (-90, "rot_cw90"), (180, "rot_180")):
        paths[name] = folder / f"{name}.mp4"
        _ffmpeg("-display_rotation", str(angle), "-i", str(paths["marker"]), "-c", "copy", str(paths[name]))
    paths["audio_only"] = folder / "audio_only.mp4"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(paths["audio_only"]))
    data = paths["numbered"].read_bytes()
    paths["truncated"] = folder / "truncated.mp4"
    paths["truncated"].write_bytes(data[: len(data) // 2])
    paths["random"] = folder / "random.mp4"
    paths["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    paths["empty"] = folder / "empty.mp4"
    paths["empty"].write_bytes(b"")
    return paths


# ---- sampling (pure) -------------------------------------------------------------------


def test_even_sampling_takes_segment_middles() -> None:
    # floor((k + 0.5) * 10 / 4) for k = 0..3
    assert sample_frame_indices(10, FrameSampling(n_frames=4)) == [1, 3, 6, 8]
    indices = sample_frame_indices(390, FrameSampling())
    assert indices == [(2 * k + 1) * 390 // 60 for k in range(30)]
    assert indices[0] == 6 and indices[-1] == 383


def test_even_sampling_takes_every_frame_of_a_short_range() -> None:
    assert sample_frame_indices(5, FrameSampling(n_frames=30)) == [0, 1, 2, 3, 4]
    assert sample_frame_indices(1, FrameSampling()) == [0]
    assert sample_frame_indices(0, FrameSampling()) == []


def test_every_and_all_sampling() -> None:
    assert sample_frame_indices(10, FrameSampling(mode="every", every=3)) == [0, 3, 6, 9]
    assert sample_frame_indices(4, FrameSampling(mode="all")) == [0, 1, 2, 3]


def test_time_range_selects_frames_by_time() -> None:
    def pick(**options: object) -> list[int]:
        return sample_frame_indices(100, FrameSampling(start_s=1.0, end_s=2.0, **options), fps=10.0)

    assert pick(mode="all") == list(range(10, 20))  # [1.0 s, 2.0 s) at 10 fps
    assert pick(mode="every", every=5) == [10, 15]
    assert pick(n_frames=4) == [11, 13, 16, 18]
    # An end past the video is clipped; a start alone runs to the end.
    assert sample_frame_indices(30, FrameSampling(mode="all", start_s=2.5, end_s=99), fps=10) == [25, 26, 27, 28, 29]
    assert sample_frame_indices(30, FrameSampling(mode="all", start_s=2.5), fps=10) == [25, 26, 27, 28, 29]


def test_max_frames_thins_evenly() -> None:
    assert sample_frame_indices(10, FrameSampling(mode="all", max_frames=4)) == [1, 3, 6, 8]
    assert sample_frame_indices(100, FrameSampling(mode="every", every=10, max_frames=5)) == [10, 30, 50, 70, 90]
    assert sample_frame_indices(10, FrameSampling(mode="all", max_frames=50)) == list(range(10))


@pytest.mark.parametrize(
    "options",
    [
        dict(n_frames=0),
        dict(every=0),
        dict(max_frames=0),
        dict(mode="random"),
        dict(start_s=-1.0),
        dict(start_s=2.0, end_s=1.0),
        dict(end_s=0.0),
    ],
)
def test_invalid_sampling_options_are_rejected(options: dict) -> None:
    with pytest.raises(InvalidSamplingError) as info:
        FrameSampling(**options)
    assert isinstance(info.value, MesonetError) and isinstance(info.value, ValueError)


def test_time_range_outside_the_video_is_an_error() -> None:
    info = VideoInfo(
        Path("clip.mp4"), fps=10.0, duration_s=3.0, frame_count=30, width=64, height=48, rotation=0, codec="h264"
    )
    with pytest.raises(InvalidSamplingError, match="3.00 s video"):
        sample_frame_indices(info, FrameSampling(start_s=5.0))
    with pytest.raises(InvalidSamplingError, match="frame rate"):
        sample_frame_indices(30, FrameSampling(start_s=1.0))


@pytest.mark.parametrize(
    ("width", "height", "seconds", "one_thread"),
    [
        (1280, 720, 13, True),
        (1280, 720, 17, True),
        (640, 360, 60, True),
        (1920, 1080, 23, False),
        (1280, 720, 120, False),
    ],
)
def test_one_decoder_thread_only_for_samples_close_together(
    width: int, height: int, seconds: int, one_thread: bool
) -> None:
    # One thread decodes the frames between samples while the last sample is analysed; far apart,
    # decoding is the wait and keeps ffmpeg's threads.
    info = VideoInfo(
        Path("clip.mp4"),
        fps=30.0,
        duration_s=seconds,
        frame_count=30 * seconds,
        width=width,
        height=height,
        rotation=0,
        codec="h264",
    )
    wanted = sample_frame_indices(info, FrameSampling(n_frames=30))
    assert video.one_decoder_thread_keeps_up(wanted, info) is one_thread


# ---- probing and decoding --------------------------------------------------------------


def test_probe_reads_metadata_and_counts_frames(clips: dict[str, Path]) -> None:
    info = probe_video(clips["numbered"])
    assert (info.fps, info.frame_count, info.width, info.height, info.rotation, info.codec) == (
        10.0,
        30,
        64,
        48,
        0,
        "h264",
    )
    assert info.duration_s == pytest.approx(3.0, abs=0.05)


def test_probe_shared_clip_counts_stored_frames_not_padded_ones(shared_dir: Path) -> None:
    # Regression: this clip's video starts 0.85 s after its audio. Reading it at a constant
    # frame rate pads 25 copies of the first frame (300 frames); it holds 275.
    info = probe_video(shared_dir / "data" / "videos" / "real" / "short_hamilton_clip.mp4")
    assert (info.frame_count, info.width, info.height, info.fps) == (275, 640, 360, 29.97)
    frames = list(iter_frames(info.path, [0, 1], info=info))
    assert not np.array_equal(frames[0].rgb, frames[1].rgb)


def test_decoded_frames_are_the_requested_ones(clips: dict[str, Path]) -> None:
    info = probe_video(clips["numbered"])
    wanted = [0, 7, 8, 21, 29]
    frames = list(iter_frames(clips["numbered"], [29, 7, 0, 21, 8, 7], info=info))
    assert [f.frame_index for f in frames] == wanted
    assert [_frame_number(f.rgb) for f in frames] == wanted
    assert [f.time_s for f in frames] == pytest.approx([i / 10 for i in wanted])
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    frames[0].rgb[0, 0] = 1  # frames are writable


@pytest.mark.parametrize(
    "sampling",
    [
        FrameSampling(n_frames=7),
        FrameSampling(mode="every", every=4),
        FrameSampling(mode="all", start_s=1.2, end_s=2.05),
        FrameSampling(mode="all", max_frames=6),
    ],
)
def test_sampled_frames_decode_to_their_index(clips: dict[str, Path], sampling: FrameSampling) -> None:
    info, frames = iter_media_frames(clips["numbered"], sampling)
    expected = sample_frame_indices(info, sampling)
    decoded = [(f.frame_index, _frame_number(f.rgb)) for f in frames]
    assert decoded == [(i, i) for i in expected]


def test_many_indices_decode_without_the_select_filter(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "_MAX_SELECT_TERMS", 2)
    frames = list(iter_frames(clips["numbered"], [3, 5, 6, 11, 40]))
    assert [(f.frame_index, _frame_number(f.rgb)) for f in frames] == [(3, 3), (5, 5), (6, 6), (11, 11)]


def test_leaving_the_iterator_early_stops_decoding(clips: dict[str, Path]) -> None:
    frames = iter_frames(clips["numbered"], range(30))
    assert _frame_number(next(frames).rgb) == 0
    frames.close()


def test_one_frame_video(clips: dict[str, Path]) -> None:
    info, frames = iter_media_frames(clips["one_frame"])
    assert info is not None and info.frame_count == 1
    assert [f.frame_index for f in frames] == [0]


@pytest.mark.parametrize(
    "name, rotation, corner",
    [
        ("rot_ccw90", 270, "bottom_left"),  # turned counter-clockwise: top-left goes to bottom-left
        ("rot_cw90", 90, "top_right"),  # turned clockwise (phone "rotate=90"): top-left goes to top-right
        ("rot_180", 180, "bottom_right"),
    ],
)
def test_rotated_video_comes_out_upright(clips: dict[str, Path], name: str, rotation: int, corner: str) -> None:
    info = probe_video(clips[name])
    assert info.rotation == rotation
    expected_shape = (48, 64) if rotation == 180 else (64, 48)
    assert (info.height, info.width) == expected_shape
    frame = next(iter_frames(clips[name], [0], info=info)).rgb
    assert frame.shape[:2] == expected_shape
    gray = frame.mean(axis=2)
    corners = {
        "top_left": gray[:8, :8],
        "top_right": gray[:8, -8:],
        "bottom_left": gray[-8:, :8],
        "bottom_right": gray[-8:, -8:],
    }
    assert {key for key, patch in corners.items() if patch.mean() > 200} == {corner}


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty", r"empty \(0 bytes\)"),
        ("truncated", "moov atom not found"),
        ("random", "not a video ffmpeg can read"),
        ("audio_only", "no video stream"),
    ],
)
def test_bad_videos_raise_media_error(clips: dict[str, Path], name: str, message: str) -> None:
    with pytest.raises(MediaError, match=message) as info:
        probe_video(clips[name])
    text = str(info.value)
    assert text.startswith(f"{name}.mp4: ") and "\n" not in text
    with pytest.raises(MediaError):
        iter_media_frames(clips[name])


def test_missing_video_or_folder_raises_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="file not found"):
        probe_video(tmp_path / "nothing.mp4")
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    with pytest.raises(MediaError, match="folder.mp4: is a folder"):
        probe_video(folder)
    with pytest.raises(MediaError, match="folder.mp4: is a folder"):
        load_image(folder)


def test_is_video(tmp_path: Path, clips: dict[str, Path]) -> None:
    assert is_video("a.MP4") and is_video("b.webm") and not is_video("c.JPG") and not is_video("d.png")
    png_named_oddly = tmp_path / "picture.data"
    Image.new("RGB", (4, 4)).save(png_named_oddly, format="PNG")
    video_named_oddly = tmp_path / "clip.data"
    video_named_oddly.write_bytes(clips["numbered"].read_bytes())
    assert not is_video(png_named_oddly)
    assert is_video(video_named_oddly)


# ---- images ----------------------------------------------------------------------------
