"""The weights catalog drives the command line and the app: a fifth entry shows up everywhere."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mesonet.weights import CATALOG, counterpart, get_weights, list_weights

REPO = Path(__file__).resolve().parent.parent


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
    from mesonet.cli import main

    assert main(["weights", "list", "--format", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(rows) == 5 and rows["meso4-df-copy"]["status"] == "present"
    from mesonet.cli import _model_help

    assert "meso4-df-copy" in _model_help()


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
        "import sys, mesonet, mesonet.cli\n"
        "mesonet.cli.build_parser()\n"
        "assert 'tensorflow' not in sys.modules and 'streamlit' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_training_overlap_flags_files_named_like_the_df_training_set(shared_dir):
    """Issue 14: Evaluate should say when a dataset may be the weights' own training data."""
    from mesonet.weights import training_overlap

    train = sorted(p.name for p in (shared_dir / "data" / "mesonet_df" / "train" / "df").glob("*.jpg"))[:5]
    names = [*train, "faces/real/real00012.JPG", "my_face.jpg", "df123.jpg"]
    assert training_overlap("meso4-df", names) == [*train, "faces/real/real00012.JPG"]
    assert training_overlap("mesoinception4-df", names) == training_overlap("meso4-df", names)
    assert training_overlap("meso4-f2f", names) == []  # the catalog does not know the F2F training files
