"""mesonet.verdict: the one rule for "fake", "real", "uncertain" and "no face", and who follows it."""

from __future__ import annotations

import numpy as np
import pytest

from mesonet.verdict import UNCERTAIN_MARGIN, called_fake, is_uncertain, label_score, summarize, verdict_for


@pytest.mark.parametrize(
    ("p_fake", "threshold", "verdict"),
    [
        (0.5, 0.5, "fake"),
        (0.49, 0.5, "real"),
        (0.3, 0.25, "fake"),
        (0.3, 0.35, "real"),
        (None, 0.5, "no face"),
    ],
)
def test_verdict_at_a_threshold(p_fake, threshold, verdict):
    assert verdict_for(p_fake, threshold) == verdict


def test_arrays_follow_the_same_rule():
    p_fake = np.array([0.1, 0.3, 0.5, 0.9])
    assert called_fake(p_fake, 0.3).tolist() == [verdict_for(p, 0.3) == "fake" for p in p_fake]


def test_uncertain_band_is_around_the_threshold_not_around_one_half():
    assert label_score(0.52, 0.5) == "uncertain" and label_score(0.52, 0.2) == "fake"
    assert label_score(0.22, 0.2) == "uncertain" and label_score(0.2 - UNCERTAIN_MARGIN - 0.01, 0.2) == "real"
    assert label_score(None, 0.5) == "no face" and not is_uncertain(None)


def test_summary_carries_its_threshold_and_uncertainty():
    summary = summarize([0.3, 0.34], frames_sampled=2, threshold=0.3)
    assert summary.verdict == "fake" and summary.threshold == 0.3 and summary.is_uncertain
    vote = summarize([0.3, 0.1, 0.05], frames_sampled=3, threshold=0.3, aggregate="vote")
    assert vote.vote_fake == pytest.approx(1 / 3) and vote.verdict == "real"
