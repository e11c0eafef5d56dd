"""Fixtures of the app tests: AppTest's downloads, a small labelled ZIP, and the real app's server
with the Chromium that drives it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit.testing.v1.app_test as app_test_module

from mesonet.serving.app_server import start_streamlit, stop_streamlit
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, RecordingStorage, Server, open_page


@pytest.fixture()
def record_downloads(monkeypatch):
    """Makes AppTest keep its media storages, for `tests.helpers.download_content`."""
    RecordingStorage.instances.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)


@pytest.fixture(scope="module")
def small_dataset_zip(shared_dir) -> bytes:
    """A ZIP of 12 forged and 12 real crops from the authors' training set."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for folder in ("df", "real"):
            for path in sorted((shared_dir / "data" / "mesonet_df" / "train" / folder).glob("*.jpg"))[:12]:
                archive.write(path, f"faces/{folder}/{path.name}")
    return out.getvalue()


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the whole session: its sync API allows only one per thread, and
    several browser test files launch their Chromium from it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """One `streamlit run streamlit_app.py` server for the whole session."""
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    try:
        # One live camera scored and one annotated video made at a time (the defaults on 2 cores),
        # whatever the machine's cores.
        limits = {"MESONET_LIVE_STREAMS": "1", "MESONET_ANNOTATED_VIDEOS": "1"}
        process, url, _ = start_streamlit(log, timeout_s=30, env=limits)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield Server(url, process, log)
    finally:
        stop_streamlit(process)


@pytest.fixture(scope="session")
def browser(playwright) -> Iterator:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser, server: Server) -> Iterator:
    """A fresh browser context (a new Streamlit session) on the Analyse page."""
    page = open_page(browser, server.url)
    yield page
    page.context.close()
    server.check_alive()  # a timeout above may really be a crashed server: say so


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """artifacts/screenshots/ in the repository (git-ignored), for a human to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
