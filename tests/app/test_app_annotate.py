"""The Analyse page's annotated video under AppTest: real upload, faces, models and ffmpeg.

The AppTest helpers and the file checks (ffmpeg's description, the MP4's boxes) are tests/helpers.py's;
the download recorder and the clips are fixtures (tests/app/conftest.py, tests/conftest.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.helpers import download_content, open_app, probe, top_level_boxes, upload

pytestmark = pytest.mark.usefixtures("record_downloads")

NAME = "astronaut_clip_annotated.mp4"


def _leftovers() -> list[Path]:
    """This test's temporary files still on disk (other tests on the machine may have their own)."""
    return list(Path(tempfile.gettempdir()).glob("mesonet-upload-*/astronaut_clip*"))


def _download_buttons(at) -> list[str]:
    return [button.label for button in at.get("download_button")]


def test_the_annotated_video_is_made_on_request_and_downloaded(clip: Path, tmp_path: Path):
    at = open_app()
    at.slider(key="analyse.frames").set_value(6)
    upload(at, "analyse.upload", clip, "video/mp4")
    assert not at.exception and not at.error
    assert "Annotated video" in [s.value for s in at.subheader]
    assert "Annotated video (MP4)" not in _download_buttons(at)  # nothing is made until asked for

    at.button(key="analyse.annotate").click().run()
    assert not at.exception and not at.error
    assert "Annotated video (MP4)" in _download_buttons(at)
    assert len(at.get("video")) == 1  # the preview
    data = download_content(at, NAME)
    out = tmp_path / NAME
    out.write_bytes(data)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")
    result = probe(out)
    assert (result["codec"], result["pix_fmt"], result["frames"], result["fps"]) == ("h264", "yuv420p", 75, 25)
    assert _leftovers() == []  # the upload's copy and the video file are deleted

    # Another threshold recolours the boxes: the video made before is dropped, the button comes back.
    at.slider(key="decision.threshold").set_value(0.3).run()
    assert not at.exception
    assert "Annotated video (MP4)" not in _download_buttons(at) and not at.get("video")
    assert at.button(key="analyse.annotate").label == "Make the annotated video"

    # Every frame scored: the faces of all 75 frames are found in the server's workers.
    at.toggle(key="analyse.annotate_every_frame").set_value(True).run()
    at.button(key="analyse.annotate").click().run()
    assert not at.exception and not at.error
    every = tmp_path / "every.mp4"
    every.write_bytes(download_content(at, NAME))
    assert probe(every)["frames"] == 75
    assert _leftovers() == []


def test_a_photo_has_no_annotated_video(shared_dir: Path):
    at = open_app()
    upload(at, "analyse.upload", shared_dir / "data" / "photos" / "obama.jpg", "image/jpeg")
    assert not at.exception and not at.error
    assert "Annotated video" not in [s.value for s in at.subheader]
    assert not any(button.key == "analyse.annotate" for button in at.button)


def test_a_clip_that_cannot_be_annotated_gets_the_message_and_no_video(clips):
    """A download cut short: its first 26 frames analyse, but the video is not made from a damaged file."""
    at = open_app()
    at.slider(key="analyse.frames").set_value(6)
    upload(at, "analyse.upload", clips["cut.mp4"], "video/mp4")
    assert not at.exception and not at.error
    at.button(key="analyse.annotate").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "cut.mp4: the file is cut short" in at.error[0].value.replace(
        "\\", ""
    )  # Markdown-escaped
    assert "Annotated video (MP4)" not in _download_buttons(at) and not at.get("video")
    assert list(Path(tempfile.gettempdir()).glob("mesonet-upload-*/cut*")) == []
