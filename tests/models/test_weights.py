"""The weights catalog: resolution, downloads with hash checks, custom weight files, and a fifth
catalog entry showing up everywhere (the command line and the app)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from mesonet import config
from mesonet.errors import WeightsError
from mesonet.models.networks import build_model
from mesonet.models.weight_files import check_weight_file
from mesonet.models.weights import (
    CATALOG,
    counterpart,
    detect_architecture,
    download_weights,
    find_weights,
    get_weights,
    list_weights,
    load_model_with_weights,
    weights_path,
)
from tests.helpers import REPO, rewrite_keras, shape_bomb


def test_catalog_has_the_four_released_files_with_stable_names():
    assert [e.name for e in list_weights()] == ["meso4-df", "meso4-f2f", "mesoinception4-df", "mesoinception4-f2f"]
    for entry in list_weights():
        assert entry.url.endswith(f"/2144d56a30e48cdcac1976ff13a1c5cdc86376c6/weights/{entry.filename}")
        assert len(entry.sha256) == 64 and entry.license == "Apache-2.0"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(WeightsError, match="meso4-df, meso4-f2f"):
        get_weights("meso5")


def test_the_released_files_ship_with_the_project():
    from mesonet import config

    for entry in list_weights():
        assert find_weights(entry.name) == config.PROJECT_WEIGHTS_DIR / entry.filename
    assert (config.PROJECT_WEIGHTS_DIR / "LICENSE").is_file() and (config.PROJECT_WEIGHTS_DIR / "NOTICE").is_file()


def test_env_folder_comes_first_and_is_verified(shared_dir, monkeypatch):
    monkeypatch.setenv("MESONET_WEIGHTS_DIR", str(shared_dir / "weights"))
    assert find_weights("meso4-df") == shared_dir / "weights" / "Meso4_DF.h5"


def test_corrupted_local_copy_is_refused(tmp_path, monkeypatch, shared_dir):
    data = (shared_dir / "weights" / "Meso4_F2F.h5").read_bytes()
    (tmp_path / "Meso4_F2F.h5").write_bytes(data[: len(data) // 2])  # truncated
    monkeypatch.setenv("MESONET_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="truncated or corrupted"):
        find_weights("meso4-f2f")


def test_missing_offline_names_file_url_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MESONET_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr("mesonet.config.PROJECT_WEIGHTS_DIR", tmp_path / "project_weights")
    with pytest.raises(WeightsError) as info:
        weights_path("mesoinception4-f2f", download=False)
    message = str(info.value)
    assert "MesoInception_F2F.h5" in message and CATALOG["mesoinception4-f2f"].url in message
    assert "MESONET_WEIGHTS_DIR" in message and "project_weights" in message


def test_download_verifies_hash_and_reports_progress(local_server, tmp_path, shared_dir):
    root, base = local_server
    shutil.copy(shared_dir / "weights" / "Meso4_DF.h5", root / "Meso4_DF.h5")
    seen = []
    path = download_weights(
        "meso4-df",
        folder=tmp_path / "dl",
        url=f"{base}/Meso4_DF.h5",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert path == tmp_path / "dl" / "Meso4_DF.h5"
    assert path.read_bytes() == (shared_dir / "weights" / "Meso4_DF.h5").read_bytes()
    assert seen[-1] == (156128, 156128)
    assert list((tmp_path / "dl").iterdir()) == [path]  # no partial file left behind


def test_corrupted_download_is_discarded(local_server, tmp_path, shared_dir):
    root, base = local_server
    data = bytearray((shared_dir / "weights" / "Meso4_DF.h5").read_bytes())
    data[5000] ^= 0xFF
    (root / "Meso4_DF.h5").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupted or truncated and was discarded"):
        download_weights("meso4-df", folder=tmp_path / "dl", url=f"{base}/Meso4_DF.h5")
    assert list((tmp_path / "dl").iterdir()) == []


def test_unreachable_server_gives_the_manual_route(local_server, tmp_path):
    _, base = local_server
    with pytest.raises(WeightsError, match="Download of .* failed.*put it in"):
        download_weights("meso4-df", folder=tmp_path / "dl", url=f"{base}/missing.h5")
    assert list((tmp_path / "dl").iterdir()) == []  # no partial file left behind


# Custom weight files -------------------------------------------------------------------------


def test_catalog_file_of_the_other_architecture_is_refused(shared_dir):
    with pytest.raises(WeightsError, match="does not hold MesoInception4 weights"):
        load_model_with_weights("mesoinception4", shared_dir / "weights" / "Meso4_DF.h5")
    with pytest.raises(WeightsError, match="does not hold Meso4 weights"):
        load_model_with_weights("meso4", shared_dir / "weights" / "MesoInception_DF.h5")


def test_random_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "random.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(10)
    with pytest.raises(WeightsError, match="does not hold Meso4 weights"):
        load_model_with_weights("meso4", path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.h5", b"", "empty"),
        ("text.h5", b"these are not weights\n", "not an HDF5 file"),
        ("weights.txt", b"x", "unsupported file type"),
        ("fake.keras", b"not a zip", "not a Keras model archive"),
    ],
)
def test_bad_files_name_the_expected_architecture(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=message) as info:
        load_model_with_weights("meso4", path)
    assert "Meso4" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_model_with_weights("meso4", tmp_path / "nope.h5")


def test_keras3_weights_file_and_keras_model_round_trip(tmp_path, classifier, sample_images):
    from mesonet.media.images import load_image
    from mesonet.models.scoring import load_classifier

    original = classifier("meso4-df")
    original.model.save_weights(tmp_path / "mine.weights.h5")
    original.model.save(tmp_path / "mine.keras")
    face = [load_image(sample_images["df01254"])]
    expected = original.score_real(face)[0]
    for path in (tmp_path / "mine.weights.h5", tmp_path / "mine.keras"):
        custom = load_classifier("meso4", weights_file=path)
        assert custom.name == f"meso4 ({path.name})"
        assert custom.score_real(face)[0] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(WeightsError, match="mine.keras is not a MesoInception4 model: its layer 'block1_conv'"):
        load_model_with_weights("mesoinception4", tmp_path / "mine.keras")


def test_keras_file_with_lambda_layer_is_refused_not_run(tmp_path):
    import keras

    inputs = keras.Input((256, 256, 3))
    outputs = keras.layers.Dense(1)(keras.layers.Lambda(lambda x: x[:, 0, 0, :])(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "evil.keras")
    with pytest.raises(WeightsError, match="Lambda"):
        load_model_with_weights("meso4", tmp_path / "evil.keras")


def test_classifiers_are_cached_per_architecture_and_weights(classifier):
    assert classifier("meso4-df") is classifier("meso4-df")
    assert classifier("meso4-df") is not classifier("meso4-f2f")


def test_architecture_without_weights_says_which_to_pick():
    from mesonet.models.scoring import load_classifier

    with pytest.raises(WeightsError, match="meso4-df, meso4-f2f"):
        load_classifier("meso4")


def test_published_weights_load_into_published_graph(shared_dir):
    model = load_model_with_weights("meso4", shared_dir / "weights" / "Meso4_DF.h5")
    fresh = build_model("meso4")
    assert not np.allclose(model.get_layer("dense1").get_weights()[0], fresh.get_layer("dense1").get_weights()[0])


# Untrusted weight files (issue 24): checked from their metadata before Keras reads them -------------


def refusal(path: Path, arch: str = "meso4") -> str:
    """The one-line message `load_model_with_weights` refuses `path` with."""
    with pytest.raises(WeightsError) as info:
        load_model_with_weights(arch, path)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.fixture()
def keras_files(tmp_path, classifier) -> tuple[Path, Path]:
    """The meso4-df weights as Keras 3 writes them: (mine.weights.h5, mine.keras)."""
    model = classifier("meso4-df").model
    model.save_weights(tmp_path / "mine.weights.h5")
    model.save(tmp_path / "mine.keras")
    return tmp_path / "mine.weights.h5", tmp_path / "mine.keras"


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("Meso4_DF.h5", "meso4"),
        ("Meso4_F2F.h5", "meso4"),
        ("MesoInception_DF.h5", "mesoinception4"),
        ("MesoInception_F2F.h5", "mesoinception4"),
    ],
)
def test_the_released_files_pass_the_checks(shared_dir, name, arch):
    check_weight_file(shared_dir / "weights" / name, arch)


def test_files_written_by_keras_pass_the_checks(tmp_path, shared_dir):
    for arch, released in (("meso4", "Meso4_DF.h5"), ("mesoinception4", "MesoInception_DF.h5")):
        model = load_model_with_weights(arch, shared_dir / "weights" / released)
        model.save_weights(tmp_path / f"{arch}.weights.h5")
        model.save(tmp_path / f"{arch}.keras")
        check_weight_file(tmp_path / f"{arch}.weights.h5", arch)
        check_weight_file(tmp_path / f"{arch}.keras", arch)


def test_this_projects_trained_files_pass_the_checks(tiny_dataset, tmp_path):
    """Training saves Adam's state with the weights, and a whole model as its checkpoint."""
    from mesonet.training.config import TrainConfig
    from mesonet.training.train import checkpoint_dir, train

    out = tmp_path / "tuned.weights.h5"
    tiny = TrainConfig(
        arch="mesoinception4", init="mesoinception4-df", epochs=1, batch_size=4, steps_per_epoch=1, val_split=0.25
    )
    train(tiny_dataset, out, config=tiny)
    with h5py.File(out) as file:
        assert "optimizer" in file  # its optimizer state is checked too
    check_weight_file(out, "mesoinception4")
    check_weight_file(checkpoint_dir(out) / "last.keras", "mesoinception4")


def test_a_kernel_that_claims_gigabytes_is_refused_before_tensorflow_is_imported(keras_files, tmp_path, shared_dir):
    """Issue 24: a 275 KB .weights.h5 whose first kernel was compressed zeros of shape (3, 3, 3, 15_000_000)
    took the server to 7 GB: Keras reads a whole dataset before it compares shapes."""
    bomb = shape_bomb(keras_files[0], "layers/conv2d/vars/0")
    legacy = shape_bomb(
        shutil.copy(shared_dir / "weights" / "Meso4_DF.h5", tmp_path / "bomb.h5"), "conv2d_5/conv2d_5/kernel:0"
    )
    code = (
        "import sys\n"
        "from mesonet.errors import WeightsError\n"
        "from mesonet.models.weights import load_model_with_weights\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        load_model_with_weights('meso4', path)\n"
        "    except WeightsError as exc:\n"
        "        print(exc)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(bomb), str(legacy)], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert result.stdout.splitlines() == [
        "mine.weights.h5 does not hold Meso4 weights: dataset layers/conv2d/vars/0 has shape (3, 3, 3, 15000000); "
        "Meso4 expects (3, 3, 3, 8). Is this a Meso4 weight file? Check the architecture you picked.",
        "bomb.h5 does not hold Meso4 weights: dataset conv2d_5/conv2d_5/kernel:0 has shape (3, 3, 3, 15000000); "
        "Meso4 expects (3, 3, 3, 8). Is this a Meso4 weight file? Check the architecture you picked.",
        "False False",
    ], result.stderr
    assert "Traceback" not in result.stderr


def test_an_array_the_architecture_does_not_have_is_refused(keras_files):
    """Issue 24, finding 4: a valid file with an extra 100 MB dataset was accepted."""
    weights_file, _ = keras_files
    with h5py.File(weights_file, "r+") as file:
        file.create_dataset("notes", shape=(26_214_400,), dtype="float32", chunks=True, compression="gzip")
    assert "dataset notes of shape (26214400,) is one array more than Meso4 has" in refusal(weights_file)


def test_a_file_over_twice_the_reference_size_is_refused_by_its_size(keras_files, monkeypatch):
    weights_file, _ = keras_files
    with h5py.File(weights_file, "r+") as file:
        file["notes"] = np.random.default_rng(0).random(300_000, dtype=np.float32)  # 1.2 MB on disk
    message = refusal(weights_file)
    assert re.match(r"mine\.weights\.h5 takes 1\.\d MB; a Meso4 weight file takes at most 0\.9 MB\.", message), message
    assert config.MAX_WEIGHTS_RATIO_ENV in message
    monkeypatch.setenv(config.MAX_WEIGHTS_RATIO_ENV, "4")  # past the size limit, the extra array is still refused
    assert "dataset notes of shape (300000,) is one array more than Meso4 has" in refusal(weights_file)


@pytest.mark.parametrize(
    ("attack", "message"),
    [
        ("external link", "was refused: layers/conv2d/vars/1 is a link to another place or file."),
        ("soft link", "was refused: layers/conv2d/vars/1 is a link to another place or file."),
        (
            "chunks larger than the array",
            "was refused: dataset layers/conv2d/vars/1 of shape (8,) is stored in chunks of (4000000,).",
        ),
        (
            "integers",
            "does not hold Meso4 weights: dataset layers/conv2d/vars/1 holds int32; Meso4 weights are float16, "
            "float32 or float64.",
        ),
    ],
)
def test_arrays_stored_elsewhere_or_strangely_are_refused(keras_files, attack, message):
    weights_file, _ = keras_files
    name = "layers/conv2d/vars/1"  # block1_conv's bias, (8,)
    with h5py.File(weights_file, "r+") as file:
        del file[name]
        if attack == "external link":
            file[name] = h5py.ExternalLink("/etc/weights.h5", "/bias")
        elif attack == "soft link":
            file[name] = h5py.SoftLink("/layers/conv2d_1/vars/1")
        elif attack == "integers":
            file[name] = np.zeros(8, dtype=np.int32)
        else:  # reading any of it decompresses a whole chunk
            file.create_dataset(
                name, shape=(8,), maxshape=(None,), chunks=(4_000_000,), dtype="float32", compression="gzip"
            )
    assert refusal(weights_file).startswith(f"mine.weights.h5 {message}")


def test_a_legacy_file_that_names_one_array_many_times_is_refused(tmp_path, shared_dir):
    """Keras' legacy loader reads every array a layer's weight_names lists before it counts them."""
    path = shutil.copy(shared_dir / "weights" / "Meso4_DF.h5", tmp_path / "repeat.h5")
    with h5py.File(path, "r+") as file:
        file["dense_3"].attrs["weight_names"] = np.array([b"dense_3/kernel:0"] * 500 + [b"dense_3/bias:0"])
    assert "dataset dense_3/dense_3/kernel:0 of shape (1024, 16) is one array more than Meso4 has" in refusal(path)


def test_a_keras3_weights_file_named_h5_says_how_to_name_it(keras_files, tmp_path):
    renamed = keras_files[0].rename(tmp_path / "mine.h5")
    assert "it has no Keras layer list (layer_names)" in refusal(renamed) and "*.weights.h5" in refusal(renamed)


def test_a_keras_model_asking_for_a_wider_layer_is_refused_before_it_is_built(keras_files, tmp_path):
    """Issue 24: a 1.6 MB .keras whose config asked for Dense(units=3000) took the server to 7.9 GB."""

    def wider(model_config: dict) -> None:
        for layer in model_config["config"]["layers"]:
            if layer["name"] == "dense1":
                layer["config"]["units"] = 3000

    wide = rewrite_keras(keras_files[1], tmp_path / "wide.keras", config=wider)
    assert refusal(wide) == (
        "wide.keras is not a Meso4 model: its layer 'dense1' is Dense(units=3000, 1024 input channels), which Meso4 "
        "does not have. Check the architecture you picked."
    )


def test_a_keras_model_with_a_bomb_inside_or_extra_members_is_refused(keras_files, tmp_path):
    keras_file = keras_files[1]
    bomb = rewrite_keras(keras_file, tmp_path / "bomb.keras", weights=lambda f: shape_bomb(f, "layers/conv2d/vars/0"))
    assert refusal(bomb).startswith(
        "bomb.keras (its model.weights.h5) does not hold Meso4 weights: dataset layers/conv2d/vars/0 has shape "
        "(3, 3, 3, 15000000); Meso4 expects (3, 3, 3, 8)."
    )
    # Keras unpacks a .keras file's other members to disk as assets.
    assets = rewrite_keras(keras_file, tmp_path / "assets.keras", extra={"assets/payload.bin": bytes(1000)})
    assert "assets.keras holds 'assets/payload.bin' besides a Keras model" in refusal(assets)


# The catalog drives the command line and the app -----------------------------------------------


@pytest.fixture()
def fifth_entry(tmp_path, monkeypatch):
    """A copy of meso4-df's file under a new name, in a temporary weights folder, as a catalog entry."""
    original = get_weights("meso4-df")
    entry = dataclasses.replace(
        original, name="meso4-df-copy", short_label="Copy: meso4-df under another name", filename="Meso4_DF_copy.h5"
    )
    shutil.copy(REPO / "weights" / original.filename, tmp_path / entry.filename)
    monkeypatch.setenv("MESONET_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setitem(CATALOG, entry.name, entry)
    return entry


def test_weights_list_shows_a_fifth_entry(fifth_entry, capsys):
    from mesonet.cli.main import main

    assert main(["weights", "list", "--format", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(rows) == 5 and rows["meso4-df-copy"]["status"] == "present"
    from mesonet.cli.main import model_help

    assert "meso4-df-copy" in model_help()


def test_the_sidebar_offers_a_fifth_entry(fifth_entry):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert fifth_entry.short_label in at.radio(key="model.weights").options
    at.radio(key="model.weights").set_value("meso4-df-copy").run()
    assert not at.exception and not at.error


def test_the_threshold_slider_starts_at_the_chosen_weights_threshold(tmp_path, monkeypatch):
    """Trained weights ship with their own threshold: the slider starts there, keeps what the
    user sets, and goes back to the weights' own threshold when the weights change."""
    from streamlit.testing.v1 import AppTest

    original = get_weights("meso4-df")
    entry = dataclasses.replace(original, name="meso4-calibrated", short_label="Calibrated copy", threshold=0.31)
    monkeypatch.setitem(CATALOG, entry.name, entry)
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    slider = at.slider(key="decision.threshold")
    assert slider.value == 0.5
    at.radio(key="model.weights").set_value("meso4-calibrated").run()
    assert at.slider(key="decision.threshold").value == 0.31
    at.slider(key="decision.threshold").set_value(0.62).run()
    assert at.slider(key="decision.threshold").value == 0.62
    assert "These weights' own threshold is 0.31." in [c.value for c in at.caption]
    at.radio(key="model.weights").set_value("meso4-df").run()
    assert at.slider(key="decision.threshold").value == 0.5 and not at.exception


def test_counterparts_pair_manipulations_from_the_catalog():
    for entry in list_weights():
        other = counterpart(entry.name)
        assert other.arch == entry.arch and other.manipulation != entry.manipulation


def test_help_lists_the_catalog_without_loading_tensorflow():
    code = (
        "import sys, mesonet, mesonet.cli.main\n"
        "mesonet.cli.main.build_parser()\n"
        "assert 'tensorflow' not in sys.modules and 'streamlit' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_training_overlap_flags_files_named_like_the_df_training_set(shared_dir):
    """Issue 14: Evaluate should say when a dataset may be the weights' own training data."""
    from mesonet.models.weights import training_overlap

    train = sorted(p.name for p in (shared_dir / "data" / "mesonet_df" / "train" / "df").glob("*.jpg"))[:5]
    names = [*train, "faces/real/real00012.JPG", "my_face.jpg", "df123.jpg"]
    assert training_overlap("meso4-df", names) == [*train, "faces/real/real00012.JPG"]
    assert training_overlap("mesoinception4-df", names) == training_overlap("meso4-df", names)
    assert training_overlap("meso4-f2f", names) == []  # the catalog does not know the F2F training files


def test_a_users_weight_file_is_loaded_first_in_a_child_with_a_memory_cap_and_a_timeout(tmp_path, monkeypatch, capfd):
    """Issue 24, finding 1: Keras reads a whole dataset before it compares shapes, inside the server."""
    import shutil
    import time

    from mesonet.config import PROJECT_WEIGHTS_DIR
    from mesonet.models import weights

    good = shutil.copy(PROJECT_WEIGHTS_DIR / "Meso4_DF.h5", tmp_path / "mine.h5")
    weights.check_in_child("meso4", good)
    start = time.perf_counter()
    weights.check_in_child("meso4", good)  # remembered by its SHA-256: no second child
    assert time.perf_counter() - start < 1.0

    # A file no other test loaded (a fresh random Meso4): a file that loaded once is remembered by its hash.
    from mesonet.models.networks import build_model

    other = tmp_path / "other.weights.h5"
    build_model("meso4").save_weights(other)
    monkeypatch.setattr(weights, "CHILD_CHECK_MAX_RSS_BYTES", 50 * 2**20)  # TensorFlow alone is bigger
    with pytest.raises(WeightsError, match=r"other\.weights\.h5: loading it took more than .* GB of memory"):
        weights.check_in_child("meso4", other)
    monkeypatch.setattr(weights, "CHILD_CHECK_MAX_RSS_BYTES", 1536 * 2**20)
    monkeypatch.setattr(weights, "CHILD_CHECK_TIMEOUT_S", 0.3)
    with pytest.raises(WeightsError, match=r"other\.weights\.h5: loading it took longer than 0 s"):
        weights.check_in_child("meso4", other)
    monkeypatch.setattr(weights, "CHILD_CHECK_TIMEOUT_S", 120.0)
    inception = shutil.copy(PROJECT_WEIGHTS_DIR / "MesoInception_DF.h5", tmp_path / "inception.h5")
    capfd.readouterr()
    start = time.perf_counter()
    with pytest.raises(WeightsError, match="inception.h5") as refused:
        weights.check_in_child("meso4", inception)  # the wrong architecture: refused before any child
    assert time.perf_counter() - start < 2.0
    assert "\n" not in str(refused.value) and capfd.readouterr().err == ""  # no Keras warning printed


def test_the_architecture_is_read_from_the_file(shared_dir, tmp_path):
    """Issue 21: the Weights page asked for the architecture, and a wrong pick gave Keras' "Layer count mismatch"."""
    for entry in list_weights():
        assert detect_architecture(shared_dir / "weights" / entry.filename) == entry.arch
    bomb = shutil.copy(shared_dir / "weights" / "Meso4_DF.h5", tmp_path / "bomb.h5")
    shape_bomb(bomb, "conv2d_5/conv2d_5/kernel:0")
    with pytest.raises(WeightsError) as refused:
        detect_architecture(Path(bomb))
    assert str(refused.value).startswith(
        "bomb.h5 holds neither Meso4 nor MesoInception4 weights. bomb.h5 does not hold Meso4 weights: dataset "
        "conv2d_5/conv2d_5/kernel:0 has shape (3, 3, 3, 15000000)"
    )
    assert "Check the architecture you picked" not in str(refused.value)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    with pytest.raises(WeightsError, match=r"^empty.h5 is empty \(0 bytes\)"):
        detect_architecture(empty)
