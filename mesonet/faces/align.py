"""The MesoNet authors' face alignment: landmark geometry and the aligned 256 x 256 crop.

Coordinates as in mesonet.faces.detect: frames are uint8 RGB arrays of shape (H, W, 3); boxes are
(top, right, bottom, left) integer pixels; points are (x, y) floats in frame pixels, with
(0, 0) the centre of the top-left pixel (dlib's convention). Pure: no face detector here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from mesonet.media.images import opencv

Box = tuple[int, int, int, int]

# The side of an aligned crop in pixels, which is the networks' input (256 x 256): the only place that says 256.
INPUT_SIZE = 256
"""(top, right, bottom, left) in pixels of the original frame."""


# The 68-point (iBUG 300-W) indices of each part, as face_recognition names them. The lips
# repeat points (48, 54, 60, 64) exactly as face_recognition's dicts do, so that part centres
# (means) match the authors' pipeline, which used those dicts.
PART_INDICES: dict[str, tuple[int, ...]] = {
    "chin": tuple(range(0, 17)),
    "left_eyebrow": tuple(range(17, 22)),
    "right_eyebrow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "nose_tip": tuple(range(31, 36)),
    "left_eye": tuple(range(36, 42)),
    "right_eye": tuple(range(42, 48)),
    "top_lip": (48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60),
    "bottom_lip": (54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64),
}


class Alignment(NamedTuple):
    """Where a crop was taken.

    Attributes:
        center: (x, y) of the crop centre, in frame pixels.
        side_px: side of the square kept, in frame pixels (before resizing to the crop size).
        angle_deg: the face's tilt; the crop is the frame rotated by -angle_deg
            (positive when the mouth is right of the eyes' midpoint, in the image).
    """

    center: tuple[float, float]
    side_px: float
    angle_deg: float


def check_frame(frame: np.ndarray) -> None:
    if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3):
        raise ValueError(
            "frame must be a uint8 RGB array of shape (H, W, 3), got "
            f"{getattr(frame, 'dtype', type(frame))} {getattr(frame, 'shape', '')}."
        )


def landmark_parts(points: np.ndarray) -> dict[str, np.ndarray]:
    """Names the 68 landmarks the way face_recognition.face_landmarks does.

    Args:
        points: array of shape (68, 2), (x, y).

    Returns:
        {"chin", "left_eyebrow", "right_eyebrow", "nose_bridge", "nose_tip", "left_eye",
        "right_eye", "top_lip", "bottom_lip"} -> float arrays of shape (k, 2). The lips hold
        12 points each, with repeats, as in face_recognition.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"Expected 68 landmarks of shape (68, 2), got {points.shape}.")
    return {name: points[list(indices)] for name, indices in PART_INDICES.items()}


def alignment_geometry(parts: Mapping[str, Sequence] | np.ndarray) -> Alignment:
    """The MesoNet authors' crop geometry from facial landmarks. Pure.

    With E1, E2 the centres (means) of the eye points, E = (E1 + E2) / 2, B the midpoint of
    the top-lip and bottom-lip centres, and C the midpoint of the nose-tip and nose-bridge
    centres:
      - center = C;
      - side_px = 2.2 * max(|E1 - E2|, |B - E|) * 1.3;
      - angle_deg = degrees(atan((B.x - E.x) / (B.y - E.y))); when B.y == E.y, +90 if
        B.x > E.x, -90 if B.x < E.x (0 if B == E).
    The angle is the tilt of the eyes-to-mouth axis from the image's vertical; rotating the
    frame by -angle_deg (clockwise by angle_deg as seen on screen) makes the face upright.

    Args:
        parts: named parts as returned by face_recognition.face_landmarks or landmark_parts
            (needs left_eye, right_eye, top_lip, bottom_lip, nose_tip, nose_bridge), or the
            (68, 2) landmark array.

    Returns:
        Alignment(center=(x, y), side_px, angle_deg), in frame pixels and degrees.
    """
    if isinstance(parts, np.ndarray):
        parts = landmark_parts(parts)

    def centre(name: str) -> np.ndarray:
        return np.asarray(parts[name], dtype=np.float64).reshape(-1, 2).mean(axis=0)

    eye1, eye2 = centre("left_eye"), centre("right_eye")
    eyes = (eye1 + eye2) / 2
    mouth = (centre("top_lip") + centre("bottom_lip")) / 2
    nose = (centre("nose_tip") + centre("nose_bridge")) / 2
    side = 2.2 * max(float(np.linalg.norm(eye1 - eye2)), float(np.linalg.norm(mouth - eyes))) * 1.3
    dx, dy = mouth - eyes
    if dy != 0:
        angle = math.degrees(math.atan(dx / dy))
    else:
        angle = 90.0 if dx > 0 else -90.0 if dx < 0 else 0.0
    return Alignment((float(nose[0]), float(nose[1])), side, angle)


def align_face(
    frame: np.ndarray, parts: Mapping[str, Sequence] | np.ndarray, *, size: int = INPUT_SIZE
) -> tuple[np.ndarray, Alignment]:
    """Cuts the aligned face crop the MesoNet authors' way.

    Equivalent to: take the square of side sqrt(2) * side_px around the centre (reflecting
    the frame where it goes outside), rotate it by -angle_deg, keep the central
    side_px x side_px square and resize it to size x size. Done as one affine warp of just
    that region; bilinear sampling, and when the face is bigger than `size`, Pillow's
    antialiased bilinear downscaling (no aliasing).

    Args:
        frame: uint8 RGB array of shape (H, W, 3).
        parts: named landmark parts or the (68, 2) landmark array (see alignment_geometry).
        size: side of the output crop in pixels.

    Returns:
        (crop, alignment): crop is uint8 RGB of shape (size, size, 3).
    """
    check_frame(frame)
    geometry = alignment_geometry(parts)
    return warp_square(frame, geometry, size), geometry


def margin_crop(
    frame: np.ndarray, box: Box, *, margin: float = 0.3, size: int = INPUT_SIZE
) -> tuple[np.ndarray, Alignment]:
    """An upright square crop around a detector box, for when landmarks are not usable.

    The square is centred on the box; its side is (1 + 2 * margin) times the box's longer
    side. Parts outside the frame are reflected, as in align_face.

    Args:
        frame: uint8 RGB array of shape (H, W, 3).
        box: (top, right, bottom, left) in frame pixels.
        margin: extra space on each side, as a fraction of the box's longer side.
        size: side of the output crop in pixels.

    Returns:
        (crop, alignment): crop is uint8 RGB of shape (size, size, 3); angle_deg is 0.
    """
    check_frame(frame)
    top, right, bottom, left = box
    # dlib boxes include their right and bottom pixels; the centre is the middle pixel.
    geometry = Alignment(
        ((left + right) / 2, (top + bottom) / 2), max(bottom - top, right - left, 1) * (1 + 2 * margin), 0.0
    )
    return warp_square(frame, geometry, size), geometry


def warp_square(frame: np.ndarray, geometry: Alignment, size: int) -> np.ndarray:
    """Samples the rotated square `geometry` of `frame` into a size x size crop.

    OpenCV's affine warp reads the frame where it is (reflected, without repeating the edge,
    outside it): with the shrink, 1.6 ms of CPU for a 350-px face against 4 ms with Pillow, which
    first copied the region out.
    """
    cv2 = opencv()
    height, width = frame.shape[:2]
    side = float(geometry.side_px)
    angle = math.radians(geometry.angle_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    # The centre is kept inside the frame so that the region always overlaps it.
    cx = min(max(float(geometry.center[0]), 0.0), width - 1.0)
    cy = min(max(float(geometry.center[1]), 0.0), height - 1.0)

    # Warp at about the face's own resolution, then shrink with area averaging: a direct
    # bilinear warp from a big face to 256 pixels would alias.
    warp_side = size if side <= size else max(size, round(side))
    step = side / warp_side  # frame pixels per warped pixel

    # Output pixel (u, v) -> frame point: centre + R (step * (u + 1/2, v + 1/2) - side / 2) - 1/2
    # (pixel centres), where R turns the crop's vertical into the eyes-to-mouth axis (sin a, cos a).
    shift = step / 2 - side / 2
    to_frame = np.array(
        [
            [step * cos, step * sin, cx + shift * (cos + sin)],
            [-step * sin, step * cos, cy + shift * (cos - sin)],
        ]
    )
    warped = cv2.warpAffine(
        np.ascontiguousarray(frame),
        to_frame,
        (warp_side, warp_side),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    if warp_side != size:
        warped = cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA)
    return warped
