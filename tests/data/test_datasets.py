"""mesonet.data.datasets and mesonet.data.archives: class-folder layouts, splits, per-class samples, uploaded ZIPs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from mesonet import config
from mesonet.data.archives import unpacked_zip
from mesonet.data.datasets import sample_per_class, scan_dataset, split_files
from mesonet.errors import DatasetError
from tests.helpers import zip_bytes


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


def _make(root: Path, layout: dict[str, int], source: Path) -> Path:
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            _link(source, root / folder / f"{i}.jpg")
    return root


@pytest.fixture(scope="module")
def train_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "mesonet_df" / "train"


def test_every_forged_folder_name_is_forged(tmp_path, sample_images):
    dataset = scan_dataset(
        _make(
            tmp_path / "d",
            {"df": 1, "Fake": 1, "f2f": 1, "deepfake": 1, "forged": 1, "real": 2},
            sample_images["df00204"],
        )
    )
    assert dataset.n_forged == 5 and dataset.n_real == 2


@pytest.mark.parametrize(
    "layout",
    [
        {"Fakes": 2, "Reals": 1},
        {"FAKE": 2, "REAL": 1},
        {"manipulated": 2, "original": 1},
        {"manipulated_sequences/Deepfakes/c23": 1, "manipulated_sequences/Face2Face/c23": 1, "original_sequences": 1},
    ],
)
def test_the_class_folder_names_people_use_are_understood(tmp_path, sample_images, layout):
    """Issue 21: a ZIP laid out as set/{Fakes,Reals} was refused as "not a known class"."""
    dataset = scan_dataset(_make(tmp_path / "set", layout, sample_images["df00204"]))
    assert dataset.n_forged == 2 and dataset.n_real == 1


def test_a_zip_top_folder_is_looked_through(tmp_path, sample_images):
    dataset = scan_dataset(_make(tmp_path / "d" / "my_dataset", {"df": 1, "real": 1}, sample_images["df00204"]).parent)
    assert dataset.root.name == "my_dataset" and len(dataset.files) == 2


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"df": 1, "real": 1, "misc": 1}, "misc are not a known class"),
        ({"df": 2, "fake": 1}, "no real class folder"),
        ({"real": 2}, "no forged class folder"),
        ({"df": 1, "real": 0}, "holds no image or video"),
    ],
)
def test_bad_layouts_are_refused_clearly(tmp_path, sample_images, layout, message):
    root = _make(tmp_path / "d", layout, sample_images["df00204"])
    with pytest.raises(DatasetError, match=message):
        scan_dataset(root)


def test_loose_images_and_missing_folder_are_refused(tmp_path, sample_images):
    with pytest.raises(DatasetError, match="does not exist"):
        scan_dataset(tmp_path / "nowhere")
    root = _make(tmp_path / "d", {"df": 1, "real": 1}, sample_images["df00204"])
    _link(sample_images["df00204"], root / "stray.jpg")
    with pytest.raises(DatasetError, match="outside the class folders"):
        scan_dataset(root)


def test_split_is_stratified_and_reproducible(train_dir):
    files = scan_dataset(train_dir).files[::50]
    train, val = split_files(files, val_fraction=0.1, seed=0)
    assert split_files(files, val_fraction=0.1, seed=0) == (train, val)
    assert not {f.path for f in train} & {f.path for f in val}
    assert {f.label for f in val} == {0, 1}
    assert len(val) == pytest.approx(0.1 * len(files), abs=2)


def test_sample_per_class_is_reproducible_and_capped(tmp_path, sample_images):
    dataset = scan_dataset(_make(tmp_path / "d", {"df": 5, "real": 3}, sample_images["df00204"]))
    sampled = sample_per_class(dataset, 2)
    assert (sampled.n_forged, sampled.n_real) == (2, 2)
    assert sample_per_class(dataset, 2).files == sampled.files
    assert sample_per_class(dataset, 0) is dataset


def test_zip_unpacks_into_a_folder_that_is_deleted_after(sample_images):
    crop = sample_images["df00204"].read_bytes()
    with unpacked_zip(zip_bytes({"faces/df/a.jpg": crop, "faces/real/b.jpg": crop}), "faces.zip") as folder:
        assert scan_dataset(folder).n_forged == 1
    assert not folder.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip", "not a ZIP file"),
        (zip_bytes({"../evil.jpg": b"x"}), "path outside the archive"),
    ],
)
def test_hostile_or_broken_zips_are_refused(data, message):
    with pytest.raises(DatasetError, match=message), unpacked_zip(data, "upload.zip"):
        pass


def test_zip_over_the_size_limit_is_refused_before_unpacking(monkeypatch):
    monkeypatch.setenv("MESONET_MAX_ZIP_MB", "0.001")
    with pytest.raises(DatasetError, match="unpacks to"), unpacked_zip(zip_bytes({"df/a.jpg": b"0" * 4096}), "big.zip"):
        pass


def test_a_zip_that_unpacks_to_over_a_hundred_times_its_size_is_refused(monkeypatch):
    """Issue 24, finding 6: under the size limit, a few kilobytes could still fill gigabytes of the server's disk."""
    data = zip_bytes({"df/a.jpg": bytes(4 * 1024**2)}, compression=zipfile.ZIP_DEFLATED)  # 4 MB of zeros in about 4 KB
    with (
        pytest.raises(DatasetError, match=r"^bomb\.zip unpacks to [\d,]+ times its size; the limit is 100 times"),
        unpacked_zip(data, "bomb.zip"),
    ):
        pass
    monkeypatch.setenv(config.MAX_ZIP_RATIO_ENV, "100000")
    with unpacked_zip(data, "bomb.zip") as folder:
        assert (folder / "df" / "a.jpg").stat().st_size == 4 * 1024**2


@pytest.mark.parametrize("depth", [40, 2000])
def test_a_zip_nested_too_deep_is_refused_with_a_plain_message(depth):
    """Issue 24, finding 6: 2000 nested folders gave "deep.zip is damaged (maximum recursion depth exceeded)"."""
    data = zip_bytes({"d/" * depth + "a.jpg": b"x"})
    with (
        pytest.raises(DatasetError, match=f"^deep.zip nests folders {depth} levels deep; the limit is 32. Zip"),
        unpacked_zip(data, "deep.zip"),
    ):
        pass


def test_the_folder_depth_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(config.MAX_ZIP_DEPTH_ENV, "3")
    with unpacked_zip(zip_bytes({"top/set/df/a.jpg": b"x"}), "three.zip") as folder:
        assert (folder / "top" / "set" / "df" / "a.jpg").read_bytes() == b"x"
    four = zip_bytes({"top/set/df/": b"", "top/set/df/more/a.jpg": b"x"})
    with (
        pytest.raises(DatasetError, match="four.zip nests folders 4 levels deep; the limit is 3"),
        unpacked_zip(four, "four.zip"),
    ):
        pass
