"""Seeking in long videos (mesonet.media.seek through iter_frames and FrameSampling.exact).

The clips are made here with imageio-ffmpeg's ffmpeg: 2 minutes of 320x240 test pattern at
30 fps (moving, so every frame differs), one with a keyframe every second (phones) and one with
a single keyframe (the worst case). A seeked frame must be pixel-for-pixel the frame that exact,
sequential decoding gives at the index it reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mesonet.media import seek as video_seek
from mesonet.media.ffmpeg import probe_video
from mesonet.media.video import FrameSampling, iter_frames, sample_frame_indices
from tests.helpers import pattern_clip

FPS = 30
SECONDS = 120


def _clip(path: Path, keyframe_interval: int) -> Path:
    gop = ("-g", str(keyframe_interval), "-keyint_min", str(keyframe_interval), "-sc_threshold", "0")
    return pattern_clip(path, seconds=SECONDS, fps=FPS, x264=("-preset", "ultrafast", *gop))


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("long")
    return {
        "keyframe_every_second": _clip(folder / "phone_like.mp4", FPS),
        "one_keyframe": _clip(folder / "one_keyframe.mp4", FPS * SECONDS),
    }


def _exact(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    return {f.frame_index: f.rgb for f in iter_frames(path, indices, exact=True)}


def test_sparse_samples_are_the_keyframes_before_them_with_their_own_index_and_time(long_clips) -> None:
    path = long_clips["keyframe_every_second"]
    info = probe_video(path)
    wanted = [95, 1700, 3500]  # far apart: seeking beats decoding 3,500 frames
    assert video_seek.wants_seeking(wanted, info)
    frames = list(iter_frames(path, wanted, info=info, exact=False))
    assert [f.frame_index for f in frames] == [90, 1680, 3480]  # the keyframes at or before each target
    assert [f.time_s for f in frames] == pytest.approx([3.0, 56.0, 116.0])
    reference = _exact(path, [f.frame_index for f in frames])
    for frame in frames:
        assert np.array_equal(frame.rgb, reference[frame.frame_index]), frame.frame_index


def test_a_keyframe_too_far_from_the_target_gives_the_exact_frame(long_clips) -> None:
    path = long_clips["one_keyframe"]
    wanted = [1700, 3500]
    frames = list(iter_frames(path, wanted, exact=False))
    assert [f.frame_index for f in frames] == wanted
    reference = _exact(path, wanted)
    assert all(np.array_equal(f.rgb, reference[f.frame_index]) for f in frames)


def test_exact_mode_and_dense_samples_never_seek(long_clips) -> None:
    path = long_clips["keyframe_every_second"]
    info = probe_video(path)
    assert not video_seek.wants_seeking(sample_frame_indices(info, FrameSampling(n_frames=30)), info)
    frames = list(iter_frames(path, [95, 1700, 3500], info=info, exact=True))
    assert [f.frame_index for f in frames] == [95, 1700, 3500]


def test_a_time_range_starts_with_a_seek_and_keeps_exact_frames(long_clips, shared_dir: Path) -> None:
    # The Hamilton clip's video starts 0.85 s after its audio: seek positions must allow for it.
    for path in (
        long_clips["keyframe_every_second"],
        shared_dir / "data" / "videos" / "real" / "short_hamilton_clip.mp4",
    ):
        info = probe_video(path)
        sampling = FrameSampling(mode="all", start_s=5.0, end_s=5.3)
        wanted = sample_frame_indices(info, sampling)
        assert video_seek.start_seek_params(path, wanted[0], info), "the range should start with a seek"
        frames = list(iter_frames(path, wanted, info=info, exact=False))
        assert [f.frame_index for f in frames] == wanted
        reference = _exact(path, wanted)
        assert all(np.array_equal(f.rgb, reference[f.frame_index]) for f in frames), path.name


def test_cli_detect_reports_the_frames_decoded_and_exact_keeps_the_sampled_ones(long_clips, tmp_path: Path) -> None:
    path = long_clips["keyframe_every_second"]
    reports = {}
    for mode, extra in (("fast", []), ("exact", ["--exact"])):
        out = tmp_path / f"{mode}.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mesonet",
                "detect",
                str(path),
                "--start",
                "1",
                "--frames",
                "2",
                "--json",
                str(out),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        reports[mode] = [(f["index"], f["time_s"]) for f in json.loads(out.read_text())[0]["frames"]]
    # The middles of the two halves of frames 30-3599, then the keyframes (every 30th frame) before them.
    assert reports["exact"] == [(922, pytest.approx(922 / FPS)), (2707, pytest.approx(2707 / FPS))]
    assert reports["fast"] == [(900, 30.0), (2700, 90.0)]
    assert json.loads((tmp_path / "exact.json").read_text())[0]["settings"]["sampling"]["exact"] is True
