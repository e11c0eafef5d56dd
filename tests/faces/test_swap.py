"""mesonet.faces.swap: the classic face swap (landmarks, mesh, affine warps, colour, Poisson blending),
its "made here" labels, its video, and `mesonet faceswap`.

Real faces throughout: the authors' real crop real00240 is the SOURCE, NASA's astronaut portrait
(and the 3-second clip made from it) the TARGET.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mesonet.errors import CancelledError, FaceSwapError
from mesonet.faces.detect import extract_faces
from mesonet.faces.swap import (
    LABEL_TEXT,
    MADE_HERE,
    PROFILE_TURN,
    SwapResult,
    check_frontal,
    check_swap_output,
    draw_mesh,
    face_turn,
    find_swap_face,
    label_box,
    mark_made_here,
    sample_deepfake_face,
    save_swap_image,
    swap_faces,
    swap_video,
    triangulate,
)
from mesonet.media.images import load_image
from mesonet.media.samples import sample_path
from mesonet.media.video import iter_frames
from tests.helpers import FFMPEG, probe, run_cli

# The swapped face must differ from the target's by at least this much on average (0-255 levels);
# the astronaut's face and real00240's differ by about 25.
FACE_CHANGE_MIN = 12.0


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return load_image(sample_path("authors-real00240"))


@pytest.fixture(scope="module")
def target() -> np.ndarray:
    return load_image(sample_path("astronaut-photo"))


@pytest.fixture(scope="module")
def swapped(source: np.ndarray, target: np.ndarray) -> SwapResult:
    return swap_faces(source, target)


def _grown(mask: np.ndarray, share: float) -> np.ndarray:
    """The mask grown by `share` of the face's size (a square window): bool (H, W)."""
    rows, columns = np.nonzero(mask)
    radius = round(share * max(np.ptp(rows), np.ptp(columns)))
    padded = np.pad(mask > 0, radius)
    grown = np.zeros_like(padded)
    # A square dilation as a maximum over shifts: no image library needed in the test.
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            grown |= np.roll(padded, (dy, dx), axis=(0, 1))
    return grown[radius:-radius, radius:-radius] if radius else grown


def _outside_label(shape: tuple[int, ...]) -> np.ndarray:
    top, right, bottom, left = label_box(shape)
    keep = np.ones(shape[:2], dtype=bool)
    keep[top:bottom, left:right] = False
    return keep


def _looks_like_the_label(region: np.ndarray) -> bool:
    """A dark box (mostly near-black pixels) with light text on it, whatever was there before
    (tolerant of video compression)."""
    dark_share = (region.max(axis=2) < 48).mean()
    light_pixels = (region.min(axis=2) > 150).sum()
    return bool(dark_share > 0.5 and light_pixels > 20)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, bottom - top) * max(0, right - left)

    def area(box: tuple[int, int, int, int]) -> int:
        return (box[2] - box[0]) * (box[1] - box[3])

    return inter / (area(a) + area(b) - inter)


# ---- the swap of two photos ----------------------------------------------------------------------


def test_swap_has_the_target_size_and_every_step(swapped: SwapResult, target: np.ndarray) -> None:
    height, width = target.shape[:2]
    assert swapped.result.shape == target.shape and swapped.result.dtype == np.uint8
    assert swapped.warped.shape == swapped.corrected.shape == target.shape
    assert swapped.mask.shape == (height, width) and swapped.mask.dtype == np.uint8
    assert set(np.unique(swapped.mask)) == {0, 255}
    for landmarks in (swapped.source_landmarks, swapped.target_landmarks):
        assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    # Delaunay of 68 points with about 20 on the hull: 2 * 68 - 2 - hull triangles, every point a corner.
    assert swapped.triangles.ndim == 2 and swapped.triangles.shape[1] == 3
    assert 100 <= len(swapped.triangles) <= 134
    assert set(swapped.triangles.ravel().tolist()) == set(range(68))
    # The warped and corrected faces fill the mask and nothing else.
    inside = swapped.mask > 0
    assert not swapped.warped[~inside].any() and not swapped.corrected[~inside].any()
    assert (swapped.warped[inside].sum(axis=1) > 0).mean() > 0.99


def test_the_face_changes_and_the_background_does_not(swapped: SwapResult, target: np.ndarray) -> None:
    difference = np.abs(swapped.result.astype(int) - target.astype(int)).max(axis=2)
    inside = swapped.mask > 0
    assert difference[inside].mean() > FACE_CHANGE_MIN
    # Beyond the mask grown by 10% of the face's size (the blend reaches 6%), the target's own
    # pixels, exactly, except in the corner label.
    far = ~_grown(swapped.mask, 0.10) & _outside_label(target.shape)
    assert far.mean() > 0.8
    assert difference[far].max() == 0


def test_the_colours_are_matched_to_the_target_face(swapped: SwapResult, target: np.ndarray) -> None:
    inside = swapped.mask > 0
    target_mean = target[inside].astype(float).mean(axis=0)
    warped_gap = np.abs(swapped.warped[inside].astype(float).mean(axis=0) - target_mean).max()
    corrected_gap = np.abs(swapped.corrected[inside].astype(float).mean(axis=0) - target_mean).max()
    # real00240 is a dark video frame: its face is far darker than the astronaut's studio portrait.
    assert warped_gap > 40
    assert corrected_gap < 10


def test_a_face_is_found_in_the_result_where_the_target_face_was(swapped: SwapResult, target: np.ndarray) -> None:
    before = extract_faces(target)
    after = extract_faces(swapped.result)
    assert len(after) == 1
    assert _iou(after[0].box, before[0].box) > 0.5


def test_every_result_carries_the_label(swapped: SwapResult, source: np.ndarray, target: np.ndarray) -> None:
    unlabelled = swap_faces(source, target, label=False)
    top, right, bottom, left = label_box(target.shape)
    height, width = target.shape[:2]
    # Bottom right, small.
    assert bottom <= height and right <= width and bottom > 0.9 * height and right > 0.9 * width
    assert (right - left) * (bottom - top) < 0.05 * height * width
    outside = _outside_label(target.shape)
    assert np.array_equal(swapped.result[outside], unlabelled.result[outside])
    assert _looks_like_the_label(swapped.result[top:bottom, left:right])
    assert np.array_equal(mark_made_here(unlabelled.result), swapped.result)
    assert "MESONET STUDIO" in LABEL_TEXT


def test_mark_made_here_only_touches_its_corner(target: np.ndarray) -> None:
    marked = mark_made_here(target)
    assert marked.shape == target.shape and marked is not target
    outside = _outside_label(target.shape)
    assert np.array_equal(marked[outside], target[outside])
    top, right, bottom, left = label_box(target.shape)
    assert _looks_like_the_label(marked[top:bottom, left:right])
    # Works on small pictures too (an aligned crop), staying inside them.
    small = np.full((64, 96, 3), 200, dtype=np.uint8)
    top, right, bottom, left = label_box(small.shape)
    assert 0 <= left < right <= 96 and 0 <= top < bottom <= 64
    assert not np.array_equal(mark_made_here(small), small)


def test_draw_mesh_draws_on_a_copy_near_the_face(swapped: SwapResult, target: np.ndarray) -> None:
    drawn = draw_mesh(target, swapped.target_landmarks, swapped.triangles)
    assert drawn.shape == target.shape and drawn.dtype == np.uint8
    changed = np.abs(drawn.astype(int) - target).max(axis=2) > 0
    assert changed.sum() > 500
    # The dots on the hull's corners reach 3 pixels beyond the mask; 8% of this face is 7 pixels.
    far = ~_grown(swapped.mask, 0.08)
    assert not changed[far].any()
    assert np.array_equal(triangulate(swapped.target_landmarks), swapped.triangles)


# ---- faces that cannot be swapped ------------------------------------------------------------------


def test_no_face_is_a_clear_error(source: np.ndarray, target: np.ndarray) -> None:
    grey = np.full((300, 400, 3), 128, dtype=np.uint8)
    with pytest.raises(FaceSwapError, match="no face found") as error:
        swap_faces(grey, target, source_name="grey.png")
    assert str(error.value).startswith("grey.png: ") and "\n" not in str(error.value)
    with pytest.raises(FaceSwapError, match="the target photo: no face found"):
        swap_faces(source, grey)


def test_two_faces_of_similar_size_are_refused(shared_dir: Path) -> None:
    photo = load_image(shared_dir / "data" / "photos" / "two_people.jpg")
    with pytest.raises(FaceSwapError, match="2 faces found.*Crop the photo"):
        find_swap_face(photo, name="two_people.jpg")


def test_a_profile_view_is_refused_by_its_landmarks(swapped: SwapResult) -> None:
    frontal = swapped.target_landmarks
    assert abs(face_turn(frontal)) < 0.1
    check_frontal(frontal)
    # The same face with its nose tip (30) moved in front of the right outer eye corner (45): the
    # drawing of a head turned by about 50 degrees.
    turned = frontal.copy()
    turned[30, 0] = frontal[45, 0] - 0.1 * (frontal[45, 0] - frontal[36, 0])
    assert face_turn(turned) > PROFILE_TURN
    with pytest.raises(FaceSwapError, match="turned to the side"):
        check_frontal(turned, name="side.jpg")


# ---- output files -----------------------------------------------------------------------------------


def test_the_sample_deepfake_face_is_an_aligned_crop_of_the_swap_made_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESONET_CACHE_DIR", str(tmp_path))
    crop = sample_deepfake_face()
    assert crop.shape == (256, 256, 3) and crop.dtype == np.uint8
    assert extract_faces(crop, upsample=1)  # a face, framed as the networks read it
    astronaut = extract_faces(load_image(sample_path("astronaut-photo")))[0].crop
    assert np.abs(crop.astype(int) - astronaut).mean() > 5  # not the astronaut's own face
    made = next(tmp_path.rglob("astronaut_deepfake_face.png"))
    first_made = made.stat().st_mtime_ns
    assert np.array_equal(sample_deepfake_face(), crop)  # read back (PNG is lossless), not made again
    assert made.stat().st_mtime_ns == first_made


def test_saved_photos_say_where_they_were_made(swapped: SwapResult, tmp_path: Path) -> None:
    png = save_swap_image(swapped.result, tmp_path / "swap.png")
    with Image.open(png) as image:
        assert image.text["Comment"] == MADE_HERE and image.text["Software"] == "MesoNet Studio"
        assert np.array_equal(np.asarray(image.convert("RGB")), swapped.result)
    jpeg = save_swap_image(swapped.result, tmp_path / "swap.jpg")
    with Image.open(jpeg) as image:
        assert image.info["comment"] == MADE_HERE.encode()
    with pytest.raises(FaceSwapError, match=r"\.png or \.jpg"):
        save_swap_image(swapped.result, tmp_path / "swap.gif")


def test_output_paths_must_match_the_target_kind(tmp_path: Path) -> None:
    photo = sample_path("astronaut-photo")
    clip = sample_path("astronaut-clip")
    assert check_swap_output(tmp_path / "a.PNG", photo) == tmp_path / "a.PNG"
    assert check_swap_output(tmp_path / "a.mp4", clip) == tmp_path / "a.mp4"
    with pytest.raises(FaceSwapError, match="is a photo, so its swap is a photo too"):
        check_swap_output(tmp_path / "a.mp4", photo)
    with pytest.raises(FaceSwapError, match="is a video, so its swap is a video too"):
        check_swap_output(tmp_path / "a.png", clip)
    with pytest.raises(FaceSwapError, match="no such folder"):
        check_swap_output(tmp_path / "missing" / "a.png", photo)
    with pytest.raises(FaceSwapError, match="is the target itself"):
        check_swap_output(clip, clip)


# ---- video ------------------------------------------------------------------------------------------


def test_swap_video_is_an_h264_copy_with_the_face_swapped(source: np.ndarray, tmp_path: Path) -> None:
    clip = sample_path("astronaut-clip")  # 3 s, 25 fps, 640 x 360, made on first use
    out = tmp_path / "swapped.mp4"
    calls: list[tuple[int, int]] = []
    assert (
        swap_video(source, clip, out, max_seconds=2.0, progress=lambda done, total: calls.append((done, total))) == out
    )
    facts = probe(out)
    assert facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"
    assert facts["size"] == (640, 360) and facts["fps"] == 25
    assert facts["frames"] == 50
    assert facts["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert facts["audio"] is None
    assert calls[-1] == (50, 50) and len(calls) == 50
    header = subprocess.run([FFMPEG, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert f"comment         : {MADE_HERE}" in header
    assert [p.name for p in tmp_path.iterdir()] == ["swapped.mp4"]  # no partial file left

    # Frame 30 (most frames are followed by their landmarks, not detected): the face changed, and
    # the corner is labelled. The detector's box also holds some forehead, which stays: a lower bar.
    original = next(iter_frames(clip, [30])).rgb
    made = next(iter_frames(out, [30])).rgb
    top, right, bottom, left = extract_faces(original)[0].box
    face_change = np.abs(made[top:bottom, left:right].astype(int) - original[top:bottom, left:right]).mean()
    assert face_change > FACE_CHANGE_MIN / 2
    top, right, bottom, left = label_box(original.shape)
    assert _looks_like_the_label(made[top:bottom, left:right])
    assert not _looks_like_the_label(original[top:bottom, left:right])


def test_a_cancelled_video_leaves_no_file(source: np.ndarray, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError, match="cancelled after 0 of"):
        swap_video(source, sample_path("astronaut-clip"), tmp_path / "swapped.mp4", cancel=cancel)
    assert list(tmp_path.iterdir()) == []


# ---- `mesonet faceswap` -----------------------------------------------------------------------------


def test_cli_swaps_a_photo_and_prints_the_output(tmp_path: Path, target: np.ndarray) -> None:
    out = tmp_path / "swap.png"
    result = run_cli(
        "faceswap", str(sample_path("authors-real00240")), str(sample_path("astronaut-photo")), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    with Image.open(out) as image:
        assert image.size == (target.shape[1], target.shape[0])
        assert image.text["Comment"] == MADE_HERE


def test_cli_swaps_a_video(tmp_path: Path) -> None:
    out = tmp_path / "swap.mp4"
    source, clip = sample_path("authors-real00240"), sample_path("astronaut-clip")
    result = run_cli("faceswap", str(source), str(clip), "--out", str(out), "--max-seconds", "0.4")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    facts = probe(out)
    assert facts["frames"] == 10 and facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("text file as the source", "notes.jpg: not an image"),
        ("text file as the target", "notes.jpg: not an image"),
        ("photo target, video output", "is a photo, so its swap is a photo too"),
        ("video target, photo output", "is a video, so its swap is a video too"),
        ("video as the source", "is a video; the face to paste comes from a photo"),
        ("text file named .mp4 as the source", "notes.mp4: is a text file, not a video"),
        ("no face in the source", "grey.png: no face found"),
        ("no face in the target", "grey.png: no face found"),
    ],
)
def test_cli_errors_are_one_line(case: str, expected: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture\n")
    (tmp_path / "notes.mp4").write_text("not a video either\n")
    grey = tmp_path / "grey.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(grey)
    face, photo, clip = sample_path("authors-real00240"), sample_path("astronaut-photo"), sample_path("astronaut-clip")
    source, target, out = {
        "text file as the source": (notes, photo, "out.png"),
        "text file as the target": (face, notes, "out.png"),
        "photo target, video output": (face, photo, "out.mp4"),
        "video target, photo output": (face, clip, "out.png"),
        "video as the source": (clip, photo, "out.png"),
        "text file named .mp4 as the source": (tmp_path / "notes.mp4", photo, "out.png"),
        "no face in the source": (grey, photo, "out.png"),
        "no face in the target": (face, grey, "out.png"),
    }[case]
    result = run_cli("faceswap", str(source), str(target), "--out", str(tmp_path / out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mesonet: error: ") and expected in lines[0], result.stderr
    assert not (tmp_path / out).exists()


def test_the_sample_deepfake_is_made_once_and_then_found_as_a_sample(tmp_path: Path, monkeypatch) -> None:
    """Issue 23: a fake to show, offline: the authors' real crop real00240 on the astronaut clip."""
    from mesonet.errors import SampleError
    from mesonet.faces.swap import sample_deepfake
    from mesonet.media.samples import get_sample

    monkeypatch.setenv("MESONET_CACHE_DIR", str(tmp_path))
    assert get_sample("astronaut-deepfake").label == "fake"
    with pytest.raises(SampleError, match="made on first use"):
        sample_path("astronaut-deepfake")
    made = sample_deepfake()
    assert sample_path("astronaut-deepfake") == made and made.parent == tmp_path / "samples"
    facts = probe(made)
    assert (facts["codec"], facts["pix_fmt"]) == ("h264", "yuv420p")
    stamp = made.stat().st_mtime_ns
    assert sample_deepfake() == made and made.stat().st_mtime_ns == stamp  # made once
