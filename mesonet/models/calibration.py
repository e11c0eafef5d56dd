"""Decision thresholds and calibration of P(fake) scores, from labelled validation scores.

Scores here are P(fake) in [0, 1] and labels are 1 for forged, 0 for real (the user-facing
convention; the networks' raw output is P(real) = 1 - P(fake)). A face is called fake when
P(fake) >= threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mesonet.verdict import called_fake


def balanced_accuracy(
    is_forged: Sequence[int] | np.ndarray, p_fake: Sequence[float] | np.ndarray, threshold: float
) -> float:
    """Mean of the accuracy on forged faces and the accuracy on real faces at `threshold`."""
    is_forged = np.asarray(is_forged, dtype=bool)
    fake = called_fake(np.asarray(p_fake, dtype=np.float64), threshold)
    return float((fake[is_forged].mean() + (~fake[~is_forged]).mean()) / 2)


def pick_threshold(is_forged: Sequence[int] | np.ndarray, p_fake: Sequence[float] | np.ndarray) -> float:
    """The P(fake) threshold with the best balanced accuracy on these scores.

    Balanced accuracy, so that a validation set with more real than forged faces (or the
    other way round) does not pull the threshold towards its larger class. Among equally
    good thresholds the one nearest 0.5 wins.

    Raises:
        ValueError: the scores lack one of the two classes.
    """
    is_forged = np.asarray(is_forged, dtype=bool)
    p_fake = np.asarray(p_fake, dtype=np.float64)
    if is_forged.all() or not is_forged.any():
        raise ValueError("Picking a threshold needs scores of both forged and real faces.")
    # Candidates: midpoints between consecutive distinct scores (at most ~2000 of them, by quantile; scores
    # that crowd near 0 or 1 need their full precision), plus 0.5 itself.
    distinct = np.unique(np.quantile(p_fake, np.linspace(0, 1, 2001)))
    candidates = np.unique(np.concatenate([[0.5], (distinct[:-1] + distinct[1:]) / 2]))
    scores = np.array([balanced_accuracy(is_forged, p_fake, t) for t in candidates])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


@dataclass(frozen=True)
class Reliability:
    """A reliability curve: per score bin, the mean P(fake) against the share really forged.

    Attributes:
        bin_edges: the P(fake) bin edges, shape (n_bins + 1,).
        mean_p_fake: mean score in each bin (NaN for an empty bin), shape (n_bins,).
        share_forged: share of forged faces in each bin (NaN for an empty bin).
        counts: faces in each bin.
        ece: expected calibration error: sum over bins of |share - mean| weighted by count.
    """

    bin_edges: np.ndarray
    mean_p_fake: np.ndarray
    share_forged: np.ndarray
    counts: np.ndarray
    ece: float

    def to_dict(self) -> dict:
        def clean(values: np.ndarray) -> list:
            return [None if np.isnan(v) else round(float(v), 6) for v in values]

        return {
            "bin_edges": [float(e) for e in self.bin_edges],
            "mean_p_fake": clean(self.mean_p_fake),
            "share_forged": clean(self.share_forged),
            "counts": [int(c) for c in self.counts],
            "ece": round(self.ece, 6),
        }


def reliability(
    is_forged: Sequence[int] | np.ndarray, p_fake: Sequence[float] | np.ndarray, *, n_bins: int = 10
) -> Reliability:
    """Reliability curve and expected calibration error (ECE) over `n_bins` equal-width bins."""
    is_forged = np.asarray(is_forged, dtype=np.float64)
    p_fake = np.asarray(p_fake, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # The last bin includes 1.0.
    bins = np.clip(np.digitize(p_fake, edges[1:-1], right=False), 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p_fake = np.bincount(bins, weights=p_fake, minlength=n_bins) / counts
        share_forged = np.bincount(bins, weights=is_forged, minlength=n_bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] * np.abs(share_forged[filled] - mean_p_fake[filled])) / max(len(p_fake), 1))
    return Reliability(edges, mean_p_fake, share_forged, counts, ece)
