"""Scoring the faces of a live stream of frames (a camera) fast enough to keep up with it.

Public API:
    LiveFace                  one face of a scored frame: track id, box, score
    LiveFrame                 one scored frame: index, time, faces, whether a detection ran
    LiveStats                 frames received, scored and dropped, and the scored frames per second
    LiveScorer(classifier, *, detect_every, detect_max_side, follow, max_faces)
        .score_frame(frame, *, frame_index, time_s) -> LiveFrame   .warm_up()  .reset()
    LiveStream(scorer, *, slots, history_s, fps_window_s, idle_s, turn_s)
        .offer(frame)  .latest()  .history()  .stats()  .restart()  .stop()

Coordinates as in mesonet.faces.detect: frames are uint8 RGB arrays of shape (H, W, 3), boxes are
(top, right, bottom, left) integer pixels of the frame.

How it keeps up (figures from benchmarks/bench_live.py on the 2-core machine): dlib's HOG
detector costs about 20 ms on a 640 x 480 frame shrunk to 320 pixels (about 75 ms at full size),
so it runs only every few frames, or when no face is being followed. In between, each face is
followed by its landmarks: the 68-point predictor (about 1.5 ms) runs in the detector's box,
moved along with the landmarks from frame to frame, and those landmarks give the aligned crop
the same way as for a detected face (`mesonet.faces.detect.crop_face`, the authors' geometry), so a
live score means what an analysed file's score means. All faces of a frame are scored in one batch. `LiveStream` scores
in a thread of its own and only ever the newest frame: frames that arrive while it is busy are
dropped (and counted), so it never falls behind the camera.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mesonet.errors import first_line
from mesonet.faces.align import INPUT_SIZE, Box, check_frame
from mesonet.faces.detect import FaceCrop, crop_face, detect_faces, detect_near, match_tracks
from mesonet.serving.limits import ConcurrencyLimit
from mesonet.verdict import p_fake_of

FollowMethod = Literal["landmarks", "correlation"]
FOLLOW_METHODS: tuple[str, ...] = ("landmarks", "correlation")

# Detection every 5th scored frame: at 10-20 scored frames per second a new face is found within
# half a second, and the detector's cost is spread over 5 frames (bench_live.py compares others).
DEFAULT_DETECT_EVERY = 5
# HOG on the frame shrunk to 320 pixels finds faces from about 160 pixels tall in a 640 x 480
# frame (a face at arm's length from a laptop camera) in a quarter of the full-size time.
DEFAULT_DETECT_MAX_SIDE = 320
DEFAULT_MAX_FACES = 4
# Cameras beyond the server's scoring slots take turns: 30 s scored, then the slot goes to a waiting
# camera; the one that gave it up waits 2 s before asking again, so the waiting one gets it (it asks
# with every frame, 15-30 times a second, and counts as waiting for a second after each refusal).
DEFAULT_TURN_S = 30.0
TURN_REST_S = 2.0
_WANTED_WITHIN_S = 1.0
# A face that was lost (missed by a detection, or by the landmarks) is remembered this long, so
# that it gets its number back when it is found again.
_FORGET_AFTER_S = 2.0
# A followed box smaller than this (pixels) has left the frame: the face is dropped.
_MIN_BOX_PX = 24
# A detected face continues a followed one when their box centres are at most this many box sides
# apart: more than between two frames (match_tracks' 0.5), as the followed box can lag a fast move.
_MAX_SHIFT = 1.0
# A followed face whose landmark crop grows or shrinks more than this since its detection is lost.
_MAX_SIZE_CHANGE = 1.3


@dataclass(frozen=True)
class LiveFace:
    """One face of a scored frame.

    Attributes:
        track_id: the face's number from 0, kept while it is followed (people see track_id + 1).
        box: (top, right, bottom, left) in frame pixels.
        score_real: the network's raw output, P(real).
        aligned: True for a landmark-aligned crop, False for the margin-crop fallback.
    """

    track_id: int
    box: Box
    score_real: float
    aligned: bool

    @property
    def p_fake(self) -> float:
        return p_fake_of(self.score_real)


@dataclass(frozen=True)
class LiveFrame:
    """The faces of one scored frame.

    Attributes:
        frame_index: the frame's place in the stream, from 0, counting every frame received
            (dropped ones too).
        time_s: when the frame arrived, in seconds from the stream's first frame.
        faces: the faces, by track id.
        detected: whether the face detector ran on this frame (else the faces were followed).
        model: the name of the classifier that scored the faces.
        seconds: how long finding, aligning and scoring took.
    """

    frame_index: int
    time_s: float
    faces: tuple[LiveFace, ...]
    detected: bool
    model: str
    seconds: float


@dataclass(frozen=True)
class LiveStats:
    """How a stream is keeping up.

    Attributes:
        received: frames offered so far.
        scored: frames scored so far.
        dropped: frames skipped because a newer one arrived before they could be scored.
        fps: scored frames per second over the last few seconds (0.0 when none was scored lately).
        since_last_frame_s: seconds since the last frame arrived; None before the first one.
        duration_s: seconds from the first frame to the last one.
        error: the first line of the error of the last frame that could not be scored, or None
            once a frame is scored after it.
        waiting_for_slot: the last frame found every one of the server's slots taken, so it was dropped.
    """

    received: int
    scored: int
    dropped: int
    fps: float
    since_last_frame_s: float | None
    duration_s: float = 0.0
    error: str | None = None
    waiting_for_slot: bool = False


@dataclass(eq=False)
class _Track:
    track_id: int
    box: Box
    seen_s: float
    # The landmark crop's centre and side when the face was detected. Following by landmarks moves
    # the detector's box with the crop's centre and keeps its size: a box re-derived from every
    # frame's landmarks drifts and shrinks, each frame's error feeding the next (seen live).
    detected_center: tuple[float, float] | None = None
    detected_side: float = 0.0
    tracker: object | None = None  # a dlib.correlation_tracker when following by correlation
    active: bool = True


@dataclass(eq=False)
class LiveScorer:
    """Finds, follows, aligns and scores the faces of consecutive frames. Thread-safe: one frame
    at a time.

    Attributes:
        classifier: a `mesonet.models.scoring.Classifier` (or anything with `score_real(crops)` and
            `name`); it may be replaced between frames (the next frame uses the new one).
        detect_every: run the detector on every n-th frame (1: every frame); faces are followed
            in between. It also runs whenever no face is being followed.
        detect_max_side: the frame is shrunk to this longer side for detection.
        follow: how faces are followed between detections: "landmarks" (the landmark predictor
            in the detector's box, moved with the landmarks' centre) or "correlation" (dlib's correlation tracker,
            then the landmarks in its box).
        max_faces: at most this many faces, the largest ones, are followed and scored.
    """

    classifier: object
    detect_every: int = DEFAULT_DETECT_EVERY
    detect_max_side: int = DEFAULT_DETECT_MAX_SIDE
    follow: FollowMethod = "landmarks"
    max_faces: int = DEFAULT_MAX_FACES
    _tracks: list[_Track] = field(default_factory=list, init=False, repr=False)
    _frames_since_detection: int = field(default=0, init=False, repr=False)
    _next_id: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be 1 or more, got {self.detect_every}.")
        if self.follow not in FOLLOW_METHODS:
            raise ValueError(f"Unknown follow method {self.follow!r}: use one of {', '.join(FOLLOW_METHODS)}.")
        if self.max_faces < 1:
            raise ValueError(f"max_faces must be 1 or more, got {self.max_faces}.")

    def warm_up(self) -> None:
        """Does the slow first-time work now (dlib's models, the classifier's first call; seconds on a
        busy machine) rather than on the stream's first frame."""
        detect_faces(np.zeros((48, 64, 3), dtype=np.uint8), model="hog", max_side=self.detect_max_side, upsample=0)
        self.classifier.score_real([np.zeros((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)])

    def reset(self) -> None:
        """Forgets the faces followed so far (a new stream starts numbering faces from 1 again)."""
        with self._lock:
            self._tracks, self._frames_since_detection, self._next_id = [], 0, 0

    def score_frame(self, frame: np.ndarray, *, frame_index: int = 0, time_s: float = 0.0) -> LiveFrame:
        """Finds or follows the faces of the next frame and scores them in one batch.

        Args:
            frame: uint8 RGB array of shape (H, W, 3), the stream's next frame to score.
            frame_index: its place in the stream (kept in the result).
            time_s: when it arrived, in seconds (kept in the result; a face lost for more than
                2 s gets a new number when it is found again).

        Returns:
            LiveFrame with the faces, largest first on a detection frame.
        """
        check_frame(frame)
        with self._lock:
            start = time.perf_counter()
            classifier = self.classifier  # one model for the whole frame, even if replaced meanwhile
            following = [t for t in self._tracks if t.active]
            detect = not following or self._frames_since_detection + 1 >= self.detect_every
            if detect:
                tracks, crops = self._detect(frame, time_s)
                self._frames_since_detection = 0
            else:
                tracks, crops = self._follow(frame, following, time_s)
                self._frames_since_detection += 1
            scores = classifier.score_real([c.crop for c in crops]) if crops else []
            faces = tuple(
                LiveFace(t.track_id, c.box, float(s), c.aligned)
                for t, c, s in sorted(zip(tracks, crops, scores), key=lambda item: item[0].track_id)
            )
            return LiveFrame(
                frame_index, time_s, faces, detect, str(getattr(classifier, "name", "")), time.perf_counter() - start
            )

    def _detect(self, frame: np.ndarray, time_s: float) -> tuple[list[_Track], list[FaceCrop]]:
        # HOG alone: a second look (or MTCNN) on every detection without a face would stall the stream.
        boxes = detect_faces(frame, model="hog", max_side=self.detect_max_side, upsample=0)[: self.max_faces]
        known = [t for t in self._tracks if time_s - t.seen_s <= _FORGET_AFTER_S]
        ids, _ = match_tracks([(t.track_id, t.box) for t in known], boxes, max_shift=_MAX_SHIFT)
        # A known face that the shrunk frame's detector missed (smaller, blurred, turning away) is
        # looked for around its last box at its own scale, as the analysis pipeline does.
        for track in known:
            if track.track_id not in ids and len(boxes) < self.max_faces:
                near = detect_near(frame, track.box, model="hog", max_side=self.detect_max_side)[:1]
                boxes += [box for box in near if not any(_overlap(box, other) > 0.3 for other in boxes)]
        if len(boxes) > len(ids):
            ids, _ = match_tracks([(t.track_id, t.box) for t in known], boxes, max_shift=_MAX_SHIFT)
        # match_tracks numbers new faces from the largest id it was given; a forgotten face's
        # number is never given to someone else.
        known_ids = {t.track_id for t in known}
        for n, track_id in enumerate(ids):
            if track_id not in known_ids:
                ids[n] = self._next_id + track_id - max(known_ids, default=-1) - 1
        self._next_id = max([self._next_id - 1, *ids]) + 1
        tracks, crops = [], []
        for track_id, box in zip(ids, boxes):
            crop = crop_face(frame, box)
            track = _Track(track_id, box, time_s)
            if crop.aligned:
                track.detected_center, track.detected_side = crop.center, crop.side_px
            if self.follow == "correlation":
                track.tracker = _start_correlation(frame, box)
            tracks.append(track)
            crops.append(crop)
        # Faces not found by this detection stay known for a while, but are not followed.
        seen = set(ids)
        for track in known:
            if track.track_id not in seen:
                track.active = False
        self._tracks = tracks + [t for t in known if t.track_id not in seen]
        return tracks, crops

    def _follow(self, frame: np.ndarray, following: list[_Track], time_s: float) -> tuple[list[_Track], list[FaceCrop]]:
        height, width = frame.shape[:2]
        tracks, crops = [], []
        for track in following:
            if track.tracker is not None:
                track.tracker.update(frame)
                box = _clipped(_from_dlib(track.tracker.get_position()), width, height)
            else:
                box = _clipped(track.box, width, height)
            if box is None:
                track.active = False  # the face left the frame
                continue
            crop = crop_face(frame, box)
            if not crop.aligned or not _similar_size(crop.side_px, track.detected_side):
                track.active = False  # the landmarks lost the face: the next frame detects again
                continue
            if track.tracker is None:
                track.box = _moved(track.box, crop.center, track.detected_center)
                track.detected_center = crop.center
            else:
                track.box = box
            track.seen_s = time_s
            tracks.append(track)
            crops.append(crop)
        return tracks, crops


def _similar_size(side_px: float, detected_side: float) -> bool:
    """Whether a followed face's crop is still about the size it had when detected (a face does not
    grow or shrink by a third between two detections; landmarks that lost it often do)."""
    return detected_side > 0 and 1 / _MAX_SIZE_CHANGE <= side_px / detected_side <= _MAX_SIZE_CHANGE


def _moved(box: Box, center: tuple[float, float], previous: tuple[float, float]) -> Box:
    """The box moved by the crop centre's move from `previous` to `center`."""
    dx, dy = round(center[0] - previous[0]), round(center[1] - previous[1])
    top, right, bottom, left = box
    return (top + dy, right + dx, bottom + dy, left + dx)


def _overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    height = min(a[2], b[2]) - max(a[0], b[0])
    width = min(a[1], b[1]) - max(a[3], b[3])
    inter = max(0, height) * max(0, width)
    union = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / union if union > 0 else 0.0


def _clipped(box: Box, width: int, height: int) -> Box | None:
    """The box cut to the frame; None when little of it is left in the frame."""
    top, right, bottom, left = box
    top, left = max(0, top), max(0, left)
    bottom, right = min(height, bottom), min(width, right)
    if bottom - top < _MIN_BOX_PX or right - left < _MIN_BOX_PX:
        return None
    return (int(top), int(right), int(bottom), int(left))


def _start_correlation(frame: np.ndarray, box: Box):
    import dlib

    tracker = dlib.correlation_tracker()
    top, right, bottom, left = box
    tracker.start_track(frame, dlib.rectangle(int(left), int(top), int(right), int(bottom)))
    return tracker


def _from_dlib(rect) -> Box:
    return (
        math.floor(rect.top()),
        math.ceil(rect.right()),
        math.ceil(rect.bottom()),
        math.floor(rect.left()),
    )


class LiveStream:
    """Scores the newest frame of a stream in a thread of its own, dropping the frames that arrive
    while it is busy, and keeps the last seconds of results.

    `offer` never waits: it is meant to be called from a camera's frame callback. The thread
    starts on the first frame, and ends when no frame has come for `idle_s` seconds or on `stop`
    (the next frame starts it again). Every method is thread-safe.

    Attributes:
        scorer: the LiveScorer (its classifier may be replaced at any time).
        slots: the server's ConcurrencyLimit, or None for no limit. While every slot is taken, frames
            are dropped unscored and `stats().waiting_for_slot` says so; scoring starts with
            the first frame after a slot is free.
        turn_s: a stream that has held its slot this long gives it up as soon as another stream
            was refused one, and rests `TURN_REST_S` before it tries again, so that cameras take
            turns rather than one keeping the others unscored for as long as it stays on.
        history_s: how many seconds of results `history()` keeps.
        fps_window_s: the scored frames per second are measured over this many seconds.
    """

    def __init__(
        self,
        scorer: LiveScorer,
        *,
        slots: ConcurrencyLimit | None = None,
        history_s: float = 10.0,
        fps_window_s: float = 3.0,
        idle_s: float = 10.0,
        turn_s: float = DEFAULT_TURN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scorer = scorer
        self.slots = slots
        self.history_s = history_s
        self.fps_window_s = fps_window_s
        self.idle_s = idle_s
        self.turn_s = turn_s
        self._clock = clock
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._slot_since = 0.0
        self._resting_until = -math.inf  # after giving its turn up (kept across restarts: no queue jumping)
        self._reset_state()

    def _reset_state(self) -> None:
        self._pending: tuple[np.ndarray, int, float] | None = None
        self._history: collections.deque[LiveFrame] = collections.deque()
        self._done_at: collections.deque[float] = collections.deque()
        self._received = self._scored = self._dropped = 0
        self._started_at: float | None = None
        self._last_frame_at: float | None = None
        self._error: str | None = None
        self._waiting_for_slot = False
        self._generation = getattr(self, "_generation", 0) + 1

    def offer(self, frame: np.ndarray, *, dropped_before: int = 0) -> None:
        """Hands over the stream's newest frame; returns at once.

        Args:
            frame: uint8 RGB array of shape (H, W, 3). It is kept, not copied: do not write into it.
            dropped_before: frames the caller skipped just before this one (counted as received
                and dropped).
        """
        with self._condition:
            now = self._clock()
            if self._started_at is None:
                self._started_at = now
            self._received += dropped_before
            self._dropped += dropped_before
            if self._pending is not None:
                self._dropped += 1  # never scored: a newer frame replaces it
            self._pending = (frame, self._received, now - self._started_at)
            self._received += 1
            self._last_frame_at = now
            if self._thread is None:
                self._waiting_for_slot = self.slots is not None and (
                    now < self._resting_until or not self.slots.try_enter()
                )
                if self._waiting_for_slot:
                    self._pending = None
                    self._dropped += 1
                    return
                self._slot_since = now
                self._thread = threading.Thread(target=self._work, name="mesonet-live", daemon=True)
                self._thread.start()
            self._condition.notify()

    def latest(self) -> LiveFrame | None:
        """The last frame scored, or None."""
        with self._condition:
            return self._history[-1] if self._history else None

    def history(self) -> list[LiveFrame]:
        """The frames scored in the last `history_s` seconds of the stream, oldest first."""
        with self._condition:
            return list(self._history)

    def stats(self) -> LiveStats:
        with self._condition:
            now = self._clock()
            recent = [t for t in self._done_at if now - t <= self.fps_window_s]
            fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) >= 2 and recent[-1] > recent[0] else 0.0
            if self._last_frame_at is None:
                since, duration = None, 0.0
            else:
                since, duration = now - self._last_frame_at, self._last_frame_at - self._started_at
            return LiveStats(
                self._received, self._scored, self._dropped, fps, since, duration, self._error, self._waiting_for_slot
            )

    def restart(self) -> None:
        """Starts a new stream: counts, results and followed faces are forgotten."""
        with self._condition:
            self._reset_state()
        self.scorer.reset()

    def stop(self) -> None:
        """Ends the scoring thread (a frame still waiting is dropped); results are kept."""
        with self._condition:
            if self._pending is not None:
                self._pending = None
                self._dropped += 1
            thread, self._thread = self._thread, None
            self._condition.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _work(self) -> None:
        try:
            self._score_until_stopped_or_idle()
        finally:
            if self.slots is not None:
                self.slots.leave()

    def _score_until_stopped_or_idle(self) -> None:
        me = threading.current_thread()
        while True:
            with self._condition:
                deadline = self._clock() + self.idle_s
                while self._pending is None and self._thread is me:
                    left = deadline - self._clock()
                    if left <= 0:
                        self._thread = None  # idle: the next frame starts a new thread
                        return
                    self._condition.wait(left)
                if self._thread is not me:
                    return
                (frame, index, time_s), self._pending = self._pending, None
                generation = self._generation
            try:
                result = self.scorer.score_frame(frame, frame_index=index, time_s=time_s)
            except Exception as exc:  # a bad frame or model must not end the stream
                logging.getLogger(__name__).exception("Scoring a live frame failed")
                with self._condition:
                    self._error = first_line(exc)
                continue
            with self._condition:
                if generation != self._generation:
                    continue  # the stream was restarted meanwhile: this frame belongs to the old one
                self._scored += 1
                self._error = None  # scoring works (again)
                self._done_at.append(self._clock())
                self._history.append(result)
                while self._history and result.time_s - self._history[0].time_s > self.history_s:
                    self._history.popleft()
                while self._done_at and self._done_at[-1] - self._done_at[0] > max(self.fps_window_s, 1.0):
                    self._done_at.popleft()
                if self._turn_is_over():
                    self._thread = None  # the next frame after the rest asks for a slot again
                    self._resting_until = self._clock() + TURN_REST_S
                    return

    def _turn_is_over(self) -> bool:
        """Whether this stream has had its turn and another one is waiting for the slot (lock held)."""
        return (
            self.slots is not None
            and self._clock() - self._slot_since >= self.turn_s
            and self.slots.wanted_within(_WANTED_WITHIN_S)
        )
