"""Fixtures of several folders: the ../shared folder, models loaded once per test session, a local
HTTP server, and the astronaut sample clip with variants of it made by ffmpeg."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

# As in streamlit_app.py: aiortc's libsrtp segfaults when it loads after TensorFlow, and the
# AppTests run the router (which imports it) in this process, where TensorFlow is loaded.
import aiortc  # noqa: F401
import numpy as np
import pytest

from mesonet import config
from tests.helpers import ffmpeg


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
    from mesonet.models.scoring import load_classifier

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


@pytest.fixture(scope="module")
def clip() -> Path:
    """The astronaut sample: 3 s, 25 fps, 640x360, one real face panning slowly (made locally)."""
    from mesonet.media.samples import sample_path

    return sample_path("astronaut-clip")


@pytest.fixture(scope="module")
def clips(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The astronaut clip with a sound track (AAC in MP4, Opus in MKV), indexed first (faststart.mp4),
    cut short (cut.mp4), ten times as long (long.mp4), and random bytes named random.mp4."""
    folder = tmp_path_factory.mktemp("annotate_clips")
    paths = {name: folder / name for name in ("sine_aac.mp4", "sine_opus.mkv", "faststart.mp4")}
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:duration=3:sample_rate=48000"]
    ffmpeg(
        "-i", str(clip), *sine, "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(paths["sine_aac.mp4"])
    )
    ffmpeg(
        "-i",
        str(clip),
        *sine,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "libopus",
        str(paths["sine_opus.mkv"]),
    )
    # Index first, so that a copy cut short still opens, but holds only the first third of the frames:
    # ffmpeg decodes those, says "partial file", and ends without an error.
    ffmpeg("-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(paths["faststart.mp4"]))
    data = paths["faststart.mp4"].read_bytes()
    paths["cut.mp4"] = folder / "cut.mp4"
    paths["cut.mp4"].write_bytes(data[: len(data) * 4 // 5])
    paths["random.mp4"] = folder / "random.mp4"
    paths["random.mp4"].write_bytes(np.random.default_rng(0).bytes(5000))
    paths["long.mp4"] = folder / "long.mp4"  # 30 s: long enough to stop mid-way
    ffmpeg("-stream_loop", "9", "-i", str(clip), "-c", "copy", str(paths["long.mp4"]))
    return paths
