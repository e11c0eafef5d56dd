"""The samples catalog: offline samples, the authors' crops with SHA-256 checks, downloads."""

from __future__ import annotations

import shutil

import pytest

from mesonet.errors import SampleError
from mesonet.media.ffmpeg import probe_video
from mesonet.media.images import load_image
from mesonet.media.samples import get_sample, list_samples, sample_path


def test_catalog_has_an_offline_photo_and_clip_and_the_authors_crops():
    names = [s.name for s in list_samples()]
    assert names[:2] == ["astronaut-photo", "astronaut-clip"]
    assert {"authors-df00204", "authors-df01254", "authors-real00240", "authors-real00772"} <= set(names)
    assert get_sample("authors-df00204").url.endswith("/test_images/df/df00204.jpg")
    with pytest.raises(SampleError, match="astronaut-photo"):
        get_sample("nope")


def test_offline_samples_need_no_download(tmp_path, monkeypatch):
    monkeypatch.setenv("MESONET_CACHE_DIR", str(tmp_path))
    photo = load_image(sample_path("astronaut-photo"))
    assert photo.shape == (512, 512, 3)
    info = probe_video(sample_path("astronaut-clip"))
    assert (info.width, info.height, info.frame_count, info.fps) == (640, 360, 75, 25.0)
    assert sample_path("astronaut-clip").parent == tmp_path / "samples"


def test_authors_crops_ship_with_the_package_and_match_the_published_files(sample_images):
    from mesonet import config

    for stem, published in sample_images.items():
        path = sample_path(f"authors-{stem}", download=False)
        assert path.parent.parent == config.SHIPPED_SAMPLES_DIR
        assert path.read_bytes() == published.read_bytes()
    assert (config.SHIPPED_SAMPLES_DIR / "LICENSE").is_file() and (config.SHIPPED_SAMPLES_DIR / "NOTICE").is_file()


def test_samples_folder_comes_first_and_copies_are_verified(tmp_path, monkeypatch, shared_dir):
    monkeypatch.setenv("MESONET_SAMPLES_DIR", str(shared_dir / "samples" / "mesonet_test_images"))
    assert sample_path("authors-real00772") == shared_dir / "samples" / "mesonet_test_images" / "real" / "real00772.jpg"
    corrupted = tmp_path / "local"
    (corrupted / "real").mkdir(parents=True)
    (corrupted / "real" / "real00772.jpg").write_bytes(b"not the published file")
    monkeypatch.setenv("MESONET_SAMPLES_DIR", str(corrupted))
    monkeypatch.setenv("MESONET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("mesonet.config.SHIPPED_SAMPLES_DIR", tmp_path / "not_shipped")
    with pytest.raises(SampleError, match="set MESONET_SAMPLES_DIR") as info:
        sample_path("authors-real00772", download=False)
    assert "http" not in str(info.value)


def test_authors_crop_download_is_checked(tmp_path, monkeypatch, local_server, shared_dir):
    root, base = local_server
    monkeypatch.delenv("MESONET_SAMPLES_DIR", raising=False)
    monkeypatch.setenv("MESONET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("mesonet.config.SHIPPED_SAMPLES_DIR", tmp_path / "not_shipped")
    (root / "df").mkdir()
    shutil.copy(shared_dir / "samples" / "mesonet_test_images" / "df" / "df00204.jpg", root / "df" / "df00204.jpg")
    monkeypatch.setattr("mesonet.media.samples.AUTHORS_RAW", base + "/{}")
    path = sample_path("authors-df00204")
    assert path == tmp_path / "cache" / "samples" / "df" / "df00204.jpg"
    assert path.read_bytes() == (root / "df" / "df00204.jpg").read_bytes()
    with pytest.raises(SampleError, match="could not be downloaded. Reinstall") as info:
        sample_path("authors-df01254")
    assert "http" not in str(info.value) and "Errno" not in str(info.value)
