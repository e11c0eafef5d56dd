"""Shared fixtures: the ../shared folder and models loaded once per test session."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

# As in streamlit_app.py: aiortc's libsrtp segfaults when it loads after TensorFlow, and the
# AppTests run the router (which imports it) in this process, where TensorFlow is loaded.
import aiortc  # noqa: F401
import pytest

from mesonet import config

REPO = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path:
    folder = config.data_dir()
    if not folder.is_dir():
        # Tests that need the third-party files must fail loudly, never skip silently.
        raise RuntimeError(f"Test data folder {folder} is missing: set MESONET_DATA_DIR to the shared/ folder.")
    return folder


# The catalog weights and sample crops come from the repository, as users get them: a developer's
# own MESONET_WEIGHTS_DIR or MESONET_SAMPLES_DIR must not change what the tests test.
for _variable in (config.WEIGHTS_DIR_ENV, config.SAMPLES_DIR_ENV):
    os.environ.pop(_variable, None)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _shared_dir()


@pytest.fixture(scope="session")
def sample_images(shared_dir: Path) -> dict[str, Path]:
    """The authors' four sample face crops, by stem (df00204, df01254, real00240, real00772)."""
    folder = shared_dir / "samples" / "mesonet_test_images"
    return {p.stem: p for p in sorted(folder.glob("*/*.jpg"))}


@pytest.fixture(scope="session")
def classifier():
    """Returns a loader for catalog classifiers; each model is loaded once per session."""
    from mesonet.scoring import load_classifier

    return load_classifier


@pytest.fixture()
def tiny_dataset(tmp_path: Path, shared_dir: Path) -> Path:
    """8 forged and 8 real crops from the authors' training set (symlinks)."""
    train_dir = shared_dir / "data" / "mesonet_df" / "train"
    root = tmp_path / "tiny"
    for folder in ("df", "real"):
        (root / folder).mkdir(parents=True)
        for source in sorted((train_dir / folder).glob("*.jpg"))[:8]:
            (root / folder / source.name).symlink_to(source)
    return root


@pytest.fixture()
def local_server(tmp_path):
    """Serves tmp_path/www over HTTP on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the whole session: its sync API allows only one per thread, and
    several browser test files launch their Chromium from it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
