"""The annotated video in the real app and a real browser: made, played by Chromium, downloaded.

Uses the server, browser and page fixtures of tests/app/conftest.py (Debian's Chromium, driven by
Playwright). The screenshot goes to artifacts/screenshots/analyse_annotated_video.png.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers import (
    ANALYSIS_MS,
    FILE_INPUT,
    FIRST_ANALYSIS_MS,
    full_screenshot,
    open_page,
    probe,
    process_tree_cpu_s,
    top_level_boxes,
    wait_for_verdict,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

# The <video> has its metadata and a first frame decoded: Chromium can play the file.
VIDEO_READY_JS = "v => v.readyState >= 2 && v.videoWidth > 0"


def test_the_annotated_video_plays_in_chromium_and_downloads(page, shared_dir: Path, screenshots, tmp_path: Path):
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


LONG_CLIP = "ff_youtube_183.mp4"  # 13 s at 1280x720


def one_long_video_making(browser, server, shared_dir: Path) -> tuple:
    """Two pages: the first has analysed the long clip and is making its every-frame annotated video
    (long enough for the second to ask meanwhile), the second has analysed a short clip."""
    videos = shared_dir / "data" / "videos" / "real"
    first, second = open_page(browser, server.url), open_page(browser, server.url)
    for page_, source in ((first, videos / LONG_CLIP), (second, videos / "short_hamilton_clip.mp4")):
        page_.set_input_files(FILE_INPUT, source)
        wait_for_verdict(page_, source.name, timeout=FIRST_ANALYSIS_MS)
    first.get_by_text("Score every frame", exact=True).click()
    wait_until_idle(first)
    first.get_by_role("button", name="Make the annotated video").click()
    expect(first.get_by_text("Finding faces in every frame")).to_be_visible(timeout=ANALYSIS_MS)
    return first, second


def test_a_second_annotated_video_waits_for_its_turn_then_is_made(browser, server, shared_dir: Path, screenshots):
    """The session's server makes one annotated video at a time (MESONET_ANNOTATED_VIDEOS=1)."""
    first, second = one_long_video_making(browser, server, shared_dir)
    try:
        second.get_by_role("button", name="Make the annotated video").click()
        waiting = second.get_by_text(re.compile(r"^Waiting for a turn: the server makes 1 annotated video at a time"))
        expect(waiting).to_be_visible(timeout=ANALYSIS_MS)
        full_screenshot(second, screenshots / "analyse_annotated_video_waiting.png")

        first.get_by_role("button", name="Annotated video (MP4)").wait_for(timeout=3 * ANALYSIS_MS)
        second.get_by_role("button", name="Annotated video (MP4)").wait_for(timeout=ANALYSIS_MS)
        expect(waiting).to_have_count(0)
    finally:
        first.context.close()
        second.context.close()
        server.check_alive()


def test_closing_the_page_stops_its_video_and_frees_the_turn(browser, server, shared_dir: Path):
    """Issue 24: a closed page's every-frame video (about 30 CPU seconds for this clip) must stop, not
    run to its end for no one holding the server's one annotated-video turn. Streamlit asks a
    disconnected session's script to stop, and it does at its next progress update."""
    leaving, staying = one_long_video_making(browser, server, shared_dir)
    try:
        leaving.context.close()
        closed = time.monotonic()
        time.sleep(8)
        before = process_tree_cpu_s(server.process.pid)
        time.sleep(4)
        busy_s = process_tree_cpu_s(server.process.pid) - before
        # The turn is free: the other page's video is made without waiting for the long one.
        staying.get_by_role("button", name="Make the annotated video").click()
        staying.get_by_role("button", name="Annotated video (MP4)").wait_for(timeout=ANALYSIS_MS)
        waited_s = time.monotonic() - closed
    finally:
        staying.context.close()
        server.check_alive()
    print(f"\nafter the page closed: {busy_s:.2f} CPU s in 4 s; the other video was ready {waited_s:.0f} s after")
    assert busy_s < 1.0, "the server kept working for the closed page"
