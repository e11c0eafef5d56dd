"""Samples from reference pictures only (mesonet.media.reference_frames, through iter_frames).

The clips are made here with imageio-ffmpeg's ffmpeg: 10 s of moving 320x240 test pattern at
30 fps, one with x264's default B-frames (3 in a row, the middle one a reference) and one without.
A sample must be pixel-for-pixel the frame that exact, sequential decoding gives at the index it
reports, and that index at most one frame after the sampled one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mesonet.errors import MediaError
from mesonet.media import reference_frames
from mesonet.media.ffmpeg import probe_video
from mesonet.media.video import FrameSampling, iter_frames, sample_frame_indices
from tests.helpers import ffmpeg, pattern_clip

FPS = 30


def _clip(path: Path, b_frames: int) -> Path:
    return pattern_clip(path, seconds=10, fps=FPS, x264=("-preset", "veryfast", "-bf", str(b_frames)))


@pytest.fixture
def started_processes(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen]:
    """Every process started from now on (really started), in order."""
    started = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    return started


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reference")
    return {"b_frames": _clip(folder / "b_frames.mp4", 3), "no_b_frames": _clip(folder / "no_b_frames.mp4", 0)}


def _check_against_exact_decoding(path: Path, wanted: list[int]) -> list[int]:
    """Decodes `wanted` both ways; returns each sample's shift from its sampled frame."""
    info = probe_video(path)
    frames = list(iter_frames(path, wanted, info=info, exact=False))
    assert len(frames) == len(wanted)
    exact = {f.frame_index: f.rgb for f in iter_frames(path, [f.frame_index for f in frames], info=info, exact=True)}
    for frame in frames:
        assert np.array_equal(frame.rgb, exact[frame.frame_index]), frame.frame_index
        assert frame.time_s == pytest.approx(frame.frame_index / info.fps)
    return [f.frame_index - w for f, w in zip(frames, wanted)]


def test_samples_are_the_first_reference_pictures_at_or_after_them(clips: dict[str, Path]) -> None:
    path = clips["b_frames"]
    wanted = sample_frame_indices(probe_video(path), FrameSampling(n_frames=30))
    assert reference_frames.spaced_enough(wanted)
    shifts = _check_against_exact_decoding(path, wanted)
    assert set(shifts) == {0, 1}, shifts  # some samples were B-frames nothing refers to


def test_without_b_frames_the_samples_are_the_sampled_frames(clips: dict[str, Path]) -> None:
    path = clips["no_b_frames"]
    wanted = sample_frame_indices(probe_video(path), FrameSampling(n_frames=30))
    assert _check_against_exact_decoding(path, wanted) == [0] * 30


def test_a_rotated_video_comes_out_upright(clips: dict[str, Path], tmp_path: Path) -> None:
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", "-90", "-i", str(clips["b_frames"]), "-c", "copy", str(rotated))
    info = probe_video(rotated)
    assert (info.rotation, info.width, info.height) == (90, 240, 320)
    assert set(_check_against_exact_decoding(rotated, list(range(5, 300, 10)))) == {0, 1}


def test_shared_ff_clip_keeps_every_sample(shared_dir: Path) -> None:
    # 720p FF++ clip: 281 of its 390 pictures are B-frames, 187 of them referred to by none.
    path = shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"
    wanted = sample_frame_indices(probe_video(path), FrameSampling())
    assert set(_check_against_exact_decoding(path, wanted)) <= {0, 1}


def test_samples_closer_than_the_b_frames_are_decoded_exactly(clips: dict[str, Path]) -> None:
    path = clips["b_frames"]
    wanted = list(range(10, 100, 3))
    assert not reference_frames.spaced_enough(wanted)
    assert [f.frame_index for f in iter_frames(path, wanted, exact=False)] == wanted


@pytest.mark.parametrize(
    "wanted, expected",
    [([5], True), ([0, 4, 8], True), ([0, 4, 7], False), ([], False), (list(range(0, 4 * 301, 4)), False)],
)
def test_spaced_enough(wanted: list[int], expected: bool) -> None:
    assert reference_frames.spaced_enough(wanted) is expected


def _decoders(started: list[subprocess.Popen]) -> list[subprocess.Popen]:
    return [process for process in started if "noref" in process.args]


def test_leaving_early_stops_ffmpeg(clips: dict[str, Path], started_processes: list[subprocess.Popen]) -> None:
    frames = iter_frames(clips["b_frames"], list(range(0, 300, 10)), exact=False)
    next(frames)
    frames.close()
    assert len(_decoders(started_processes)) == 1
    assert _decoders(started_processes)[0].poll() is not None


def test_damage_is_concealed_as_in_exact_decoding(clips: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(clips["b_frames"].read_bytes())
    # The header and index (at the end of the file) stay; the middle of the picture data is noise.
    middle = len(data) // 2
    data[middle - 20_000 : middle + 20_000] = np.random.default_rng(0).integers(0, 256, 40_000, np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    wanted = list(range(0, 300, 10))
    # ffmpeg logs the damage between showinfo's lines and goes on; the pictures that decode are handed over.
    fast = list(iter_frames(damaged, wanted, exact=False))
    assert 0 < len(fast) == len(list(iter_frames(damaged, wanted, exact=True))) < len(wanted)


def test_ffmpeg_dying_part_way_is_a_media_error(clips: dict[str, Path], started_processes: list) -> None:
    frames = iter_frames(clips["b_frames"], list(range(0, 300, 10)), exact=False)
    next(frames)
    _decoders(started_processes)[0].kill()
    with pytest.raises(MediaError, match=r"^b_frames\.mp4: decoding failed part-way \(.+\)\. The file may be damaged"):
        list(frames)
