"""The one rule that turns a network's output into P(fake) and P(fake) into a verdict, for a face, a
frame, a face track, a video or a dataset item.

The released networks output P(real) (class 1 = real): `p_fake_of` is the only place that turns it
around (and `score_real_of` the way back, for a P(fake) averaged over frames).

A score is "fake" when P(fake) reaches the threshold, else "real"; no score (no face found)
is "no face". A score within `UNCERTAIN_MARGIN` of the threshold is flagged "uncertain": the
verdict could go either way. The command line, the app (verdict cards, chart markers, gallery
borders, frame boxes, the quiz, the model comparison) and the evaluation metrics all ask here,
so moving the threshold moves every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

DEFAULT_THRESHOLD = 0.5
UNCERTAIN_MARGIN = 0.05

Verdict = Literal["real", "fake", "no face"]
Label = Literal["real", "fake", "uncertain", "no face"]

# The colour of each verdict wherever one is drawn: the app's cards, charts, boxes and borders,
# and the boxes of the annotated video (`mesonet.analysis.annotate`).
VERDICT_COLORS: dict[Verdict, str] = {"fake": "#D32F2F", "real": "#2E7D32", "no face": "#9E9E9E"}


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


def verdict_for(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> Verdict:
    """ "fake" when P(fake) reaches the threshold, "real" below it, "no face" without a score."""
    if p_fake is None:
        return "no face"
    return "fake" if called_fake(float(p_fake), threshold) else "real"


def is_uncertain(
    p_fake: float | None, threshold: float = DEFAULT_THRESHOLD, *, margin: float = UNCERTAIN_MARGIN
) -> bool:
    """Whether a score is so close to the threshold (closer than `margin`) that its verdict could flip."""
    return p_fake is not None and abs(float(p_fake) - threshold) < margin


def label_score(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> Label:
    """The verdict, or "uncertain" when the score sits within the uncertain band around the threshold."""
    return "uncertain" if is_uncertain(p_fake, threshold) else verdict_for(p_fake, threshold)


def verdict_color(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The verdict's colour ("#RRGGBB"): red for fake, green for real, grey for no face, at this threshold."""
    return VERDICT_COLORS[verdict_for(p_fake, threshold)]


# Aggregating per-frame scores into a verdict for a face track and for a whole video.
MIN_TRACK_SHARE = 0.2


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

    @property
    def frames_without_face(self) -> int:
        return self.frames_sampled - self.frames_with_face

    @property
    def is_uncertain(self) -> bool:
        """The mean P(fake) sits so close to the threshold that the verdict could go either way."""
        return is_uncertain(self.p_fake_mean, self.threshold)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
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
) -> Summary:
    """Aggregates per-frame P(fake) values (frames without a face are simply absent).

    Args:
        p_fake: P(fake) of each frame that has a face, shape (N,).
        frames_sampled: frames looked at, with or without a face.
        threshold: P(fake) at or above which a frame, and the mean, count as fake.
        aggregate: "mean" (the paper: the mean P(fake) against the threshold) or "vote" (the
            authors' released code: fake when at least half of the frames are fake).
    """
    scores = np.asarray(p_fake, dtype=np.float64)
    if scores.size == 0:
        return Summary(frames_sampled, 0, None, None, None, "no face", threshold)
    mean, median = float(scores.mean()), float(np.median(scores))
    vote = float(np.mean(called_fake(scores, threshold)))
    verdict = verdict_for(mean, threshold) if aggregate == "mean" else verdict_for(vote, VOTE_MAJORITY)
    return Summary(frames_sampled, int(scores.size), mean, median, vote, verdict, threshold)


def video_summary(tracks: dict[int, Summary], n_frames: int, threshold: float = DEFAULT_THRESHOLD) -> Summary:
    """The summary of the face seen most often, unless another face is fake.

    One forged face makes a forged video, so among fake tracks the one seen most often
    speaks for the video; with none fake, the track seen most often does. Tracks seen in
    fewer than a fifth as many frames as the most frequent one (a passer-by, a face lost
    after a cut) are reported but do not decide.
    """
    if not tracks:
        return Summary(n_frames, 0, None, None, None, "no face", threshold)
    most_frames = max(s.frames_with_face for s in tracks.values())
    deciding = [s for s in tracks.values() if s.frames_with_face >= MIN_TRACK_SHARE * most_frames]
    fake_tracks = [s for s in deciding if s.verdict == "fake"]
    return max(fake_tracks or deciding, key=lambda s: (s.frames_with_face, s.p_fake_mean or 0.0))
