"""The core against hostile files, made here: manifests named .mp4, tiny files that decode huge, bad ZIPs."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from mesonet import config
from mesonet.data.archives import unpacked_zip
from mesonet.errors import DatasetError, MediaError
from mesonet.media.ffmpeg import probe_video
from mesonet.media.images import fits_pixel_budget, iter_media_frames, load_image, to_rgb
from mesonet.media.video import iter_frames
from tests.helpers import bomb_png, zip_bytes

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def _secret_clip(path: Path) -> Path:
    """A clip of a solid, recognisable colour (pure green): the file a manifest must not reach."""
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi"]
        + ["-i", "color=c=0x00FF00:size=64x48:rate=10", "-t", "1", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path


@pytest.fixture()
def manifests(tmp_path: Path) -> dict[str, Path]:
    """Playlists and lists that point at secret.mp4 beside them; unrestricted ffmpeg reads them all."""
    _secret_clip(tmp_path / "secret.mp4")
    files = {
        "concat.mp4": "ffconcat version 1.0\nfile secret.mp4\n",
        "hls.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nsecret.mp4\n#EXT-X-ENDLIST\n",
        "hls.mkv": "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nsecret.mp4\n#EXT-X-ENDLIST\n",
        "dash.mp4": "<?xml version='1.0'?>\n<MPD xmlns='urn:mpeg:dash:schema:mpd:2011'><Period><AdaptationSet>"
        "<Representation id='1' bandwidth='1'><BaseURL>secret.mp4</BaseURL></Representation>"
        "</AdaptationSet></Period></MPD>\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / name
        paths[name].write_text(text)
    return paths


def test_unrestricted_ffmpeg_does_read_the_secret_through_the_manifests(manifests: dict[str, Path]) -> None:
    # The corpus is real: without the restrictions, ffmpeg decodes the other file's frames.
    for name in ("concat.mp4", "hls.m3u8"):
        done = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostdin", "-i", str(manifests[name]), "-f", "null", "-"],
            capture_output=True,
            text=True,
            cwd=manifests[name].parent,
        )
        assert done.returncode == 0 and "frame=   10" in done.stderr, name


@pytest.mark.parametrize(
    "name, kind", [("concat.mp4", "concat list"), ("hls.m3u8", "HLS playlist"), ("hls.mkv", "HLS"), ("dash.mp4", "XML")]
)
def test_manifests_are_refused_and_no_frame_of_the_other_file_is_read(
    manifests: dict[str, Path], name: str, kind: str
) -> None:
    path = manifests[name]
    with pytest.raises(MediaError, match=rf"^{name}: is .*{kind}.*not a video file") as info:
        probe_video(path)
    assert "\n" not in str(info.value) and str(path.parent) not in str(info.value)
    with pytest.raises(MediaError, match="not a video file"):
        iter_media_frames(path)


def test_a_manifest_that_skips_the_text_check_is_refused_by_the_format_whitelist(manifests: dict[str, Path]) -> None:
    # Regression: iter_frames with a VideoInfo from elsewhere skips probe_video's text check;
    # ffmpeg's demuxer whitelist must still refuse the concat list.
    info = probe_video(manifests["concat.mp4"].parent / "secret.mp4")
    with pytest.raises(MediaError, match="concat.mp4: not a video ffmpeg can read"):
        list(iter_frames(manifests["concat.mp4"], [0, 1], info=info))


def test_an_image_renamed_to_mp4_is_not_a_video_container(tmp_path: Path) -> None:
    path = tmp_path / "photo.mp4"
    Image.new("RGB", (64, 48), (255, 0, 0)).save(path, format="JPEG")
    with pytest.raises(MediaError, match="photo.mp4: not a video container MesoNet Studio reads"):
        probe_video(path)


def test_cli_detect_refuses_a_playlist_and_prints_no_frame(manifests: dict[str, Path]) -> None:
    path = manifests["hls.m3u8"]
    done = subprocess.run(
        [sys.executable, "-m", "mesonet", "detect", str(path), "--json", "-"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=path.parent,
    )
    assert done.returncode == 2
    assert "hls.m3u8: is an HLS playlist, not a video file" in done.stderr
    assert "Traceback" not in done.stderr
    results = json.loads(done.stdout) if done.stdout.strip() else []
    assert not any(result.get("frames") for result in results)


# ---- pixel budget ------------------------------------------------------------------------


def test_an_image_over_the_pixel_budget_is_refused_from_its_header(tmp_path: Path) -> None:
    # 60 MP: under Pillow's bomb limit (89 MP), over the default 24 MP budget, 7 KB on disk.
    path = tmp_path / "huge.png"
    path.write_bytes(bomb_png(10_000, 6_000))
    assert path.stat().st_size < 100_000
    with pytest.raises(MediaError, match=r"huge.png: image is too large: 10000x6000 pixels .*over the 24 megapixel"):
        load_image(path)
    with pytest.raises(MediaError, match="upload.png: image is too large"):
        load_image(path.read_bytes(), name="upload.png")
    assert not fits_pixel_budget(path)


def test_the_pixel_budget_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (1200, 1000)).save(path)
    assert load_image(path).shape == (1000, 1200, 3)
    monkeypatch.setenv(config.MAX_MEGAPIXELS_ENV, "1")
    with pytest.raises(MediaError, match="over the 1 megapixel limit"):
        load_image(path)
    assert not fits_pixel_budget(path) and fits_pixel_budget(tmp_path / "not_an_image.txt")


def test_video_frames_over_the_pixel_budget_are_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = _secret_clip(tmp_path / "clip.mp4")
    monkeypatch.setenv(config.MAX_MEGAPIXELS_ENV, "0.001")  # 1,000 pixels; the clip's frames have 3,072
    with pytest.raises(MediaError, match=r"clip.mp4: video frames are too large: 64x48 pixels"):
        iter_media_frames(clip)


def test_wide_images_convert_without_losing_their_levels() -> None:
    sixteen = Image.fromarray(np.array([[0, 256 * 100, 65535]] * 600, dtype=np.uint16))
    assert np.asarray(to_rgb(sixteen))[599, :, 0].tolist() == [0, 100, 255]
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0, np.nan]] * 600, dtype=np.float32))
    assert np.asarray(to_rgb(floats))[599, :, 1].tolist() == [0, 127, 255, 0]
    large_floats = Image.fromarray(np.array([[-5.0, 100.0, 300.0]], dtype=np.float32))
    assert np.asarray(to_rgb(large_floats))[0, :, 2].tolist() == [0, 100, 255]


def test_training_leaves_out_images_over_the_pixel_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mesonet.data.datasets import LabeledFile
    from mesonet.training.inputs import FaceArrays

    files = []
    for i, side in enumerate((64, 64, 2000)):
        path = tmp_path / f"face{i}.png"
        Image.new("RGB", (side, side), (10, 20, 30)).save(path)
        files.append(LabeledFile(path, 1, "real", "image"))
    monkeypatch.setenv(config.MAX_MEGAPIXELS_ENV, "1")  # the 2000x2000 file is 4 MP
    assert len(FaceArrays.from_files(files)) == 2


# ---- ZIP archives ------------------------------------------------------------------------


def test_a_zip_with_too_many_entries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.MAX_ZIP_ENTRIES_ENV, "50")
    data = zip_bytes({f"real/{i}.jpg": b"x" for i in range(51)})
    with (
        pytest.raises(DatasetError, match="many.zip holds 51 entries; the limit is 50"),
        unpacked_zip(data, "many.zip"),
    ):
        pass


def test_an_encrypted_zip_is_refused() -> None:
    data = bytearray(zip_bytes({"real/a.jpg": b"secret" * 100, "df/b.jpg": b"secret" * 100}))
    # zipfile cannot write encrypted entries: set the "encrypted" flag bit in both headers, as zip -e does.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + offset] |= 0x1
            start += 4
    with (
        pytest.raises(DatasetError, match="locked.zip is encrypted .*password"),
        unpacked_zip(bytes(data), "locked.zip"),
    ):
        pass


def test_a_corrupt_zip_is_refused_with_a_message() -> None:
    data = bytearray(zip_bytes({"real/a.jpg": bytes(range(256)) * 40}, compression=zipfile.ZIP_DEFLATED))
    middle = data.find(b"real/a.jpg") + 40  # inside the compressed data of the first entry
    data[middle : middle + 20] = b"\xff" * 20
    with pytest.raises(DatasetError, match="broken.zip is damaged"), unpacked_zip(bytes(data), "broken.zip"):
        pass


# ---- CSV ---------------------------------------------------------------------------------


def test_csv_cells_that_spreadsheets_would_run_are_neutralised() -> None:
    import pandas as pd

    from mesonet.analysis.results import csv_safe_frame
    from mesonet.cli.output import format_csv

    names = ["=HYPERLINK(1)", "+cmd", "-2+3", "@SUM(1)", "\tx", "\rx", "plain.jpg"]
    frame = csv_safe_frame(pd.DataFrame({"path": names, "p_fake": [-0.5] * len(names)}))
    assert list(frame["path"]) == ["'" + n for n in names[:-1]] + ["plain.jpg"]
    assert list(frame["p_fake"]) == [-0.5] * len(names)  # numbers are not formulas
    text = format_csv([{"path": n, "score": -1} for n in names])
    assert all(not line.startswith(("=", "+", "-", "@")) for line in text.splitlines())
    assert "'=HYPERLINK(1),-1" in text


def test_only_the_listed_image_formats_are_decoded(tmp_path: Path) -> None:
    # An EPS file would run Ghostscript, a PSD or ICNS file a rarely used decoder: none is opened.
    path = tmp_path / "face.jpg"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(MediaError, match="face.jpg: not an image Pillow can read"):
        load_image(path)
    Image.new("RGB", (8, 8)).save(tmp_path / "icon.gif")
    with pytest.raises(MediaError, match="icon.jpg: not an image Pillow can read"):
        load_image((tmp_path / "icon.gif").read_bytes(), name="icon.jpg")


def test_cli_detect_calls_a_text_file_a_text_file(tmp_path: Path) -> None:
    """Issue 21: a text file got a message about playlists, and the command line was told to "upload"."""
    notes = tmp_path / "notes.mp4"
    notes.write_text("meeting notes, not a video\n")
    done = subprocess.run(
        [sys.executable, "-m", "mesonet", "detect", str(notes)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2
    assert "notes.mp4: is a text file, not a video. Use a video file (MP4" in done.stderr
    assert "playlist" not in done.stderr and "Upload" not in done.stderr
