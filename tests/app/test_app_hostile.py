"""The app against hostile uploads (AppTest): each gets a clear message, nothing leaks, the server keeps serving."""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import re
import shutil
import threading
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO, RecordingStorage, bomb_png, download_content, open_app, shape_bomb, upload

pytestmark = pytest.mark.usefixtures("record_downloads")


def shown(markdown: str) -> str:
    """What the browser shows for a Markdown string: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def check_and_add(at, name: str, data: bytes, arch: str = "meso4"):
    at.radio(key="weights.arch").set_value(arch)
    at.file_uploader(key="weights.uploader").set_value((name, data, "application/octet-stream"))
    next(b for b in at.button if b.label == "Check and add").click().run()
    return at


def test_error_details_are_never_shown_to_users():
    settings = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["showErrorDetails"] == "none"  # one of full, stacktrace, type, none


def test_an_html_file_name_cannot_add_markup_to_the_verdict(shared_dir):
    name = '<img src=x onerror="alert(1)"><b>REAL</b>.jpg'
    at = open_app()
    data = (shared_dir / "data" / "photos" / "obama.jpg").read_bytes()
    at.file_uploader(key="analyse.upload").set_value((name, data, "image/jpeg")).run()
    assert not at.exception and not at.error
    card = next(m.value for m in at.markdown if "color:#555'>verdict for" in m.value)
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;b&gt;REAL&lt;/b&gt;.jpg" in card
    assert "<img" not in card and "<b>" not in card
    assert not any("reused from an earlier analysis" in c.value for c in at.caption)


def test_a_playlist_named_mp4_is_refused_and_the_server_keeps_serving(tmp_path, sample_images):
    playlist = b"ffconcat version 1.0\nfile /work/shared/data/videos/real/secret.mp4\n"
    at = open_app()
    at.file_uploader(key="analyse.upload").set_value(("clip.mp4", playlist, "video/mp4")).run()
    assert not at.exception
    assert "clip.mp4: is an ffmpeg concat list, not a video file" in shown(at.error[0].value)
    assert not at.get("plotly_chart") and not at.metric
    upload(at, "analyse.upload", sample_images["real00240"], "image/jpeg")
    at.toggle(key="analyse.is_crop").set_value(True).run()
    assert not at.exception and not at.error and at.metric


def test_a_tiny_file_that_decodes_huge_is_refused_with_a_message():
    at = open_app()
    at.file_uploader(key="analyse.upload").set_value(("tiny.png", bomb_png(10_000, 6_000), "image/png")).run()
    assert not at.exception
    message = shown(at.error[0].value)
    assert "tiny.png: image is too large: 10000x6000 pixels" in message and "24 megapixel limit" in message


def test_a_bad_weights_upload_names_the_users_file(tmp_path):
    at = check_and_add(open_app("pages/weights.py"), "bad_model.h5", b"not hdf5 at all")
    assert not at.exception
    message = shown(at.error[0].value)
    assert message.startswith("bad_model.h5 is not an HDF5 file"), message
    assert "mesonet-weights-" not in message and "/" not in message.split(" is not")[0]


def test_a_weights_upload_that_claims_gigabytes_is_refused_with_one_line(shared_dir, tmp_path):
    """Issue 24: Keras read the whole array before comparing shapes (7 GB for this 156 KB file)."""
    bomb = shape_bomb(
        shutil.copy(shared_dir / "weights" / "Meso4_DF.h5", tmp_path / "bomb.h5"), "conv2d_5/conv2d_5/kernel:0"
    )
    at = check_and_add(open_app("pages/weights.py"), "bomb.h5", Path(bomb).read_bytes())
    assert not at.exception and not any("Accepted" in s.value for s in at.success)
    assert shown(at.error[0].value).startswith(
        "bomb.h5 does not hold Meso4 weights: dataset conv2d_5/conv2d_5/kernel:0 has shape (3, 3, 3, 15000000); "
        "Meso4 expects (3, 3, 3, 8)."
    )


def test_a_weights_name_with_path_parts_is_stored_under_its_base_name(shared_dir):
    data = (shared_dir / "weights" / "Meso4_DF.h5").read_bytes()
    at = check_and_add(open_app("pages/weights.py"), "../../etc/../model.h5", data)
    assert not at.exception and not at.error
    (custom,) = at.session_state["weights.custom"].values()
    path = Path(custom["path"])
    assert path.name == "model.h5" and path.parent.parent.name == "mesonet-custom-weights"
    assert custom["sha256"] == hashlib.sha256(data).hexdigest()


def test_weight_files_are_bounded_per_session_and_for_the_whole_server(shared_dir, monkeypatch):
    """Issue 24, finding 4: uploads had no count per session and no server-wide budget."""
    from studio.picker import custom_weights_dir

    data = (shared_dir / "weights" / "Meso4_DF.h5").read_bytes()
    monkeypatch.setenv("MESONET_CUSTOM_WEIGHTS_PER_SESSION", "1")
    at = check_and_add(open_app("pages/weights.py"), "first.h5", data)
    assert not at.exception and not at.error
    check_and_add(at, "second.h5", data)
    assert shown(at.error[0].value).startswith("second.h5: this session already keeps 1 weight file, the most it may.")

    monkeypatch.setenv("MESONET_CUSTOM_WEIGHTS_PER_SESSION", "10")
    used = sum(p.stat().st_size for p in custom_weights_dir().glob("mesonet-weights-*/*") if p.is_file())
    monkeypatch.setenv("MESONET_CUSTOM_WEIGHTS_MB", str((used + len(data) / 2) / 1024**2))
    other = check_and_add(open_app("pages/weights.py"), "third.h5", data)
    assert shown(other.error[0].value).startswith("third.h5: the server keeps as many uploaded weight files as it")


def test_same_named_weights_from_two_sessions_at_once_stay_apart(shared_dir):
    contents = [(shared_dir / "weights" / name).read_bytes() for name in ("Meso4_DF.h5", "Meso4_F2F.h5")]
    sessions = [open_app("pages/weights.py") for _ in contents]
    errors: list[BaseException] = []

    def add(at, data):
        try:
            check_and_add(at, "model.h5", data)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=add, args=pair) for pair in zip(sessions, contents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    paths = []
    for at, data in zip(sessions, contents):
        assert not at.exception and not at.error
        assert "Accepted model.h5 as Meso4 weights" in shown(at.success[-1].value)
        (custom,) = at.session_state["weights.custom"].values()
        path = Path(custom["path"])
        assert path.read_bytes() == data and custom["sha256"] == hashlib.sha256(data).hexdigest()
        paths.append(path)
    assert paths[0] != paths[1] and paths[0].parent != paths[1].parent


def test_uploaded_weights_go_when_their_session_ends_or_grow_old(shared_dir, monkeypatch):
    from mesonet import config
    from studio.picker import custom_weights_dir, remove_expired_weights

    data = (shared_dir / "weights" / "Meso4_DF.h5").read_bytes()
    at = check_and_add(open_app("pages/weights.py"), "mine.h5", data)
    folder = Path(next(iter(at.session_state["weights.custom"].values()))["path"]).parent
    assert folder.is_dir()
    del at  # the session's state goes, and with it the folder
    gc.collect()
    assert not folder.exists()

    old = Path(custom_weights_dir()) / "mesonet-weights-old"
    old.mkdir(exist_ok=True)
    (old / "x.h5").write_bytes(b"x")
    monkeypatch.setenv(config.CUSTOM_WEIGHTS_MAX_AGE_H_ENV, "1")
    remove_expired_weights()
    assert old.is_dir()  # younger than an hour
    remove_expired_weights(now=old.stat().st_mtime + 3601)
    assert not old.exists()


def image_bytes(at, caption_start: str) -> bytes:
    """The bytes of the app's image whose caption starts with `caption_start`."""
    for element in at.get("image"):
        for image in element.proto.imgs:
            if image.caption.startswith(caption_start):
                media_name = image.url.rsplit("/", 1)[-1]
                for storage in reversed(RecordingStorage.instances):
                    try:
                        return storage.get_file(media_name).content
                    except Exception:
                        continue
    raise AssertionError(f"no image captioned {caption_start!r}")


def test_learn_caches_follow_the_weights_not_their_label(shared_dir):
    # Regression: feature maps and saliency were cached by the picker's label, which two users' own
    # "model.h5" files share: the second file was shown the first one's maps.
    at = open_app("pages/learn.py")
    grids = []
    for name in ("Meso4_DF.h5", "Meso4_F2F.h5"):
        at.switch_page("pages/weights.py").run()
        check_and_add(at, "model.h5", (shared_dir / "weights" / name).read_bytes())
        at.switch_page("pages/learn.py").run()
        at.radio(key="model.weights").set_value("model.h5 (Meso4)").run()
        assert not at.exception and not at.error
        assert any(c.startswith("model.h5 (Meso4): block1_conv") for i in at.get("image") for c in i.captions)
        grids.append(image_bytes(at, "Every channel of block1_conv"))
    assert grids[0] != grids[1]


def _dataset_zip(shared_dir, extra: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for folder in ("df", "real"):
            for path in sorted((shared_dir / "data" / "mesonet_df" / "train" / folder).glob("*.jpg"))[:3]:
                archive.write(path, f"{folder}/{path.name}")
        for name, data in extra.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_evaluate_downloads_neutralise_formulas_and_hide_server_paths(shared_dir):
    face = (shared_dir / "data" / "mesonet_df" / "train" / "real").glob("*.jpg")
    extra = {"real/=HYPERLINK(1).jpg": next(face).read_bytes(), "df/@SUM(1).jpg": b"not an image", "real/+x.jpg": b""}
    at = open_app("pages/evaluate.py")
    at.file_uploader(key="evaluate.zip").set_value(("faces.zip", _dataset_zip(shared_dir, extra), "application/zip"))
    at.run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception and not at.error
    table = download_content(at, "faces_meso4-df.csv").decode()
    cells = [cell for row in csv.reader(io.StringIO(table)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(c.startswith("'@SUM(1).jpg: ") for c in cells)  # the error column names the file first
    for download in ("faces_meso4-df.csv", "faces_meso4-df.json", "faces_meso4-df_report.html"):
        assert b"mesonet-dataset-" not in download_content(at, download), download


def test_evaluate_refuses_encrypted_and_overfull_zips(shared_dir, monkeypatch):
    from mesonet import config

    data = bytearray(_dataset_zip(shared_dir, {}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + offset] |= 0x1
            start += 4
    at = open_app("pages/evaluate.py")
    at.file_uploader(key="evaluate.zip").set_value(("locked.zip", bytes(data), "application/zip")).run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception and "locked.zip is encrypted" in at.error[0].value
    monkeypatch.setenv(config.MAX_ZIP_ENTRIES_ENV, "3")
    at.file_uploader(key="evaluate.zip").set_value(("many.zip", _dataset_zip(shared_dir, {}), "application/zip")).run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception and "many.zip holds 6 entries; the limit is 3" in at.error[0].value


def test_the_extraction_cache_is_bounded_by_bytes():
    from studio.server import SizedLRU, nbytes

    cache = SizedLRU(max_bytes=3_000)
    for key in "abc":
        cache.put(key, np.zeros(1_000, np.uint8))
    cache.get("a")  # a is now the most recently used
    cache.put("d", np.zeros(1_000, np.uint8))
    assert cache.get("b") is None and all(cache.get(k) is not None for k in "acd")
    cache.put("huge", np.zeros(5_000, np.uint8))  # larger than the budget: never stored
    assert cache.get("huge") is None and cache.total_bytes == 3_000
    assert nbytes({"crops": [np.zeros((256, 256, 3), np.uint8)] * 2, "preview": b"x" * 10, "n": 3}) == 2 * 196_608 + 10


def test_an_extractions_size_counts_its_crops_and_previews(sample_images):
    from mesonet.analysis.pipeline import extraction_from_face_crop
    from studio.server import nbytes

    extraction = extraction_from_face_crop(sample_images["real00240"])
    crops = sum(face.crop.nbytes for frame in extraction.frames for face in frame.faces)
    assert crops >= 256 * 256 * 3 and nbytes(extraction) >= crops


def test_model_cache_drops_the_least_recently_used(monkeypatch):
    from mesonet import config
    from mesonet.models import scoring

    monkeypatch.setattr(config, "MODEL_CACHE_ENTRIES", 1)
    first = scoring.load_classifier("meso4-df")
    scoring.load_classifier("meso4-f2f")
    assert len(scoring.classifier_cache) == 1 and scoring.load_classifier("meso4-df") is not first


def test_partial_downloads_are_unique_per_download(local_server, tmp_path):
    # Regression: the partial file was named per process, so two threads fetching the same file
    # wrote into one partial file and the second rename failed.
    from mesonet.downloads import download_verified

    root, url = local_server
    data = bytes(range(256)) * 4096  # 1 MiB: several chunks, so both downloads are under way at once
    (root / "w.h5").write_bytes(data)
    target = tmp_path / "out" / "w.h5"
    first_started, second_seen = threading.Event(), threading.Event()
    parts_seen: list[int] = []
    errors: list[BaseException] = []

    def first_progress(done, total):
        first_started.set()
        second_seen.wait(30)

    def second_progress(done, total):
        if not second_seen.is_set():
            parts_seen.append(len(list(target.parent.glob(".w.h5.*"))))
            second_seen.set()

    def fetch(progress, wait=None):
        try:
            if wait is not None:
                wait.wait(30)
            download_verified(f"{url}/w.h5", target, hashlib.sha256(data).hexdigest(), progress=progress)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=fetch, args=(first_progress,)),
        threading.Thread(target=fetch, args=(second_progress, first_started)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and parts_seen == [2]
    assert target.read_bytes() == data and not list(target.parent.glob("*.part"))


def test_a_16_bit_png_upload_is_read_by_its_levels(tmp_path):
    values = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (48, 1))
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    at = open_app()
    upload(at, "analyse.upload", path, "image/png")
    assert not at.exception and not at.error
    assert any("NO FACE" in m.value for m in at.markdown)
