"""Finding faces in a frame and cutting aligned 256 x 256 crops for MesoNet.

Public API:
    Box                                   (top, right, bottom, left) in pixels
    FaceCrop                              one face: crop, box, landmarks, geometry
    Alignment                             (center, side_px, angle_deg)
    detect_faces(frame, *, model, max_side, upsample, near) -> list[Box]
    detect_near(frame, near, *, model, max_side) -> list[Box]
    face_landmarks_68(frame, box) -> np.ndarray (68, 2)
    landmark_parts(points) -> dict[str, np.ndarray]
    alignment_geometry(parts) -> Alignment
    align_face(frame, parts, *, size) -> (crop, Alignment)
    margin_crop(frame, box, *, margin, size) -> (crop, Alignment)
    extract_faces(frame, *, all_faces, model, near, max_side, upsample, size) -> list[FaceCrop]
    crop_face(frame, box, *, size) -> FaceCrop
    match_tracks(tracks, boxes, *, max_shift) -> (track_ids, tracks)

Coordinates, everywhere in this module: frames are uint8 RGB arrays of shape (H, W, 3);
boxes are (top, right, bottom, left) integer pixels of the ORIGINAL frame, face_recognition's
order; points are (x, y) floats, x to the right and y down, in pixels of the original frame,
with (0, 0) the centre of the top-left pixel (dlib's convention).

Detection runs on a copy of the frame shrunk so that its longer side is at most `max_side`
pixels. The detectors (DETECTORS):
    auto   dlib's HOG detector (through face_recognition, 10-30 ms per frame on this project's
           2-core machine whatever the video size); on a frame larger than `max_side` where it
           finds no face, HOG again at twice that side, upsampled once: small faces, down to about
           60 px in a 1080p frame (0.3-0.4 s per such frame).
    hog    HOG at `max_side` alone.
    mtcnn  HOG, then MTCNN (the `mtcnn` package, TensorFlow; its weights ship in its wheel) where
           HOG finds no face: small, dark and turned faces (about 0.15 s per such frame), at the
           cost of TensorFlow in every process that uses it (4 s and 680 MB the first time).
dlib's CNN detector was dropped: on the team's clips it found none of the dim 60- and 90-px faces
and took 0.5-7 s a frame (benchmarks/bench_pipeline.py).
Whatever finds the face, dlib's 68 landmarks and the MesoNet authors' alignment cut the crop
(see alignment_geometry), with one affine warp of the needed region only.

face_recognition is imported on first use: importing it loads dlib's models (about 0.5 s);
MTCNN is built on first use too (TensorFlow is imported then, if it was not yet).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal, get_args

import numpy as np
from PIL import ImageFile

# Alignment lives in mesonet.faces.align; its public names stay importable from here too.
from mesonet.faces.align import (  # noqa: F401
    INPUT_SIZE,
    PART_INDICES,
    Alignment,
    Box,
    align_face,
    alignment_geometry,
    check_frame,
    landmark_parts,
    margin_crop,
    warp_square,
)
from mesonet.media.images import resized

# The face detectors there are (see the module docstring): the only list of them.
Detector = Literal["auto", "hog", "mtcnn"]
DETECTORS: tuple[str, ...] = get_args(Detector)
DEFAULT_DETECTOR = "auto"
# MTCNN's smallest face, in pixels of the shrunk frame (its own default): 60 px at 1080p.
MTCNN_MIN_FACE_PX = 20
# The "auto" detector's second look: HOG on the frame at twice `max_side`, upsampled this often.
SECOND_LOOK_UPSAMPLE = 1
# MTCNN looks only where HOG found nothing, often at no face at all: its faces below this
# confidence (its last stage's, 0.8 by default) are dropped rather than scored. On the team's
# photos it saw faces in a suit and a background at 0.933 and 0.953; real faces, dim 60-px ones
# included, mostly score 0.99 and more.
MTCNN_MIN_CONFIDENCE = 0.96
# Detection runs on the frame shrunk to this longer side (HOG's time grows with the pixels).
DETECT_MAX_SIDE = 640
# dlib's HOG detector misses faces smaller than about 80 pixels; searching near the previous
# face, the window is scaled so that face is this big.
_NEAR_FACE_PX = 110.0
# When landmarks give a crop side far from the detector's box size, the landmarks are wrong
# (e.g. a face half out of the frame): use the margin crop instead. Typical ratio: 1.1-1.5.
SIDE_TO_BOX_RANGE = (0.6, 3.0)


@dataclass(eq=False)
class FaceCrop:
    """One face found in a frame.

    Attributes:
        crop: uint8 RGB array of shape (size, size, 3), 256 x 256 by default.
        box: the detector's (top, right, bottom, left) in frame pixels.
        landmarks: float32 array of shape (68, 2), (x, y) in frame pixels; None when the
            landmarks were not usable and the margin crop was used.
        angle_deg: rotation removed by the alignment, in degrees (0 for a margin crop).
        center: (x, y) of the crop centre in frame pixels.
        side_px: side of the cropped square in frame pixels.
        aligned: True for a landmark-aligned crop, False for the margin-crop fallback.
    """

    crop: np.ndarray
    box: Box
    landmarks: np.ndarray | None
    angle_deg: float
    center: tuple[float, float]
    side_px: float
    aligned: bool

    @property
    def parts(self) -> dict[str, np.ndarray] | None:
        """The landmarks as named parts (see landmark_parts), or None."""
        return None if self.landmarks is None else landmark_parts(self.landmarks)


# face_recognition keeps one dlib detector and one shape predictor for the whole process, and
# they are not thread-safe: two app sessions detecting at once crash the server (segfault,
# "free(): invalid next size"). Every call into them holds this lock.
_DLIB_LOCK = threading.Lock()


def _face_recognition() -> ModuleType:
    """Imports face_recognition, undoing its import-time change to Pillow.

    Its import sets Pillow's process-wide LOAD_TRUNCATED_IMAGES to True (truncated photos
    would then load silently); the previous value is put back.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    import face_recognition

    ImageFile.LOAD_TRUNCATED_IMAGES = previous
    return face_recognition


# One MTCNN for the process, built on first use; its calls are serialised like dlib's.
_MTCNN_LOCK = threading.Lock()
_mtcnn = None


def _hog_boxes(image: np.ndarray, upsample: int) -> list[Box]:
    api = _face_recognition()
    with _DLIB_LOCK:
        return api.face_locations(image, number_of_times_to_upsample=upsample, model="hog")


def _mtcnn_boxes(image: np.ndarray) -> list[Box]:
    """MTCNN's faces in `image`, as dlib-like boxes.

    MTCNN's box reaches from the hairline to the chin, dlib's (what dlib's landmark model was
    trained on) is a square from the eyebrows to just above the chin. On the team's five photos
    dlib's side was 1.02-1.2x MTCNN's width (median 1.1) and its bottom 0.04-0.13 of that width
    above MTCNN's (median 0.07), centred alike: the square is placed so.
    """
    global _mtcnn
    with _MTCNN_LOCK:
        if _mtcnn is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # as the classifier's import does
            from mtcnn import MTCNN

            _mtcnn = MTCNN()
        found = _mtcnn.detect_faces(image, min_face_size=MTCNN_MIN_FACE_PX)
    boxes = []
    for face in found:
        if face["confidence"] < MTCNN_MIN_CONFIDENCE:
            continue
        x, y, width, height = face["box"]
        side, centre_x, bottom = 1.1 * width, x + width / 2, y + height - 0.07 * width
        boxes.append((round(bottom - side), round(centre_x + side / 2), round(bottom), round(centre_x - side / 2)))
    return boxes


def _find(image: np.ndarray, model: str, upsample: int | Literal["auto"]) -> list[Box]:
    """The faces the detector finds in `image`, in its own pixels. `upsample` is dlib's (see detect_faces);
    "mtcnn" tries HOG without upsampling, then MTCNN; "auto" is HOG here (its second look is detect_faces')."""
    if model == "mtcnn":
        return _hog_boxes(image, 0) or _mtcnn_boxes(image)
    for times in [0, 1] if upsample == "auto" else [int(upsample)]:
        boxes = _hog_boxes(image, times)
        if boxes:
            return boxes
    return []


def _locate(
    image: np.ndarray,
    scale: float,
    upsample: int | Literal["auto"],
    model: str,
    origin: tuple[int, int],
    frame_shape: tuple[int, ...],
) -> list[Box]:
    """Runs the detector on `image` (a region scaled by `scale`) and maps boxes to the frame."""
    found = _find(image, model, upsample)
    top0, left0 = origin
    height, width = frame_shape[:2]
    boxes = []
    for top, right, bottom, left in found:
        box = (
            max(0, round(top / scale) + top0),
            min(width, round(right / scale) + left0),
            min(height, round(bottom / scale) + top0),
            max(0, round(left / scale) + left0),
        )
        if box[2] > box[0] and box[1] > box[3]:
            boxes.append(box)
    return boxes


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[1] - box[3])


def detect_faces(
    frame: np.ndarray,
    *,
    model: Detector = DEFAULT_DETECTOR,
    max_side: int = DETECT_MAX_SIDE,
    upsample: int | Literal["auto"] = "auto",
    near: Box | None = None,
) -> list[Box]:
    """Finds faces in a frame.

    Args:
        frame: uint8 RGB array of shape (H, W, 3).
        model: one of DETECTORS (see the module docstring).
        max_side: the frame is shrunk so that its longer side is at most this many pixels
            before detection; boxes are mapped back to the original frame.
        upsample: times HOG doubles the (shrunk) image to find smaller faces ("auto" and "hog";
            "mtcnn" does not upsample). "auto": 0, then 1 if nothing was found (about 4x the
            time, only on frames without a face).
        near: a box from a previous frame. A window around it (twice its size) is searched
            first, scaled so that a face of that size is about 110 pixels; the whole frame only
            if nothing is found there. The window search takes about 4 ms and also finds
            smaller faces than the whole-frame search.

    Returns:
        Boxes (top, right, bottom, left) in frame pixels, largest first.
    """
    check_frame(frame)
    if model not in DETECTORS:
        raise ValueError(f"Unknown face detector {model!r}: use one of {', '.join(DETECTORS)}.")
    height, width = frame.shape[:2]
    if near is not None:
        boxes = detect_near(frame, near, model=model, max_side=max_side)
        if boxes:
            return boxes
    scale = min(1.0, max_side / max(height, width))
    boxes = _locate(resized(frame, scale), scale, upsample, model, (0, 0), frame.shape)
    if not boxes and model == "auto" and scale < 1.0:
        scale = min(1.0, 2 * max_side / max(height, width))
        boxes = _locate(resized(frame, scale), scale, SECOND_LOOK_UPSAMPLE, "hog", (0, 0), frame.shape)
    return sorted(boxes, key=_area, reverse=True)


def detect_near(
    frame: np.ndarray, near: Box, *, model: Detector = DEFAULT_DETECTOR, max_side: int = DETECT_MAX_SIDE
) -> list[Box]:
    """Finds faces in a window around a face's earlier box: twice its size, scaled so that a face of
    that size is about 110 pixels (finds smaller faces than a search of the whole frame, in
    about 4 ms).

    Twice rather than three times: on the shared clips, the same faces in the same
    frames for 0.12 s less CPU per 720p clip; a face that moved further is found by the search
    of the whole frame.

    Args:
        frame: uint8 RGB array of shape (H, W, 3).
        near: (top, right, bottom, left) of the face in an earlier frame.
        max_side: the window is never scaled beyond this longer side.

    Returns:
        Boxes in frame pixels, largest first; empty when none is found in the window.
    """
    top, right, bottom, left = near
    side = max(bottom - top, right - left)
    if side <= 0:
        return []
    height, width = frame.shape[:2]
    margin = (side + 1) // 2
    y0, y1 = max(0, top - margin), min(height, bottom + margin)
    x0, x1 = max(0, left - margin), min(width, right + margin)
    if y1 - y0 < 2 or x1 - x0 < 2:
        return []
    window = frame[y0:y1, x0:x1]
    # Upscaling a small face's window (at most 2x) is cheaper than dlib's upsampling of the
    # whole frame; never let the window grow beyond max_side.
    scale = min(2.0, _NEAR_FACE_PX / side, max_side / max(window.shape[:2]))
    boxes = _locate(resized(window, scale), scale, 0, model, (y0, x0), frame.shape)
    return sorted(boxes, key=_area, reverse=True)


def face_landmarks_68(frame: np.ndarray, box: Box) -> np.ndarray:
    """The 68 facial landmarks (iBUG 300-W order) of the face in `box`.

    Args:
        frame: uint8 RGB array of shape (H, W, 3).
        box: (top, right, bottom, left) in frame pixels.

    Returns:
        float32 array of shape (68, 2): (x, y) in frame pixels (may lie outside the frame).
    """
    check_frame(frame)
    api = _face_recognition()
    with _DLIB_LOCK:
        parts = api.face_landmarks(frame, [tuple(int(v) for v in box)], model="large")[0]
    points = np.zeros((68, 2), dtype=np.float32)
    # face_recognition only returns named parts; every index appears in one of them.
    for name, indices in PART_INDICES.items():
        points[list(indices)] = np.asarray(parts[name], dtype=np.float32)
    return points


def extract_faces(
    frame: np.ndarray,
    *,
    all_faces: bool = False,
    model: Detector = DEFAULT_DETECTOR,
    near: Box | None = None,
    max_side: int = DETECT_MAX_SIDE,
    upsample: int | Literal["auto"] = "auto",
    size: int = INPUT_SIZE,
) -> list[FaceCrop]:
    """Finds faces in a frame and cuts an aligned crop of each.

    Each face gets 68 landmarks and the authors' aligned crop; if the landmarks are not
    usable (the crop they imply is far from the detector box's size), a margin crop around
    the box is used instead, with aligned=False.

    Args:
        frame: uint8 RGB array of shape (H, W, 3).
        all_faces: every face found, largest first; else only the largest one.
        model: one of DETECTORS (see detect_faces).
        near: a box from the previous frame to search around first. Used only when
            all_faces is False (a window search would hide the other faces).
        max_side: detection works on the frame shrunk to this longer side.
        upsample: see detect_faces.
        size: side of the crops in pixels.

    Returns:
        FaceCrop list, largest face first; empty when no face is found.
    """
    boxes = detect_faces(frame, model=model, max_side=max_side, upsample=upsample, near=None if all_faces else near)
    if not all_faces:
        boxes = boxes[:1]
    return [crop_face(frame, box, size=size) for box in boxes]


def crop_face(frame: np.ndarray, box: Box, *, size: int = INPUT_SIZE) -> FaceCrop:
    """The aligned crop of the face in `box`: its 68 landmarks and the authors' crop, or a margin
    crop around the box (aligned=False) when the landmarks are not usable (the crop they imply
    is far from the box's size).

    Args:
        frame: uint8 RGB array of shape (H, W, 3).
        box: (top, right, bottom, left) in frame pixels, from the detector (or a tracker).
        size: side of the crop in pixels.
    """
    box_side = max(box[2] - box[0], box[1] - box[3])
    points = face_landmarks_68(frame, box)
    geometry = alignment_geometry(points)
    low, high = SIDE_TO_BOX_RANGE
    if low * box_side <= geometry.side_px <= high * box_side:
        crop = warp_square(frame, geometry, size)
        return FaceCrop(crop, box, points, geometry.angle_deg, geometry.center, geometry.side_px, True)
    crop, geometry = margin_crop(frame, box, size=size)
    return FaceCrop(crop, box, None, 0.0, geometry.center, geometry.side_px, False)


def match_tracks(
    tracks: Sequence[tuple[int, Box]], boxes: Sequence[Box], *, max_shift: float = 0.5
) -> tuple[list[int], list[tuple[int, Box]]]:
    """Follows faces from frame to frame by the distance between box centres. Pure.

    Pairs are made greedily, closest first: a box continues a track when its centre is
    within `max_shift` times the larger of the two boxes' sides from the track's last box,
    and neither box is more than twice the other's size. Each track takes at most one box.
    Unmatched boxes start new tracks (ids counting up from the largest id so far, left to right); tracks
    without a box keep their last box, so a face missed in one frame is picked up again.

    Args:
        tracks: (track_id, last box) pairs; empty for the first frame.
        boxes: this frame's boxes (top, right, bottom, left).
        max_shift: largest centre move between two frames, in box sides.

    Returns:
        (track_ids, tracks): the track id of each box, in the order of `boxes`, and the
        updated (track_id, last box) list.
    """

    def centre_and_side(box: Box) -> tuple[float, float, float]:
        top, right, bottom, left = box
        return (left + right) / 2, (top + bottom) / 2, float(max(bottom - top, right - left, 1))

    candidates = []
    for t, (_, track_box) in enumerate(tracks):
        tx, ty, tside = centre_and_side(track_box)
        for b, box in enumerate(boxes):
            bx, by, bside = centre_and_side(box)
            reach = max(tside, bside)
            shift = math.hypot(bx - tx, by - ty) / reach
            if shift <= max_shift and max(tside, bside) <= 2 * min(tside, bside):
                candidates.append((shift, t, b))

    assigned: dict[int, int] = {}  # box position -> track position
    used_tracks: set[int] = set()
    for _, t, b in sorted(candidates):
        if b not in assigned and t not in used_tracks:
            assigned[b] = t
            used_tracks.add(t)

    updated = list(tracks)
    next_id = max((track_id for track_id, _ in tracks), default=-1) + 1
    # New faces are numbered left to right, so a group photo's face 1 is its leftmost face.
    new_ids = {
        b: next_id + n for n, b in enumerate(sorted(set(range(len(boxes))) - set(assigned), key=lambda b: boxes[b][3]))
    }
    track_ids = []
    for b, box in enumerate(boxes):
        if b in assigned:
            t = assigned[b]
            track_id = tracks[t][0]
            updated[t] = (track_id, tuple(box))
        else:
            track_id = new_ids[b]
            updated.append((track_id, tuple(box)))
        track_ids.append(track_id)
    return track_ids, updated
