"""Issue 20 in the real app (`streamlit run`, headless Chromium): verdicts people can trust.

A crowd clip decided by the face seen enough, not by a passer-by; a heavily compressed clip whose
card says how far to trust it; a face scored fake whose Grad-CAM is not blank and names the verdict.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mesonet.analysis.results import face_number
from mesonet.verdict import VERDICT_WORDS
from tests.helpers import ANALYSIS_MS, FILE_INPUT, FIRST_ANALYSIS_MS, full_screenshot, wait_for_verdict, wait_until_idle

pytestmark = pytest.mark.browser

EXCEPTION = '[data-testid="stException"]'


def test_a_crowd_clip_is_decided_by_the_face_seen_most(page, shared_dir, classifier, screenshots):
    from mesonet.analysis.pipeline import analyze_media

    clip = shared_dir / "data" / "videos" / "real" / "short_hamilton_clip.mp4"
    expected = analyze_media(clip, classifier("meso4-df"), all_faces=True)
    assert len(expected.tracks) > 1, "the clip should show several faces"
    most_seen = max(expected.tracks.values(), key=lambda t: t.frames_with_face)
    assert expected.summary.track_id == most_seen.track_id  # no other face seen enough is fake
    assert any(not t.decides for t in expected.tracks.values()), "some face is seen in too few frames"

    page.get_by_text("Face extraction settings").click()
    page.get_by_text("All faces", exact=True).click()
    wait_until_idle(page)
    page.set_input_files(FILE_INPUT, clip)
    word, _ = wait_for_verdict(page, clip.name, timeout=FIRST_ANALYSIS_MS)
    assert word == VERDICT_WORDS[expected.verdict]
    summary = expected.summary
    decided = (
        f"Decided by face {face_number(summary.track_id)}, seen in {summary.frames_with_face}/"
        f"{summary.frames_sampled} frames: {summary.p_fake_mean:.1%} fake."
    )
    expect(page.get_by_text(decided)).to_be_visible()
    # Every face has its own row; those seen too little say they do not decide.
    expect(page.get_by_text(re.compile(r"^no: seen in fewer than \d+ frames$")).first).to_be_attached()
    assert page.locator(EXCEPTION).count() == 0
    full_screenshot(page, screenshots / "verdict_crowd_clip.png")


def test_a_heavily_compressed_clip_says_how_far_to_trust_it(page, shared_dir, screenshots):
    clip = shared_dir / "data" / "videos" / "deepfakes" / "ff_c40_183_253.mp4"
    page.set_input_files(FILE_INPUT, clip)
    wait_for_verdict(page, clip.name, timeout=FIRST_ANALYSIS_MS)
    note = page.locator('[data-testid="stAlert"]', has_text="How far to trust this verdict")
    expect(note).to_be_visible(timeout=ANALYSIS_MS)
    expect(note).to_contain_text(re.compile(r"heavily compressed \(about 0\.00\d bits per pixel"))
    expect(note).to_contain_text("MesoNet's DF weights miss about a third of Deepfakes at this compression")
    expect(page.get_by_text(re.compile(r"^Weights Meso4 · Deepfake \(meso4-df\), trained on "))).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
    full_screenshot(page, screenshots / "verdict_compressed_clip.png")


def test_a_fake_scored_face_has_a_grad_cam_that_names_its_verdict(page, classifier, screenshots):
    from mesonet.media.images import load_image
    from mesonet.media.samples import sample_path
    from mesonet.models.explain import grad_cam

    crop = load_image(sample_path("authors-df00204"))
    p_fake = 1 - float(classifier("meso4-df").score_real([crop])[0])
    assert p_fake > 0.9 and grad_cam(classifier("meso4-df"), crop, target="fake").max() > 0

    page.get_by_role("link", name="Learn", exact=False).first.click()
    page.get_by_role("tab", name="Saliency").click()
    panel = page.get_by_role("tabpanel")  # the hidden tabs' panels are left out
    panel.get_by_role("radio", name="Sample").click()
    panel.get_by_role("combobox").first.click()
    page.get_by_role("option", name="Authors' crop df00204 (fake)").click()
    caption = panel.get_by_text(f"Grad-CAM: where the evidence for FAKE lies (verdict FAKE, P(fake) {p_fake:.1%}")
    expect(caption).to_be_visible(timeout=ANALYSIS_MS)
    expect(panel.get_by_text("found no region")).to_have_count(0)
    assert page.locator(EXCEPTION).count() == 0
    full_screenshot(page, screenshots / "verdict_grad_cam_fake.png")
