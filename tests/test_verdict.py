"""mesonet.verdict: the one rule for "fake", "real", "uncertain" and "no face", and who follows it."""

from __future__ import annotations

import numpy as np
import pytest

from mesonet.verdict import (
    UNCERTAIN_MARGIN,
    called_fake,
    frames_to_decide,
    is_uncertain,
    summarize,
    verdict_for,
    verdict_words,
    video_summary,
)


@pytest.mark.parametrize(
    ("p_fake", "threshold", "verdict"),
    [
        (0.5, 0.5, "uncertain"),
        (0.56, 0.5, "fake"),
        (0.44, 0.5, "real"),
        (0.49, 0.5, "uncertain"),
        (0.31, 0.25, "fake"),
        (0.29, 0.35, "real"),
        (None, 0.5, "no face"),
    ],
)
def test_verdict_at_a_threshold(p_fake, threshold, verdict):
    assert verdict_for(p_fake, threshold) == verdict


def test_arrays_follow_the_same_rule_outside_the_uncertain_band():
    p_fake = np.array([0.1, 0.2, 0.4, 0.9])
    assert called_fake(p_fake, 0.3).tolist() == [verdict_for(p, 0.3) == "fake" for p in p_fake]


def test_uncertain_band_is_around_the_threshold_not_around_one_half():
    assert verdict_for(0.52, 0.5) == "uncertain" and verdict_for(0.52, 0.2) == "fake"
    assert verdict_for(0.22, 0.2) == "uncertain" and verdict_for(0.2 - UNCERTAIN_MARGIN - 0.01, 0.2) == "real"
    assert not is_uncertain(None)


def test_every_surface_prints_the_same_words():
    assert verdict_words(0.812, 0.5) == "FAKE 81.2%"
    assert verdict_words(0.52, 0.5) == "UNCERTAIN 52.0%"
    assert verdict_words(0.073, 0.5) == "REAL 7.3%"
    assert verdict_words(None, 0.5) == "NO FACE"


def test_summary_is_uncertain_as_a_verdict_of_its_own():
    summary = summarize([0.3, 0.34], frames_sampled=2, threshold=0.3, track_id=1)
    assert summary.verdict == "uncertain" and summary.threshold == 0.3 and summary.to_dict()["track"] == 1
    vote = summarize([0.3, 0.1, 0.05], frames_sampled=3, threshold=0.3, aggregate="vote")
    assert vote.vote_fake == pytest.approx(1 / 3) and vote.verdict == "real"


@pytest.mark.parametrize(("sampled", "needed"), [(1, 1), (3, 3), (10, 5), (30, 6), (100, 20)])
def test_a_face_decides_when_seen_in_a_fifth_of_the_frames_and_five_of_them(sampled, needed):
    assert frames_to_decide(sampled) == needed


def test_a_face_seen_in_few_frames_is_listed_but_does_not_decide():
    """Regression: "face 4", seen in 3 of 30 frames, made a real audience clip FAKE 67.2%."""
    crowd = {
        0: summarize([0.1] * 5, frames_sampled=30, track_id=0),
        1: summarize([0.2] * 9, frames_sampled=30, track_id=1),
        3: summarize([0.67] * 3, frames_sampled=30, track_id=3),
    }
    assert not crowd[3].decides and crowd[1].decides and not crowd[0].decides
    video = video_summary(crowd, 30)
    assert video.track_id == 1 and video.verdict == "real"
    crowd[2] = summarize([0.8] * 6, frames_sampled=30, track_id=2)
    assert video_summary(crowd, 30).track_id == 2  # one forged face seen enough makes a forged video


def test_a_video_where_no_face_was_seen_enough_is_uncertain():
    video = video_summary({0: summarize([0.95] * 4, frames_sampled=30, track_id=0)}, 30)
    assert video.verdict == "uncertain" and video.track_id == 0 and video.p_fake_mean == pytest.approx(0.95)
    assert video_summary({}, 30).verdict == "no face"
