"""Browser tests: the real app (`streamlit run`) driven in headless Chromium with Playwright.

Each test uploads real files from ../shared and checks what the page shows against the core
(`analyze_media` with the default Meso4 DF classifier, the app's default model):
the verdict word and the P(fake) metric, the chart-to-frame-view link, the error box for a
bad file, six sessions analysing different files at the same time on one server, and a worker
process killed in the middle of an analysis.

Full-page screenshots go to artifacts/screenshots/ (git-ignored) for a human to look at.

Playwright never downloads a browser here: Debian's /usr/bin/chromium is launched directly.
Run: `python -m pytest tests/app/test_browser.py -q` (about a minute on the 2-core machine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import async_playwright
from playwright.async_api import expect as expect_async
from playwright.sync_api import expect

from mesonet.serving.app_server import start_streamlit, stop_streamlit
from mesonet.verdict import VERDICT_WORDS
from tests.helpers import (
    ANALYSIS_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    CONTENT_HEIGHT_JS,
    FILE_INPUT,
    FIRST_ANALYSIS_MS,
    IMAGES_LOADED_JS,
    UI_MS,
    VERDICT_CARD,
    VIEWPORT,
    Server,
    full_screenshot,
    open_page,
    p_fake_value,
    wait_for_verdict,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

# The server, browser, page and screenshots fixtures are tests/app/conftest.py's; the page helpers,
# timeouts and selectors the other browser tests share are tests/helpers.py's.

MODEL = "meso4-df"  # the sidebar's default: Meso4 architecture, DF weights

# CSS selectors into Streamlit's DOM (data-testid attributes; `st-key-<key>` classes for keyed elements).
CHART_POINTS = ".st-key-analyse-chart .js-plotly-plot .scatterlayer .points path"
FRAME_VIEW = ".st-key-analyse-frame_view"
EXCEPTION = '[data-testid="stException"]'
ALERT = '[data-testid="stAlert"]'
# The progress text of an analysis that waits for one of the server's worker processes.
WAITING = re.compile(r"^Waiting for a free worker: (yours is next|\d+ analys[ie]s ahead of yours)$")
# Colour, opacity and size of every chart marker.
MARKERS_JS = """els => els.map(e => ({fill: getComputedStyle(e).fill, opacity: getComputedStyle(e).opacity,
    width: e.getBoundingClientRect().width}))"""


@pytest.fixture(scope="session")
def expected(classifier) -> Callable:
    """`expected(path)`: the core's Analysis of a file with the app's default model (memoised)."""
    from mesonet.analysis.pipeline import analyze_media

    results: dict[Path, object] = {}

    def analysis_of(path: Path):
        if path not in results:
            results[path] = analyze_media(path, classifier(MODEL))
        return results[path]

    return analysis_of


def frame_header(page) -> str:
    return page.locator(FRAME_VIEW).get_by_text(re.compile(r"^Frame \d+ at")).inner_text()


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_video_verdict_matches_core_and_chart_click_shows_that_frame(page, shared_dir, expected, screenshots):
    video = shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"
    analysis = expected(video)
    assert len(analysis.faces) >= 3, "the clip should give a face in most sampled frames"

    page.set_input_files(FILE_INPUT, video)
    word, p_fake = wait_for_verdict(page, video.name, timeout=FIRST_ANALYSIS_MS)
    page.get_by_text(f"Aligned faces ({len(analysis.faces)})").wait_for(timeout=ANALYSIS_MS)
    points = page.locator(CHART_POINTS)
    expect(points).to_have_count(len(analysis.faces), timeout=ANALYSIS_MS)
    expect(page.get_by_text(re.compile(r"^Found \d+ face\(s\) in \d+ frame\(s\)"))).to_be_visible()

    assert word == VERDICT_WORDS[analysis.verdict]
    assert p_fake == f"{analysis.summary.p_fake_mean:.1%}"
    time_metric = page.locator('[data-testid="stMetric"]:has-text("Time") [data-testid="stMetricValue"]')
    time_before_click = time_metric.inner_text()
    markers_before = page.eval_on_selector_all(CHART_POINTS, MARKERS_JS)
    full_screenshot(page, screenshots / "analyse_video.png")

    # Until a point is clicked the frame view shows the most suspicious frame.
    shown = int(re.match(r"Frame (\d+)", frame_header(page)).group(1))
    assert shown == max(analysis.faces, key=lambda f: f.p_fake).frame_index
    # A point away from the shown one and from the ends of the line.
    n = next(i for i in range(len(analysis.faces) // 3, len(analysis.faces)) if analysis.faces[i].frame_index != shown)
    target = analysis.faces[n]
    point = points.nth(n)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    # Plotly picks points from the mouse position on its drag layer, above the markers.
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    header = page.locator(FRAME_VIEW).get_by_text(re.compile(rf"^Frame {target.frame_index} at"))
    header.wait_for(timeout=ANALYSIS_MS)
    assert header.inner_text() == (f"Frame {target.frame_index} at {target.time_s:.2f} s · P(fake) {target.p_fake:.1%}")
    # Only the fragment reran: the verdict card (and its timing) is untouched.
    assert time_metric.inner_text() == time_before_click
    assert p_fake_value(page).inner_text() == p_fake
    assert page.locator(EXCEPTION).count() == 0
    # Issue 14: the click faded every other marker, hiding the red and green pattern. Every marker
    # keeps its colour and full opacity; the chosen one grows.
    markers = page.eval_on_selector_all(CHART_POINTS, MARKERS_JS)
    assert [m["fill"] for m in markers] == [m["fill"] for m in markers_before]
    assert all(m["opacity"] == "1" for m in markers)
    others = [m["width"] for i, m in enumerate(markers) if i != n]
    assert markers[n]["width"] > 1.5 * max(others)
    full_screenshot(page, screenshots / "analyse_video_point_clicked.png")


def test_bad_file_shows_an_error_box_then_a_photo_works(page, shared_dir, expected, screenshots, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("These are my notes, not a video.\n")
    page.set_input_files(FILE_INPUT, notes)

    error = page.locator(ALERT).filter(has_text="notes.mp4")
    error.wait_for(timeout=FIRST_ANALYSIS_MS)
    assert "not a video" in error.inner_text()
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator(VERDICT_CARD.format(name="notes.mp4")).count() == 0
    full_screenshot(page, screenshots / "analyse_bad_file.png")

    photo = shared_dir / "data" / "photos" / "obama.jpg"
    analysis = expected(photo)
    page.set_input_files(FILE_INPUT, photo)
    word, p_fake = wait_for_verdict(page, photo.name)
    assert word == VERDICT_WORDS[analysis.verdict]
    assert p_fake == f"{analysis.summary.p_fake_mean:.1%}"
    expect(error).to_have_count(0)
    assert page.locator(EXCEPTION).count() == 0
    full_screenshot(page, screenshots / "analyse_photo_after_bad_file.png")


async def _analyse_in_session(
    browser, url: str, path: Path, n_faces: int, screenshot: Path
) -> tuple[str, str, str, bool]:
    """One user: a new context, upload, wait for the whole result.

    Returns:
        (verdict word, P(fake), frame header, whether the page said it waited for a free worker).
    """
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_selector(FILE_INPUT, state="attached", timeout=30_000)
        await page.set_input_files(FILE_INPUT, path)
        card = page.locator(VERDICT_CARD.format(name=path.name))
        waited = False
        deadline = time.monotonic() + FIRST_ANALYSIS_MS / 1000
        while not await card.count():
            assert time.monotonic() < deadline, f"{path.name}: no verdict within {FIRST_ANALYSIS_MS / 1000:.0f} s"
            waited = waited or bool(await page.get_by_text(WAITING).count())
            await asyncio.sleep(0.1)
        await page.get_by_text(f"Aligned faces ({n_faces})").wait_for(timeout=ANALYSIS_MS)
        await expect_async(page.locator(CHART_POINTS)).to_have_count(n_faces, timeout=ANALYSIS_MS)
        await page.wait_for_function(IMAGES_LOADED_JS, timeout=ANALYSIS_MS)
        word = (await card.inner_text()).splitlines()[0].strip()
        p_fake = (await p_fake_value(page).inner_text()).strip()
        header = await page.locator(FRAME_VIEW).get_by_text(re.compile(r"^Frame \d+ at")).inner_text()
        assert await page.locator(EXCEPTION).count() == 0, f"{path.name}: the page shows a traceback"
        height = await page.evaluate(CONTENT_HEIGHT_JS)
        if height > VIEWPORT["height"]:
            await page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        await page.screenshot(path=str(screenshot), full_page=True)
        return word, p_fake, header, waited
    finally:
        await context.close()


async def _analyse_concurrently(server: Server, jobs: list[tuple[Path, int, Path]]) -> list[tuple[str, str, str, bool]]:
    """Runs one session per job at the same time; stops early if the server process dies."""

    async def watch_server() -> None:
        while server.process.poll() is None:
            await asyncio.sleep(0.25)

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        sessions = asyncio.gather(*(_analyse_in_session(chromium, server.url, *job) for job in jobs))
        watchdog = asyncio.ensure_future(watch_server())
        try:
            await asyncio.wait({sessions, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            if not sessions.done():
                sessions.cancel()
                await asyncio.gather(sessions, return_exceptions=True)
                return []  # the caller reports the dead server
            return sessions.result()
        finally:
            watchdog.cancel()
            await chromium.close()


def test_six_concurrent_sessions_each_see_their_own_result(server, shared_dir, expected, screenshots, tmp_path):
    """Six users analyse six videos at once on one server; each sees its own result.

    The server's worker processes (one per core) take the analyses in turn, so with six users
    on two cores some wait, and their page says so. Also catches native crashes under
    concurrency: HOG face detection from several sessions' threads at once through
    face_recognition's one shared dlib detector crashed the whole server (segfault or heap
    corruption in _dlib_pybind11).
    """
    videos = shared_dir / "data" / "videos"
    real = videos / "real"
    # Changed copies (bytes appended that ffmpeg ignores): their faces are not in the server's
    # extraction cache from the other tests, so all six sessions really extract at the same time.
    sources = {
        "ff_youtube_183_copy.mp4": real / "ff_youtube_183.mp4",
        "deepfakes_183_253.mp4": videos / "deepfakes" / "ff_c40_183_253.mp4",  # same name in both folders
        "face2face_183_253.mp4": videos / "face2face" / "ff_c40_183_253.mp4",
        "hamilton_copy.mp4": real / "short_hamilton_clip.mp4",
        "kitchen_pan_copy.mp4": real / "ff_actors_01_kitchen_pan.mp4",
        "ff_youtube_183_second_copy.mp4": real / "ff_youtube_183.mp4",
    }
    files = []
    for n, (name, source) in enumerate(sources.items()):
        files.append(tmp_path / name)
        shutil.copyfile(source, files[-1])
        with files[-1].open("ab") as file:
            file.write(b"\0trailing bytes that ffmpeg ignores" + bytes([n]))
    analyses = [expected(path) for path in files]
    jobs = [
        (path, len(analysis.faces), screenshots / f"concurrent_{i + 1}_{path.stem}.png")
        for i, (path, analysis) in enumerate(zip(files, analyses))
    ]

    # The sync Playwright of the other tests owns this thread's event loop: run asyncio in another.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        results = pool.submit(asyncio.run, _analyse_concurrently(server, jobs)).result(timeout=360)
    server.check_alive()

    for path, analysis, (word, p_fake, header, _) in zip(files, analyses, results, strict=True):
        assert (word, p_fake) == (VERDICT_WORDS[analysis.verdict], f"{analysis.summary.p_fake_mean:.1%}"), path.name
        most_suspicious = max(analysis.faces, key=lambda f: f.p_fake)
        assert header.startswith(f"Frame {most_suspicious.frame_index} at "), (path.name, header)
    assert any(waited for *_, waited in results), "six analyses on fewer workers: someone should have waited"


def _worker_pids(server: Server) -> list[int]:
    """The server's worker processes: its children started by multiprocessing's spawn (not its tracker)."""
    pids = []
    for children in Path(f"/proc/{server.process.pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                pids.append(int(pid))
    return pids


def test_a_worker_killed_mid_analysis_fails_that_analysis_only(page, server, shared_dir, expected, tmp_path):
    """A worker process that dies (here: SIGKILL, as the kernel's OOM killer does) shows its user a
    one-line message; the pool starts a new worker, and the next analysis works."""
    clip = tmp_path / "kitchen_pan_doomed.mp4"
    shutil.copyfile(shared_dir / "data" / "videos" / "real" / "ff_actors_01_kitchen_pan.mp4", clip)
    with clip.open("ab") as file:
        file.write(b"\0not in the cache")
    page.set_input_files(FILE_INPUT, clip)
    page.get_by_text(re.compile(r"^Finding faces: frame [1-9]\d* of 30$")).wait_for(timeout=FIRST_ANALYSIS_MS)
    before = _worker_pids(server)
    assert before, "the server should have worker processes"
    for pid in before:
        os.kill(pid, signal.SIGKILL)

    error = page.locator(ALERT).filter(has_text=clip.name)
    error.wait_for(timeout=ANALYSIS_MS)
    assert "the worker process analysing it was ended by SIGKILL" in error.inner_text()
    assert page.locator(EXCEPTION).count() == 0
    server.check_alive()

    photo = shared_dir / "data" / "photos" / "biden.jpg"
    page.set_input_files(FILE_INPUT, photo)
    word, p_fake = wait_for_verdict(page, photo.name, timeout=FIRST_ANALYSIS_MS)
    assert (word, p_fake) == (VERDICT_WORDS[expected(photo).verdict], f"{expected(photo).summary.p_fake_mean:.1%}")
    assert set(_worker_pids(server)).isdisjoint(before)


def test_a_fresh_server_shows_the_app_menu_on_a_page_url(browser, tmp_path, screenshots):
    """Regression: on a fresh server, a first visit straight to a page's URL ran that page file alone
    (Streamlit's pages-folder mode): no menu, and the folder's file names, `ui` included, as pages."""
    process, url, _ = start_streamlit(tmp_path / "fresh.log", timeout_s=30)
    try:
        for visit in ("first", "second"):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/weights")
            expect(page.get_by_role("heading", name="Weights", exact=True)).to_be_visible(timeout=FIRST_ANALYSIS_MS)
            sidebar = page.locator('[data-testid="stSidebar"]')
            expect(sidebar.get_by_text("MesoNet Studio")).to_be_visible()
            for title in ("Analyse", "Compare models", "Learn", "Evaluate", "Train", "Weights"):
                expect(sidebar.get_by_role("link", name=title, exact=True)).to_be_visible()
            expect(sidebar.get_by_role("link", name="ui", exact=True)).to_have_count(0)
            page.screenshot(path=str(screenshots / f"fresh_server_{visit}_visit.png"))
            context.close()
    finally:
        stop_streamlit(process)


def test_training_runs_beside_the_server_stops_and_other_users_are_still_served(
    browser, tmp_path, shared_dir, expected, screenshots
):
    """Regression (issue 14): "Start training" on a server dataset killed the whole server with a
    segmentation fault inside TensorFlow; every connected browser showed "Connection error"."""
    faces = tmp_path / "datasets" / "faces80"
    for folder in ("df", "real"):
        (faces / folder).mkdir(parents=True)
        for source in sorted((shared_dir / "data" / "mesonet_df" / "train" / folder).glob("*.jpg"))[:40]:
            (faces / folder / source.name).symlink_to(source)
    process, url, _ = start_streamlit(
        tmp_path / "train.log", timeout_s=30, env={"MESONET_DATASETS_DIR": str(faces.parent)}
    )
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1400})
        context.set_default_timeout(UI_MS)
        teacher = context.new_page()
        teacher.goto(f"{url}/train")
        wait_until_idle(teacher, timeout=FIRST_ANALYSIS_MS)
        # The longest run the page allows, so it is still running when the other user looks.
        steps = teacher.get_by_role("spinbutton", name="Steps")
        steps.fill("2000", timeout=FIRST_ANALYSIS_MS)
        steps.press("Enter")
        teacher.get_by_role("button", name="Start training").click(timeout=FIRST_ANALYSIS_MS)
        teacher.get_by_text(re.compile(r"^Step [1-9]\d* of 2000")).wait_for(timeout=FIRST_ANALYSIS_MS)
        teacher.locator(".st-key-train-curves .js-plotly-plot").wait_for(timeout=FIRST_ANALYSIS_MS)
        assert process.poll() is None
        teacher.screenshot(path=str(screenshots / "train_running.png"), full_page=True)

        # Another user is served while the run trains.
        other = open_page(browser, url)
        photo = shared_dir / "data" / "photos" / "obama.jpg"
        other.set_input_files(FILE_INPUT, photo)
        word, _ = wait_for_verdict(other, photo.name, timeout=FIRST_ANALYSIS_MS)
        assert word == VERDICT_WORDS[expected(photo).verdict]
        # ... and sees that the slot is busy, but cannot stop, download or replace the run (issue 24, finding 2).
        other.goto(f"{url}/train")
        other.get_by_text("Another user's training run holds the server's training slot").wait_for(
            timeout=FIRST_ANALYSIS_MS
        )
        other.get_by_text(re.compile(r"^Another user's run: step \d+ of 2000")).wait_for()
        assert other.get_by_role("button", name="Stop").count() == 0
        expect(other.get_by_role("button", name="Start training")).to_be_disabled()

        teacher.get_by_role("button", name="Stop").click()
        teacher.get_by_text(re.compile(r"^Stopped after \d+ steps")).wait_for(timeout=ANALYSIS_MS)
        teacher.get_by_role("button", name="Use these weights in the app").wait_for()
        assert teacher.locator(EXCEPTION).count() == 0
        teacher.screenshot(path=str(screenshots / "train_stopped.png"), full_page=True)
        # The stopped run's weights wait for their owner: the other user gets no download.
        other.reload()
        other.get_by_text("Another user's training run holds").wait_for(timeout=ANALYSIS_MS)
        assert other.get_by_role("button", name=re.compile("Download the weights")).count() == 0
        assert process.poll() is None, "the server died"
        other.context.close()
        context.close()
    finally:
        stop_streamlit(process)


def test_group_photo_compare_and_back_on_a_desktop(page, shared_dir, screenshots):
    """Issue 14, items 6, 7 and 1 in the real app: a group photo's faces numbered left to right,
    the same file on Compare without analysing it again, and still there back on Analyse."""
    photo = shared_dir / "data" / "photos" / "two_people.jpg"
    page.get_by_text("Face extraction settings").click()
    page.get_by_text("All faces", exact=True).click()
    expect(page.get_by_role("radio", name="All faces")).to_be_checked()
    wait_until_idle(page)
    page.set_input_files(FILE_INPUT, photo)
    wait_for_verdict(page, photo.name, timeout=FIRST_ANALYSIS_MS)
    frame_view = page.locator(FRAME_VIEW)
    expect(frame_view.get_by_text("Photo · 2 faces, numbered left to right")).to_be_visible()
    expect(frame_view.get_by_text(re.compile(r"^face 1: P\(fake\)"))).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Explain face 1"))).to_be_visible()
    full_screenshot(page, screenshots / "analyse_group_photo.png")

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name="Compare models", exact=True).click()
    page.get_by_role("heading", name="Compare models").wait_for()
    expect(page.get_by_text("the file analysed on the Analyse page")).to_be_visible(timeout=ANALYSIS_MS)
    page.locator(".st-key-compare-chart .js-plotly-plot").wait_for(timeout=ANALYSIS_MS)
    expect(sidebar.get_by_text("Architecture")).to_have_count(0)  # no classifier picker here
    assert page.locator(EXCEPTION).count() == 0
    full_screenshot(page, screenshots / "compare.png")

    sidebar.get_by_role("link", name="Analyse", exact=True).click()
    wait_for_verdict(page, photo.name)
    expect(page.get_by_text(f"Showing {photo.name}, analysed earlier in this session")).to_be_visible()
    expect(page.locator(FRAME_VIEW).get_by_text("Photo · 2 faces, numbered left to right")).to_be_visible()


def test_phone_layout_shows_the_gallery_three_across(browser, server, shared_dir, expected, screenshots):
    """Issue 14, item 11: on a 390-px-wide phone the 30-face gallery was one crop per row, a page
    over 12,000 px tall."""
    video = shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"
    n_faces = len(expected(video).faces)
    page = open_page(browser, server.url, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    try:
        page.set_input_files(FILE_INPUT, video)
        wait_for_verdict(page, video.name, timeout=FIRST_ANALYSIS_MS)
        gallery = page.locator(".st-key-analyse-gallery img")
        expect(gallery).to_have_count(12, timeout=ANALYSIS_MS)
        page.get_by_role("button", name=f"Show all {n_faces} faces").click()
        expect(gallery).to_have_count(n_faces, timeout=ANALYSIS_MS)
        page.wait_for_function(IMAGES_LOADED_JS, timeout=UI_MS)
        rows: dict[int, int] = {}
        for box in gallery.evaluate_all("els => els.map(e => e.getBoundingClientRect().top)"):
            rows[round(box)] = rows.get(round(box), 0) + 1
        assert min(list(rows.values())[:-1]) >= 3, rows  # three or more across, but maybe the last row
        assert gallery.first.bounding_box()["width"] < 390 / 3
        height = page.evaluate(CONTENT_HEIGHT_JS)
        assert height < 7000, height
        assert page.locator(EXCEPTION).count() == 0
        full_screenshot(page, screenshots / "phone_analyse_video.png")
    finally:
        page.context.close()
