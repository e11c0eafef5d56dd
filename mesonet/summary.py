"""Aggregating per-frame scores into a verdict for a face track and for a whole video."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mesonet.verdict import DEFAULT_THRESHOLD, Verdict, called_fake, is_uncertain, verdict_for

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
