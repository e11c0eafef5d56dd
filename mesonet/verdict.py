"""The one rule that turns a network's output into P(fake) and P(fake) into a verdict, for a face, a
frame, a face track, a video or a dataset item.

The released networks output P(real) (class 1 = real): `p_fake_of` is the only place that turns it
around (and `score_real_of` the way back, for a P(fake) averaged over frames).

Four verdicts, the same words and colours everywhere (`VERDICT_WORDS`, `VERDICT_COLORS`): a score
within `UNCERTAIN_MARGIN` of the threshold is "uncertain" (it could go either way), else "fake"
when P(fake) reaches the threshold and "real" below it; no score (no face found) is "no face".
The command line, the app (verdict cards, charts, gallery borders, frame boxes, the quiz, Compare,
Live), the annotated video and the exports all ask here, so moving the threshold moves every one
of them. Metrics that need two classes (accuracy, ROC) use `called_fake`, the side of the threshold.

A video is decided by its faces that matter (`video_summary`): a face seen in too few of the
sampled frames is listed with its own verdict but does not decide.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

DEFAULT_THRESHOLD = 0.5
UNCERTAIN_MARGIN = 0.05

Verdict = Literal["real", "fake", "uncertain", "no face"]

# The colour and the word of each verdict wherever one is shown: the app's cards, charts, boxes and
# borders, the annotated video (`mesonet.analysis.annotate`) and the command line.
VERDICT_COLORS: dict[Verdict, str] = {
    "fake": "#D32F2F",
    "real": "#2E7D32",
    "uncertain": "#E0A000",
    "no face": "#9E9E9E",
}
VERDICT_WORDS: dict[Verdict, str] = {"fake": "FAKE", "real": "REAL", "uncertain": "UNCERTAIN", "no face": "NO FACE"}


@overload
def p_fake_of(score_real: float) -> float: ...
@overload
def p_fake_of(score_real: np.ndarray) -> np.ndarray: ...
def p_fake_of(score_real):
    """P(fake) from the network's raw output, P(real); element-wise for an array or a tensor (the dtype stays)."""
    if isinstance(score_real, (int, float, np.number)):
        return 1.0 - float(score_real)
    return 1.0 - score_real


def score_real_of(p_fake: float) -> float:
    """The network-style output P(real) for a P(fake), e.g. for a video's mean P(fake)."""
    return 1.0 - float(p_fake)


@overload
def called_fake(p_fake: float, threshold: float = ...) -> bool: ...
@overload
def called_fake(p_fake: np.ndarray, threshold: float = ...) -> np.ndarray: ...
def called_fake(p_fake, threshold: float = DEFAULT_THRESHOLD):
    """Whether P(fake) reaches the threshold; element-wise for an array (returns a bool array)."""
    if isinstance(p_fake, np.ndarray):
        return p_fake >= threshold
    return bool(p_fake >= threshold)


def is_uncertain(
    p_fake: float | None, threshold: float = DEFAULT_THRESHOLD, *, margin: float = UNCERTAIN_MARGIN
) -> bool:
    """Whether a score is so close to the threshold (closer than `margin`) that its verdict could flip."""
    return p_fake is not None and abs(float(p_fake) - threshold) < margin


def verdict_for(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> Verdict:
    """ "uncertain" within the margin of the threshold, else "fake" at or above it, "real" below; None: "no face"."""
    if p_fake is None:
        return "no face"
    if is_uncertain(p_fake, threshold):
        return "uncertain"
    return "fake" if called_fake(float(p_fake), threshold) else "real"


def verdict_color(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The verdict's colour ("#RRGGBB"): red fake, green real, amber uncertain, grey no face, at this threshold."""
    return VERDICT_COLORS[verdict_for(p_fake, threshold)]


def verdict_words(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The verdict with its score, as every surface prints it: "FAKE 81.2%", "UNCERTAIN 52.0%", "NO FACE"."""
    verdict = verdict_for(p_fake, threshold)
    return VERDICT_WORDS[verdict] if p_fake is None else f"{VERDICT_WORDS[verdict]} {float(p_fake):.1%}"


# Aggregating per-frame scores into a verdict for a face track and for a whole video.
MIN_TRACK_SHARE = 0.2
MIN_TRACK_FRAMES = 5


Aggregate = Literal["mean", "vote"]


# The authors' vote: a video is fake when at least this share of its frames is.
VOTE_MAJORITY = 0.5


@dataclass(frozen=True)
class Summary:
    """Scores aggregated over the frames of one face track, or of the whole video."""

    frames_sampled: int
    frames_with_face: int
    p_fake_mean: float | None
    p_fake_median: float | None
    vote_fake: float | None
    verdict: Verdict
    threshold: float = DEFAULT_THRESHOLD
    track_id: int | None = None  # the face track summarised (for a video: the one that decided)

    @property
    def frames_without_face(self) -> int:
        return self.frames_sampled - self.frames_with_face

    @property
    def decides(self) -> bool:
        """Whether this face was seen in enough of the sampled frames to decide a video (`frames_to_decide`)."""
        return self.frames_with_face >= frames_to_decide(self.frames_sampled)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "track": self.track_id,
            "face": None if self.track_id is None else self.track_id + 1,  # as the app and the crops' names say
            "p_fake": self.p_fake_mean,
            "p_fake_median": self.p_fake_median,
            "vote_fake": self.vote_fake,
            "frames_sampled": self.frames_sampled,
            "frames_with_face": self.frames_with_face,
            "frames_without_face": self.frames_without_face,
        }


def summarize(
    p_fake: np.ndarray | list[float],
    *,
    frames_sampled: int,
    threshold: float = DEFAULT_THRESHOLD,
    aggregate: Aggregate = "mean",
    track_id: int | None = None,
) -> Summary:
    """Aggregates per-frame P(fake) values (frames without a face are simply absent).

    Args:
        p_fake: P(fake) of each frame that has a face, shape (N,).
        frames_sampled: frames looked at, with or without a face.
        threshold: P(fake) at or above which a frame, and the mean, count as fake.
        aggregate: "mean" (the paper: the mean P(fake) against the threshold) or "vote" (the
            authors' released code: fake when at least half of the frames are fake).
        track_id: the face track these frames belong to, if any.
    """
    scores = np.asarray(p_fake, dtype=np.float64)
    if scores.size == 0:
        return Summary(frames_sampled, 0, None, None, None, "no face", threshold, track_id)
    mean, median = float(scores.mean()), float(np.median(scores))
    vote = float(np.mean(called_fake(scores, threshold)))
    verdict = verdict_for(mean, threshold) if aggregate == "mean" else verdict_for(vote, VOTE_MAJORITY)
    return Summary(frames_sampled, int(scores.size), mean, median, vote, verdict, threshold, track_id)


def frames_to_decide(frames_sampled: int) -> int:
    """Frames a face must be seen in to decide a video: a fifth of the sampled frames, and 5 (all of fewer)."""
    return max(math.ceil(MIN_TRACK_SHARE * frames_sampled), min(MIN_TRACK_FRAMES, frames_sampled))


# Among the faces that decide, one forged face makes a forged video; then a face that could go either way.
_DECIDING_ORDER: dict[Verdict, int] = {"fake": 2, "uncertain": 1, "real": 0, "no face": 0}


def video_summary(tracks: dict[int, Summary], n_frames: int, threshold: float = DEFAULT_THRESHOLD) -> Summary:
    """The summary of the face that decides the video.

    Only faces seen in enough frames decide (`Summary.decides`): a passer-by or a face lost after
    a cut is reported with its own verdict but does not decide. Among those, the most-seen fake
    face speaks for the video, else the most-seen uncertain one, else the most-seen face. When no
    face was seen in enough frames, the most-seen face is reported and the video is "uncertain".
    """
    if not tracks:
        return Summary(n_frames, 0, None, None, None, "no face", threshold)
    deciding = [s for s in tracks.values() if s.decides]
    if not deciding:
        most_seen = max(tracks.values(), key=lambda s: s.frames_with_face)
        return dataclasses.replace(most_seen, verdict="uncertain")
    return max(deciding, key=lambda s: (_DECIDING_ORDER[s.verdict], s.frames_with_face, s.p_fake_mean or 0.0))
