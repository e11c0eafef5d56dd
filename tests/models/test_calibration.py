"""Decision thresholds and calibration from validation scores."""

from __future__ import annotations

import numpy as np
import pytest

from mesonet.models.calibration import balanced_accuracy, pick_threshold, reliability


def test_the_threshold_separates_scores_that_0_5_would_call_all_real():
    """Like the F2F weights on compressed video: good ranking, every score under 0.5."""
    p_fake = np.array([0.05, 0.10, 0.12, 0.20, 0.30, 0.32, 0.35, 0.45])
    is_forged = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert balanced_accuracy(is_forged, p_fake, 0.5) == 0.5
    threshold = pick_threshold(is_forged, p_fake)
    assert 0.20 < threshold <= 0.30
    assert balanced_accuracy(is_forged, p_fake, threshold) == 1.0


def test_balanced_accuracy_ignores_class_sizes_and_ties_prefer_0_5():
    # Perfectly separated at any threshold in (0.4, 0.6): 0.5 is kept.
    p_fake = np.array([0.1] * 90 + [0.4] * 5 + [0.6] * 5 + [0.9])
    is_forged = np.array([0] * 95 + [1] * 6)
    assert pick_threshold(is_forged, p_fake) == 0.5
    # Scores that all crowd near 0 are still told apart.
    assert 2e-7 < pick_threshold([0, 0, 1, 1], [1e-7, 2e-7, 5e-6, 6e-6]) <= 5e-6
    with pytest.raises(ValueError, match="both forged and real"):
        pick_threshold([1, 1], [0.2, 0.3])


def test_reliability_of_calibrated_and_overconfident_scores():
    rng = np.random.default_rng(0)
    p_fake = rng.uniform(size=20000)
    calibrated = rng.uniform(size=p_fake.size) < p_fake
    curve = reliability(calibrated, p_fake)
    assert curve.ece < 0.02 and curve.counts.sum() == p_fake.size
    np.testing.assert_allclose(curve.share_forged, curve.mean_p_fake, atol=0.03)

    overconfident = reliability([0, 0, 1, 1], [1.0, 1.0, 0.0, 0.0])  # sure, and always wrong
    assert overconfident.ece == 1.0
    assert overconfident.to_dict()["counts"][0] == 2 and overconfident.to_dict()["share_forged"][5] is None
