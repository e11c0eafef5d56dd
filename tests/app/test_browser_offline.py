"""Nothing leaves the machine (issue 21, item 2): every page of the real app (`streamlit run`), in headless
Chromium, requests only the server it came from. Every page fetched its favicon from fonts.gstatic.com,
which fails offline and tells Google who uses the app.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.helpers import UI_MS, wait_until_idle

pytestmark = pytest.mark.browser

# Each page's address (the file's name; Analyse is the home page) and its heading.
PAGES = {
    "": "Analyse a photo or a video",
    "live_camera": "Live camera",
    "compare": "Compare models",
    "learn": "Learn how MesoNet sees",
    "class_round": "Class round",
    "make_deepfake": "Make a deepfake",
    "evaluate": "Evaluate on a labelled dataset",
    "train": "Train or fine-tune",
    "weights": "Weights",
}
# Assets a page asks for after its script has run (favicon, fonts, component frames).
SETTLE_S = 3.0


def test_every_page_requests_only_the_server(browser, server):
    server_host = urlsplit(server.url).netloc
    elsewhere: dict[str, set[str]] = {}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_MS)

    def record(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != server_host:
            elsewhere.setdefault(current[0], set()).add(f"{parts.scheme}://{parts.netloc}{parts.path}")

    current = [""]
    context.on("request", record)
    seen = 0
    try:
        page = context.new_page()
        for path, heading in PAGES.items():
            current[0] = path or "analyse"
            page.goto(f"{server.url}/{path}")
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=120_000)
            wait_until_idle(page, timeout=120_000)
            time.sleep(SETTLE_S)
            seen += 1
    finally:
        context.close()
        server.check_alive()
    assert seen == len(PAGES)
    assert not elsewhere, f"requests to other hosts, by page: {elsewhere}"
