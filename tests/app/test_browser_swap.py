"""The face-swap lesson in the real app (`streamlit run`, headless Chromium with a fake camera): a face from the
camera swapped onto the astronaut photo, each step shown, then the result analysed (issue 23)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import CHROMIUM, CHROMIUM_ARGS, full_screenshot, webcam_y4m

pytestmark = pytest.mark.browser

WAIT_MS = 120_000  # the first swap loads dlib and OpenCV; the first verdict loads TensorFlow


def test_a_face_from_the_camera_swapped_onto_the_astronaut_then_analysed(
    playwright, server, shared_dir, tmp_path, screenshots
):
    from mesonet.media.samples import sample_path

    # A frontal face (the FF++ anchor turns to the side, which the swap refuses, as it should).
    camera = webcam_y4m(sample_path("astronaut-clip"), tmp_path / "cam.y4m", seconds=2.0)
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    flags.append(f"--use-file-for-fake-video-capture={camera}")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *flags])
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{server.url}/make_deepfake")
        expect(page.get_by_role("heading", name="Make a deepfake", exact=True)).to_be_visible()
        expect(page.get_by_text("Swap only faces whose owners agree")).to_be_visible()
        page.get_by_role("radio", name="Camera").click()
        # The fake camera's first frames can be black: take the photo once the clip plays.
        page.wait_for_function(
            "() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2 && v.currentTime > 1)",
            timeout=60_000,
        )
        page.get_by_role("button", name="Take Photo").click()
        expect(page.get_by_text("6. Blended in (Poisson blending): the deepfake")).to_be_visible(timeout=WAIT_MS)
        for step in ("1. 68 landmarks on the source face.", "4. The mask: the face inside the landmarks' outline."):
            expect(page.get_by_text(step)).to_be_visible(timeout=WAIT_MS)
        expect(
            page.get_by_text(re.compile(r"^2\. A triangle mesh over the target's landmarks \(\d+ triangles\)\.$"))
        ).to_be_visible()
        expect(page.get_by_text("6. Blended in (Poisson blending): the deepfake")).to_be_visible()
        verdict = page.get_by_text(re.compile(r"^(FAKE|REAL|UNCERTAIN) · P\(fake\) \d+\.\d%$"))
        expect(verdict).to_be_visible(timeout=WAIT_MS)  # the first verdict loads TensorFlow
        assert page.locator('[data-testid="stException"]').count() == 0
        full_screenshot(page, screenshots / "make_deepfake_camera.png")

        page.get_by_role("button", name="Analyse it").click()
        expect(page.get_by_role("heading", name="Analyse a photo or a video")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("verdict for deepfake.png")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_role("button", name=re.compile("Explain this face"))).to_be_visible(timeout=WAIT_MS)
        full_screenshot(page, screenshots / "make_deepfake_analysed.png")
    finally:
        browser.close()
        server.check_alive()
