"""The annotated video in the real app and a real browser: made, played by Chromium, downloaded.

Uses tests/test_browser.py's server, browser and page fixtures (Debian's Chromium, driven by
Playwright). The screenshot goes to artifacts/screenshots/analyse_annotated_video.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_annotate import probe, top_level_boxes
from tests.test_browser import (  # noqa: F401 (fixtures)
    ANALYSIS_MS,
    FILE_INPUT,
    FIRST_ANALYSIS_MS,
    browser,
    full_screenshot,
    page,
    screenshots,
    server,
    wait_for_verdict,
)

pytestmark = pytest.mark.browser

# The <video> has its metadata and a first frame decoded: Chromium can play the file.
VIDEO_READY_JS = "v => v.readyState >= 2 && v.videoWidth > 0"


def test_the_annotated_video_plays_in_chromium_and_downloads(page, shared_dir: Path, screenshots, tmp_path: Path):  # noqa: F811
    source = shared_dir / "data" / "videos" / "real" / "short_hamilton_clip.mp4"  # 640x360, 29.97 fps, sound
    page.set_input_files(FILE_INPUT, source)
    wait_for_verdict(page, source.name, timeout=FIRST_ANALYSIS_MS)
    page.get_by_role("button", name="Make the annotated video").click()
    download_button = page.get_by_role("button", name="Annotated video (MP4)")
    download_button.wait_for(timeout=ANALYSIS_MS)

    video = page.locator('[data-testid="stVideo"]')
    video.scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({VIDEO_READY_JS})(document.querySelector('[data-testid=\"stVideo\"]'))")
    width, height, duration = video.evaluate("v => [v.videoWidth, v.videoHeight, v.duration]")
    assert (width, height) == (640, 360 + 58) and duration == pytest.approx(probe(source)["duration_s"], abs=0.05)
    full_screenshot(page, screenshots / "analyse_annotated_video.png")

    with page.expect_download() as download:
        download_button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "short_hamilton_clip_annotated.mp4"
    boxes = top_level_boxes(saved)
    assert boxes.index("moov") < boxes.index("mdat")
    result = probe(saved)
    assert (result["codec"], result["pix_fmt"], result["audio"]) == ("h264", "yuv420p", "aac")
    assert result["frames"] == probe(source)["frames"]
