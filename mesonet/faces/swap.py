"""A classic face swap, step by step: 68 landmarks, a triangle mesh, affine warps, colour matching and
Poisson blending. The face-swap lesson shows each step; every output carries a visible label.

Public API:
    SwapResult                               every intermediate step of one swap
    find_swap_face(image, *, name) -> np.ndarray (68, 2)      exactly one frontal face, or FaceSwapError
    face_turn(landmarks) -> float            how far the head is turned (0 frontal)
    check_frontal(landmarks, *, name)        FaceSwapError for a profile view
    triangulate(landmarks) -> np.ndarray (N, 3)               Delaunay triangles as landmark indices
    swap_faces(source, target, *, label, source_name, target_name) -> SwapResult
    swap_with_landmarks(source, source_landmarks, target, target_landmarks, *, label) -> SwapResult
    draw_mesh(image, landmarks, triangles) -> np.ndarray
    label_box(shape) -> Box                  where mark_made_here draws
    mark_made_here(image) -> np.ndarray      the visible "made here" label, bottom right
    check_swap_output(out, target) -> Path   an output path of the right kind, before any work
    save_swap_image(image, out) -> Path      PNG or JPEG, with a "made here" text chunk or comment
    swap_video(source, target_video, out, *, max_seconds, progress, cancel, source_name) -> Path
    sample_deepfake(progress) -> Path        the sample deepfake clip, made once
    sample_deepfake_face() -> np.ndarray     its face as an aligned crop, for the quizzes

The steps of `swap_with_landmarks`, in the order the lesson shows them:
1. Delaunay triangulation of the TARGET's 68 landmarks (cv2.Subdiv2D); the triangles are kept as
   triples of landmark indices, so the same triangles exist on the source face.
2. Each source triangle is warped onto its target triangle by the affine map of its three corners
   (cv2.getAffineTransform, cv2.warpAffine on the triangle's bounding rectangle only): `warped`.
3. The mask is the convex hull of the target's landmarks (cv2.fillConvexPoly): brows, eyes, nose,
   mouth and jaw line; the forehead and hair stay the target's.
4. Colour correction (after Reinhard et al., 2001, "Color transfer between images"): in CIELAB,
   the warped face's mean inside the mask is moved to the target face's mean there, in each
   channel; the two colour channels (a, b) also get the target's spread (standard deviation, the
   ratio kept within 0.5-2), lightness (L) keeps its own: its spread is the face's features (eyes,
   brows, shadows), which are what the swap carries over. Chosen over a blur-ratio correction
   because it is global (no blur radius to tune to the face's size, no halo where the warped face
   ends) and takes a few numbers a lesson can show; LAB separates lightness from hue, so a darker
   photo of the same skin tone changes mostly in L, and a camera's colour cast in a and b.
5. cv2.seamlessClone(..., cv2.NORMAL_CLONE) (Poisson blending: the source's gradients inside the
   mask, the target's pixels on its border), run on a crop around the face. It also changes pixels
   just outside the mask a little, so its output is laid over the target through the mask grown by
   3% of the face's size and feathered as much: farther from the face, `result` is the target's
   pixels exactly.

Coordinates as in mesonet.faces.detect: images are uint8 RGB arrays of shape (H, W, 3); boxes are
(top, right, bottom, left) pixels; landmarks are float32 (x, y) arrays of shape (68, 2) in pixels
of their own image.

OpenCV and face_recognition are imported on first use, as in mesonet.faces.detect.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from mesonet import config
from mesonet.errors import CancelledError, FaceSwapError
from mesonet.faces.align import Box, alignment_geometry, check_frame
from mesonet.faces.detect import SIDE_TO_BOX_RANGE, detect_faces, extract_faces, face_landmarks_68
from mesonet.media.ffmpeg import BROWSER_H264, probe_video
from mesonet.media.images import is_video, load_image, opencv
from mesonet.media.samples import get_sample, sample_path
from mesonet.media.video import iter_frames

Progress = Callable[[int, int], None]

LABEL_TEXT = "MADE WITH MESONET STUDIO \u00b7 SWAP"
MADE_HERE = "Made with MesoNet Studio (face swap)"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIX = ".mp4"
# A head turned so that the nose tip (landmark 30) lies more than this share of the distance
# between the outer eye corners (36, 45) away from their midpoint is a profile view: about 30-35
# degrees of turn. Frontal photos measure below 0.13 (the shipped and shared samples).
PROFILE_TURN = 0.25
# A second face counts as a rival to the largest when its box side is at least this share of the
# largest's; smaller ones (people far behind, posters) are ignored.
RIVAL_FACE_SHARE = 0.5
# How far the blend reaches beyond the mask, as a share of the face's size (grown, then feathered).
FEATHER_SHARE = 0.03
# Video: the face detector runs on one frame in this many; in between, each frame's box comes from
# the previous frame's landmarks (and the detector runs again at once when they are lost).
REDETECT_EVERY = 10
# Colour correction never scales a colour channel's spread by more than this factor, either way.
_MAX_STD_RATIO = 2.0
_MESH_RGB = (0, 230, 255)
_POINT_RGB = (255, 64, 64)
_LABEL_BOX_RGB = (16, 16, 16)
_LABEL_TEXT_RGB = (255, 255, 255)


@dataclass(eq=False)
class SwapResult:
    """Every step of one face swap, for the lesson page.

    Attributes:
        source_landmarks: float32 array (68, 2), (x, y) in source pixels.
        target_landmarks: float32 array (68, 2), (x, y) in target pixels.
        triangles: int32 array (N, 3): the Delaunay triangles of the target's landmarks, as
            landmark indices (the same indices give the source's triangles).
        warped: uint8 RGB array of the target's shape: the source face warped into the target's
            geometry, black outside the face.
        mask: uint8 array (H, W) of the target's size: 255 inside the convex hull of the target's
            landmarks, 0 elsewhere.
        corrected: `warped` after colour correction (black outside the mask).
        result: uint8 RGB array of the target's shape: the target with the source's face.
    """

    source_landmarks: np.ndarray
    target_landmarks: np.ndarray
    triangles: np.ndarray
    warped: np.ndarray
    mask: np.ndarray
    corrected: np.ndarray
    result: np.ndarray


# ---- the face to swap ---------------------------------------------------------------------------


def find_swap_face(image: np.ndarray, *, name: str = "the photo") -> np.ndarray:
    """The landmarks of the one frontal face of a photo.

    Args:
        image: uint8 RGB array of shape (H, W, 3).
        name: what to call the image in error messages (e.g. its file name).

    Returns:
        float32 array (68, 2): (x, y) in image pixels.

    Raises:
        FaceSwapError: no face, two or more faces of similar size (see RIVAL_FACE_SHARE), or a
            profile view (see face_turn).
    """
    check_frame(image)
    boxes = detect_faces(image)
    if not boxes:
        raise FaceSwapError(
            f"{name}: no face found. Use a photo of one face looking at the camera, large and well lit."
        )
    largest = _box_side(boxes[0])
    rivals = [box for box in boxes[1:] if _box_side(box) >= RIVAL_FACE_SHARE * largest]
    if rivals:
        raise FaceSwapError(
            f"{name}: {len(rivals) + 1} faces found, and a swap takes exactly one. Crop the photo to the face you want."
        )
    landmarks = face_landmarks_68(image, boxes[0])
    check_frontal(landmarks, name=name)
    return landmarks


def face_turn(landmarks: np.ndarray) -> float:
    """How far the head is turned left or right, from its landmarks. Pure.

    The nose tip (landmark 30) sticks out of the face: when the head turns, it moves away from the
    midpoint of the outer eye corners (36 and 45) along the line between them. Measured along that
    line, in units of the eye corners' distance: 0 for a frontal face, about 0.2 at 30 degrees of
    turn, 0.5 when the nose tip is in front of an eye corner. Positive towards landmark 45 (the
    right of the image).

    Args:
        landmarks: array (68, 2), (x, y).
    """
    points = np.asarray(landmarks, dtype=np.float64)
    outer_left, outer_right, nose_tip = points[36], points[45], points[30]
    axis = outer_right - outer_left
    length_sq = float(axis @ axis)
    if length_sq < 1e-6:
        return math.inf
    return float((nose_tip - (outer_left + outer_right) / 2) @ axis / length_sq)


def check_frontal(landmarks: np.ndarray, *, name: str = "the photo") -> None:
    """Refuses a profile view: |face_turn| over PROFILE_TURN (about 30-35 degrees of turn).

    A triangle mesh of a half-hidden face warps the hidden side's triangles into slivers, and the
    swap shows it; a face seen from the front swaps cleanly.

    Raises:
        FaceSwapError: the face is turned too far.
    """
    turn = face_turn(landmarks)
    if not abs(turn) <= PROFILE_TURN:
        raise FaceSwapError(
            f"{name}: the face is turned to the side (a profile view), and a swap needs a face seen from the front. "
            "Use a photo where both eyes and both cheeks are visible."
        )


def _box_side(box: Box) -> int:
    return max(box[2] - box[0], box[1] - box[3])


# ---- the swap -------------------------------------------------------------------------------------


def triangulate(landmarks: np.ndarray) -> np.ndarray:
    """The Delaunay triangles of a set of landmarks, as indices into it (cv2.Subdiv2D).

    Args:
        landmarks: float array (K, 2), (x, y); may lie outside the image.

    Returns:
        int32 array (N, 3) of landmark indices, each triangle once, in Subdiv2D's order.
    """
    cv2 = opencv()
    points = np.asarray(landmarks, dtype=np.float32)
    low = np.floor(points.min(axis=0)) - 1
    high = np.ceil(points.max(axis=0)) + 1
    subdiv = cv2.Subdiv2D((int(low[0]), int(low[1]), int(high[0] - low[0]) + 1, int(high[1] - low[1]) + 1))
    for x, y in points:
        subdiv.insert((float(x), float(y)))
    triangles = []
    seen = set()
    for corners in subdiv.getTriangleList().reshape(-1, 3, 2):
        # Subdiv2D returns coordinates; map each back to its landmark. Triangles touching the
        # three virtual outer vertices match no landmark and are dropped.
        distances = np.linalg.norm(points[None, :, :] - corners[:, None, :], axis=2)
        nearest = distances.argmin(axis=1)
        if distances[np.arange(3), nearest].max() > 0.5 or len(set(nearest)) < 3:
            continue
        key = tuple(sorted(int(i) for i in nearest))
        if key not in seen:
            seen.add(key)
            triangles.append([int(i) for i in nearest])
    return np.asarray(triangles, dtype=np.int32).reshape(-1, 3)


def swap_faces(
    source: np.ndarray,
    target: np.ndarray,
    *,
    label: bool = True,
    source_name: str = "the source photo",
    target_name: str = "the target photo",
) -> SwapResult:
    """Puts the face of `source` onto the face of `target`.

    Args:
        source: uint8 RGB array (H, W, 3): the photo whose face is pasted.
        target: uint8 RGB array (H', W', 3): the photo that receives it.
        label: draw the visible "made here" label on the result (mark_made_here).
        source_name, target_name: what to call the photos in error messages.

    Returns:
        The steps and the result (of the target's shape); see SwapResult.

    Raises:
        FaceSwapError: a photo without exactly one frontal face (see find_swap_face).
    """
    check_frame(target)
    source_landmarks = find_swap_face(source, name=source_name)
    target_landmarks = find_swap_face(target, name=target_name)
    return swap_with_landmarks(source, source_landmarks, target, target_landmarks, label=label)


def swap_with_landmarks(
    source: np.ndarray,
    source_landmarks: np.ndarray,
    target: np.ndarray,
    target_landmarks: np.ndarray,
    *,
    label: bool = True,
) -> SwapResult:
    """The swap of faces whose landmarks are known (steps 1-5 of the module docstring).

    Args:
        source: uint8 RGB array (H, W, 3).
        source_landmarks: array (68, 2), (x, y) in source pixels.
        target: uint8 RGB array (H', W', 3).
        target_landmarks: array (68, 2), (x, y) in target pixels.
        label: draw the visible "made here" label on the result.

    Raises:
        FaceSwapError: the target's face lies (almost) entirely outside the target.
    """
    check_frame(source)
    check_frame(target)
    source_landmarks = np.asarray(source_landmarks, dtype=np.float32)
    target_landmarks = np.asarray(target_landmarks, dtype=np.float32)
    triangles = triangulate(target_landmarks)
    warped, covered = _warp_triangles(source, source_landmarks, target.shape, target_landmarks, triangles)
    mask = _hull_mask(target_landmarks, target.shape) & covered
    if np.count_nonzero(mask) < 100:
        raise FaceSwapError("the target's face is (almost) outside the picture; use one where the whole face shows.")
    corrected = _match_colours(warped, target, mask)
    result = _blend(corrected, target, mask)
    if label:
        result = mark_made_here(result)
    return SwapResult(source_landmarks, target_landmarks, triangles, warped, mask, corrected, result)


def _warp_triangles(
    source: np.ndarray,
    source_landmarks: np.ndarray,
    target_shape: tuple[int, ...],
    target_landmarks: np.ndarray,
    triangles: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Warps each source triangle onto its target triangle; returns (warped RGB, covered mask 255/0)."""
    cv2 = opencv()
    height, width = target_shape[:2]
    source_height, source_width = source.shape[:2]
    warped = np.zeros((height, width, 3), dtype=np.uint8)
    covered = np.zeros((height, width), dtype=np.uint8)
    for indices in triangles:
        source_corners = source_landmarks[indices].astype(np.float32)
        target_corners = target_landmarks[indices].astype(np.float32)
        if _area(source_corners) < 0.5 or _area(target_corners) < 0.5:
            continue  # a degenerate triangle has no affine map
        # Only the triangles' bounding rectangles are read and written, clipped to the images.
        sx0, sy0 = np.maximum(np.floor(source_corners.min(axis=0)).astype(int) - 1, 0)
        sx1 = min(source_width, int(np.ceil(source_corners[:, 0].max())) + 2)
        sy1 = min(source_height, int(np.ceil(source_corners[:, 1].max())) + 2)
        tx0, ty0 = np.maximum(np.floor(target_corners.min(axis=0)).astype(int), 0)
        tx1 = min(width, int(np.ceil(target_corners[:, 0].max())) + 1)
        ty1 = min(height, int(np.ceil(target_corners[:, 1].max())) + 1)
        if sx1 - sx0 < 1 or sy1 - sy0 < 1 or tx1 <= tx0 or ty1 <= ty0:
            continue
        patch_source = np.ascontiguousarray(source[sy0:sy1, sx0:sx1])
        local_target = target_corners - np.float32([tx0, ty0])
        affine = cv2.getAffineTransform(source_corners - np.float32([sx0, sy0]), local_target)
        patch = cv2.warpAffine(
            patch_source,
            affine,
            (int(tx1 - tx0), int(ty1 - ty0)),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        inside = np.zeros((ty1 - ty0, tx1 - tx0), dtype=np.uint8)
        cv2.fillConvexPoly(inside, _fixed_point(local_target), 255, cv2.LINE_8, _SHIFT)
        region = inside > 0
        warped[ty0:ty1, tx0:tx1][region] = patch[region]
        covered[ty0:ty1, tx0:tx1][region] = 255
    return warped, covered


# Sub-pixel polygon corners for OpenCV's drawing functions: coordinates times 2**_SHIFT.
_SHIFT = 4


def _fixed_point(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64) * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def _area(corners: np.ndarray) -> float:
    (x0, y0), (x1, y1), (x2, y2) = corners.astype(np.float64)
    return abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / 2


def _hull_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    cv2 = opencv()
    mask = np.zeros(shape[:2], dtype=np.uint8)
    hull = cv2.convexHull(np.asarray(landmarks, dtype=np.float32))
    cv2.fillConvexPoly(mask, _fixed_point(hull.reshape(-1, 2)), 255, cv2.LINE_8, _SHIFT)
    return mask


def _mask_bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the smallest rectangle [x0, x1) x [y0, y1) holding the mask's pixels."""
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def _match_colours(warped: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Step 4: the warped face's LAB means, and its a and b spreads, matched to the target's inside the mask."""
    cv2 = opencv()
    x0, y0, x1, y1 = _mask_bounds(mask)
    inside = mask[y0:y1, x0:x1] > 0

    def lab(image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]).astype(np.float32) / 255, cv2.COLOR_RGB2LAB)

    face, reference = lab(warped), lab(target)
    face_pixels, reference_pixels = face[inside], reference[inside]
    face_mean, face_std = face_pixels.mean(axis=0), face_pixels.std(axis=0)
    ratio = np.clip(reference_pixels.std(axis=0) / np.maximum(face_std, 1e-3), 1 / _MAX_STD_RATIO, _MAX_STD_RATIO)
    ratio[0] = 1.0  # lightness keeps its spread: the eyes, brows and shadows of the source face
    matched = (face - face_mean) * ratio + reference_pixels.mean(axis=0)
    rgb = np.clip(cv2.cvtColor(matched.astype(np.float32), cv2.COLOR_LAB2RGB), 0, 1)
    corrected = np.zeros_like(warped)
    corrected[y0:y1, x0:x1][inside] = np.round(rgb[inside] * 255).astype(np.uint8)
    return corrected


def _blend(corrected: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Step 5: Poisson blending on a crop around the face, laid over the target through a feathered mask."""
    cv2 = opencv()
    height, width = mask.shape
    x0, y0, x1, y1 = _mask_bounds(mask)
    grow = max(2, round(FEATHER_SHARE * max(x1 - x0, y1 - y0)))
    # The crop holds the grown and feathered mask (2 * grow) with room to spare, so the feather
    # never meets the crop's border and the pixels beyond it stay the target's.
    margin = 2 * grow + 2
    cx0, cy0 = max(0, x0 - margin), max(0, y0 - margin)
    cx1, cy1 = min(width, x1 + margin), min(height, y1 + margin)
    destination = np.ascontiguousarray(target[cy0:cy1, cx0:cx1])
    patch = np.ascontiguousarray(corrected[cy0:cy1, cx0:cx1])
    region = mask[cy0:cy1, cx0:cx1].copy()
    # seamlessClone keeps the crop's border as the boundary condition: the mask must not touch it
    # (it does when the face reaches the picture's edge).
    region[[0, -1], :] = 0
    region[:, [0, -1]] = 0
    rows, columns = np.nonzero(region == 255)
    # seamlessClone centres the mask's bounding box (its last row and column excluded) on this
    # point: this centre puts the face back exactly where it was.
    centre = (
        int(columns.min() + (columns.max() - columns.min()) // 2),
        int(rows.min() + (rows.max() - rows.min()) // 2),
    )
    cloned = cv2.seamlessClone(patch, destination, region, centre, cv2.NORMAL_CLONE)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    grown = cv2.dilate(mask[cy0:cy1, cx0:cx1], kernel).astype(np.float32) / 255
    alpha = cv2.GaussianBlur(grown, (2 * grow + 1, 2 * grow + 1), 0)[..., None]
    blended = destination.astype(np.float32) * (1 - alpha) + cloned.astype(np.float32) * alpha
    result = target.copy()
    result[cy0:cy1, cx0:cx1] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return result


# ---- pictures for the lesson ------------------------------------------------------------------------


def draw_mesh(image: np.ndarray, landmarks: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """A copy of `image` with the triangle mesh and the landmarks drawn on it.

    Args:
        image: uint8 RGB array (H, W, 3).
        landmarks: array (68, 2), (x, y) in the image's pixels.
        triangles: int array (N, 3) of landmark indices (SwapResult.triangles); may be empty.

    Returns:
        uint8 RGB array of the same shape: cyan triangle edges, red landmark dots.
    """
    cv2 = opencv()
    check_frame(image)
    canvas = np.ascontiguousarray(image).copy()
    points = np.asarray(landmarks, dtype=np.float32)
    thickness = max(1, round(min(image.shape[:2]) / 400))
    polygons = [_fixed_point(points[indices]) for indices in np.asarray(triangles, dtype=int).reshape(-1, 3)]
    if polygons:
        cv2.polylines(canvas, polygons, True, _MESH_RGB, thickness, cv2.LINE_AA, _SHIFT)
    radius = (thickness + 1) << _SHIFT
    for point in _fixed_point(points).reshape(-1, 2):
        cv2.circle(canvas, (int(point[0]), int(point[1])), radius, _POINT_RGB, -1, cv2.LINE_AA, _SHIFT)
    return canvas


@functools.cache
def _label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own font (shipped inside Pillow: nothing is fetched), `size` pixels high."""
    return ImageFont.load_default(size=size)


def _label_layout(shape: tuple[int, ...]) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, Box, int]:
    """The label's font, its box (top, right, bottom, left) and its padding, for an image of `shape`."""
    height, width = shape[:2]
    size = max(8, round(min(height, width) * 0.02))
    while True:
        font = _label_font(size)
        left, top, right, bottom = font.getbbox(LABEL_TEXT)
        pad = max(2, size // 3)
        box_width, box_height = right - left + 2 * pad, bottom - top + 2 * pad
        # Small: at most 60% of the width, however small the picture (down to 6-pixel text).
        if box_width <= 0.6 * width or size <= 6:
            break
        size -= 1
    right_edge, bottom_edge = width - pad, height - pad
    box = (max(0, bottom_edge - box_height), right_edge, bottom_edge, max(0, right_edge - box_width))
    return font, box, pad


def label_box(shape: tuple[int, ...]) -> Box:
    """Where mark_made_here draws on an image of `shape` (H, W, ...): (top, right, bottom, left) pixels."""
    return _label_layout(shape)[1]


def mark_made_here(image: np.ndarray) -> np.ndarray:
    """A copy of `image` with a small visible label in its bottom-right corner:
    "MADE WITH MESONET STUDIO · SWAP", white on a dark box, so that no swap leaves the app unmarked.

    Args:
        image: uint8 RGB array (H, W, 3).

    Returns:
        uint8 RGB array of the same shape; only the pixels in label_box(image.shape) differ.
    """
    check_frame(image)
    font, (top, right, bottom, left), pad = _label_layout(image.shape)
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((left, top, right - 1, bottom - 1), fill=_LABEL_BOX_RGB)
    text_left, text_top = font.getbbox(LABEL_TEXT)[:2]
    draw.text((left + pad - text_left, top + pad - text_top), LABEL_TEXT, font=font, fill=_LABEL_TEXT_RGB)
    return np.asarray(picture).copy()


# ---- files ------------------------------------------------------------------------------------------


def check_swap_output(out: str | Path, target: str | Path) -> Path:
    """Refuses an output path that cannot take the swap of `target`, before any work is done.

    A photo's swap is a PNG or JPEG file, a video's an MP4 file.

    Raises:
        FaceSwapError: the wrong kind of file for the target, a folder, a folder that does not
            exist, or the target itself.
    """
    out, target = Path(out), Path(target)
    suffix = out.suffix.lower()
    if is_video(target):
        if suffix != VIDEO_SUFFIX:
            raise FaceSwapError(
                f"{out.name}: {target.name} is a video, so its swap is a video too; give an output name ending in .mp4."
            )
    elif suffix not in IMAGE_SUFFIXES:
        raise FaceSwapError(
            f"{out.name}: {target.name} is a photo, so its swap is a photo too; "
            "give an output name ending in .png or .jpg."
        )
    if out.is_dir():
        raise FaceSwapError(f"{out}: is a folder; give a file name for the swap.")
    if not out.parent.is_dir():
        raise FaceSwapError(f"{out.parent}: no such folder for the swap. Create it or choose another path.")
    if out.exists() and target.exists() and os.path.samefile(out, target):
        raise FaceSwapError(f"{out.name}: is the target itself; choose another name so the original is kept.")
    return out


def save_swap_image(image: np.ndarray, out: str | Path) -> Path:
    """Writes a swapped photo as PNG (with "Software" and "Comment" text chunks saying where it was
    made) or JPEG (with a comment saying so, quality 95).

    Args:
        image: uint8 RGB array (H, W, 3), normally SwapResult.result (which carries the visible label).
        out: a path ending in .png, .jpg or .jpeg.

    Raises:
        FaceSwapError: another suffix, or the file cannot be written.
    """
    check_frame(image)
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise FaceSwapError(f"{out.name}: a swapped photo is saved as PNG or JPEG; give a name ending in .png or .jpg.")
    picture = Image.fromarray(image)
    try:
        if suffix == ".png":
            info = PngInfo()
            info.add_text("Software", "MesoNet Studio")
            info.add_text("Comment", MADE_HERE)
            picture.save(out, format="PNG", pnginfo=info)
        else:
            picture.save(out, format="JPEG", quality=95, comment=MADE_HERE.encode())
    except OSError as exc:
        raise FaceSwapError(f"{out}: cannot write the swap there ({exc.strerror or exc}).") from exc
    return out


# ---- video ------------------------------------------------------------------------------------------


class _FaceFollower:
    """Follows the largest face of a video by its landmarks (see REDETECT_EVERY).

    Between detections, a frame's box is the previous frame's landmarks' bounding box, moved and
    scaled the way the detector's box sat on the landmarks when it last found the face, so that the
    landmark model always sees boxes like the detector's and does not drift.
    """

    def __init__(self) -> None:
        self.box: Box | None = None
        self.fit: np.ndarray | None = None  # the detector box's edges in landmark-box units
        self.frames_since_detection = 0

    def landmarks(self, frame: np.ndarray) -> np.ndarray | None:
        """The followed face's landmarks in this frame, or None when there is no usable face."""
        if self.box is not None and self.fit is not None and self.frames_since_detection < REDETECT_EVERY:
            points = face_landmarks_68(frame, self.box)
            if self._usable(points, self.box, frame.shape):
                self.frames_since_detection += 1
                self.box = self._box_from(points)
                return points
        boxes = detect_faces(frame, near=self.box)
        self.frames_since_detection = 0
        if not boxes:
            self.box = self.fit = None
            return None
        box = boxes[0]
        points = face_landmarks_68(frame, box)
        if not self._usable(points, box, frame.shape):
            self.box, self.fit = box, None  # search near it next time, without trusting its landmarks
            return None
        low, size = self._extent(points)
        top, right, bottom, left = box
        # (left, top, right, bottom) of the box, in units of the landmarks' bounding box.
        self.fit = (np.array([left, top, right, bottom], dtype=np.float64) - np.tile(low, 2)) / np.tile(size, 2)
        self.box = box
        return points

    def _box_from(self, points: np.ndarray) -> Box:
        low, size = self._extent(points)
        left, top, right, bottom = np.tile(low, 2) + self.fit * np.tile(size, 2)
        return (round(top), round(right), round(bottom), round(left))

    @staticmethod
    def _extent(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The landmarks' bounding box: its (x, y) corner and its (width, height), at least 1 pixel."""
        low = points.min(axis=0).astype(np.float64)
        return low, np.maximum(points.max(axis=0) - low, 1.0)

    @staticmethod
    def _usable(points: np.ndarray, box: Box, shape: tuple[int, ...]) -> bool:
        height, width = shape[:2]
        centre_x, centre_y = points.mean(axis=0)
        if not (0 <= centre_x < width and 0 <= centre_y < height):
            return False
        low, high = SIDE_TO_BOX_RANGE
        side = alignment_geometry(points).side_px
        return low * _box_side(box) <= side <= high * _box_side(box) and abs(face_turn(points)) <= PROFILE_TURN


def swap_video(
    source: np.ndarray,
    target_video: str | Path,
    out: str | Path,
    *,
    max_seconds: float | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    source_name: str = "the source photo",
) -> Path:
    """Puts the face of a photo onto the largest face of every frame of a video.

    The face is followed by its landmarks (see _FaceFollower and REDETECT_EVERY): a frame costs one
    landmark fit, the warp of about 110 triangles and a Poisson blend of the face's crop, and one
    frame in ten a face detection too; frames without a usable face (none, or turned to the side)
    are written unchanged. Every frame gets the visible label (mark_made_here), and the MP4 the
    metadata comment "Made with MesoNet Studio (face swap)".

    The MP4 is H.264, yuv420p, BT.709, `+faststart`, at the video's frame rate and size (an odd
    width or height loses its last column or row: H.264 in yuv420p needs even sizes), without
    audio. Frames are decoded by mesonet.media.video (the safe input, bounded in CPU time) and
    streamed: one frame is in memory at a time. The file appears only when complete: it is written
    under a hidden name in the destination folder and renamed at the end.

    Args:
        source: uint8 RGB array (H, W, 3): the photo whose face is pasted.
        target_video: the video that receives it.
        out: the MP4 file to write (replaced if it exists).
        max_seconds: swap only the video's first this many seconds (default: all of it).
        progress: called with (frames written, frames to write) after each frame.
        cancel: set it from another thread to stop between frames (raises CancelledError).
        source_name: what to call the photo in error messages.

    Returns:
        `out`.

    Raises:
        FaceSwapError: no single frontal face in the photo, no face in any frame of the video, a
            wrong output path, a video longer than this server's cap, or encoding failed.
        MediaError: the video cannot be read.
        CancelledError: `cancel` was set.
    """
    import imageio_ffmpeg

    check_frame(source)
    target_video = Path(target_video)
    out = check_swap_output(out, target_video)
    if max_seconds is not None and not max_seconds > 0:
        raise FaceSwapError(f"The length to swap must be more than 0 seconds, got {max_seconds}.")
    info = probe_video(target_video)
    source_landmarks = find_swap_face(source, name=source_name)
    count = info.frame_count
    if max_seconds is not None:
        count = min(count, max(1, math.ceil(max_seconds * info.fps - 1e-6)))
    cap = config.max_annotated_frames()
    if count > cap:
        raise FaceSwapError(
            f"{target_video.name}: {count:,} frames is more than a made video may cover here ({cap:,} frames); "
            "swap a shorter part (--max-seconds) and try again."
        )
    width, height = info.width // 2 * 2, info.height // 2 * 2
    partial = out.parent / f".{out.stem}.{uuid.uuid4().hex[:12]}.part.mp4"
    try:
        partial.open("xb").close()
    except OSError as exc:
        raise FaceSwapError(f"{out.parent}: cannot write the swapped video there ({exc.strerror}).") from exc
    output_params = [
        *BROWSER_H264,
        *["-metadata", f"comment={MADE_HERE}", "-f", "mp4"],
    ]
    writer = imageio_ffmpeg.write_frames(
        f"file:{partial}",
        (width, height),
        fps=Fraction(info.fps).limit_denominator(1001),
        codec="libx264",
        quality=None,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=output_params,
    )
    written = swapped = 0
    try:
        writer.send(None)
        follower = _FaceFollower()
        # Closed at once on any exit, so the decoder never outlives the work.
        with contextlib.closing(iter_frames(target_video, range(count), info=info)) as frames:
            for frame in frames:
                if cancel is not None and cancel.is_set():
                    raise CancelledError(f"{target_video.name}: face swap cancelled after {written} of {count} frames.")
                picture = np.ascontiguousarray(frame.rgb[:height, :width])
                landmarks = follower.landmarks(picture)
                if landmarks is not None:
                    try:
                        picture = swap_with_landmarks(source, source_landmarks, picture, landmarks, label=False).result
                        swapped += 1
                    except FaceSwapError:
                        pass  # the face left the picture: this frame stays as it was
                try:
                    writer.send(mark_made_here(picture))
                except OSError as exc:
                    raise FaceSwapError(f"encoding the swapped video failed ({str(exc).splitlines()[0]}).") from exc
                written += 1
                if progress is not None:
                    progress(written, count)
        writer.close()
        if written == 0 or partial.stat().st_size == 0:
            raise FaceSwapError(f"{target_video.name}: no frame could be decoded and encoded. Check the video file.")
        if swapped == 0:
            raise FaceSwapError(
                f"{target_video.name}: no face seen from the front in any of the {written} frames, so nothing was "
                "swapped. Use a video where one face looks at the camera."
            )
        os.replace(partial, out)
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)  # never a half-written file, whatever stopped the work
        raise
    return out


# The sample deepfake: the authors' real crop real00240 (Apache-2.0) on the astronaut clip (public domain).
SAMPLE_SOURCE = "authors-real00240"
SAMPLE_NAME = "astronaut-deepfake"
SAMPLE_FACE_FILE = "astronaut_deepfake_face.png"


def sample_deepfake(progress: Progress | None = None) -> Path:
    """The sample deepfake clip, made once into the samples cache (about 75 frames: 20-40 s on 2 cores)."""
    out = config.samples_cache_dir() / get_sample(SAMPLE_NAME).relpath
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    source = load_image(sample_path(SAMPLE_SOURCE))
    return swap_video(source, sample_path("astronaut-clip"), out, progress=progress, source_name="real00240")


def sample_deepfake_face() -> np.ndarray:
    """The sample deepfake's face as an aligned 256x256 crop: the same swap (real00240 onto the astronaut)
    made on the photo the clip pans over, so the quizzes have a fake made here without decoding the clip.
    Made once into the samples cache (about 1 s)."""
    out = config.samples_cache_dir() / SAMPLE_FACE_FILE
    if out.is_file():
        return load_image(out)
    source, target = load_image(sample_path(SAMPLE_SOURCE)), load_image(sample_path("astronaut-photo"))
    swapped = swap_faces(source, target, source_name="real00240", target_name="the astronaut photo").result
    crop = extract_faces(swapped)[0].crop
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{uuid.uuid4().hex}.png")  # two sessions may make it at once
    Image.fromarray(crop).save(partial)
    partial.replace(out)
    return crop
