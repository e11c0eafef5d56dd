"""One verdict everywhere: the card, Compare, the JSON and CSV downloads and the command line agree, in and out of the
uncertain band (issue 20)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from mesonet.verdict import VERDICT_WORDS
from tests.helpers import GOLDEN, download_content, open_app, run_cli, upload

pytestmark = pytest.mark.usefixtures("record_downloads")

WEIGHTS = "meso4-f2f"
FACE = "df01254"  # P(fake) 0.359 with the F2F weights: thresholds around it give every verdict
P_FAKE = 1 - GOLDEN[WEIGHTS][FACE]


@pytest.mark.parametrize(
    ("threshold", "verdict"), [(0.20, "fake"), (0.38, "uncertain"), (0.33, "uncertain"), (0.5, "real")]
)
def test_every_surface_gives_the_same_verdict(threshold, verdict, sample_images):
    assert round(P_FAKE, 3) == 0.359
    word = VERDICT_WORDS[verdict]

    at = open_app()
    at.radio(key="model.weights").set_value(WEIGHTS).run()
    at.slider(key="decision.threshold").set_value(threshold).run()
    upload(at, "analyse.upload", sample_images[FACE], "image/jpeg")
    at.toggle(key="analyse.is_crop").set_value(True).run()
    assert not at.exception and not at.error
    headline = [m.value for m in at.markdown if "font-size:2.6rem" in m.value]
    assert len(headline) == 1 and f">{word}<" in headline[0]
    assert not any("Uncertain" in w.value for w in at.warning)  # one verdict, never a second box under it
    results = json.loads(download_content(at, f"{FACE}_results.json"))
    assert results["verdict"] == verdict and results["frames"][0]["verdict"] == verdict
    rows = list(csv.DictReader(io.StringIO(download_content(at, f"{FACE}_frames.csv").decode())))
    assert [row["verdict"] for row in rows] == [verdict]

    compare = open_app("pages/compare.py")
    upload(compare, "compare.upload", sample_images[FACE], "image/jpeg")
    compare.toggle(key="compare.is_crop").set_value(True).run()
    compare.radio(key="compare.threshold_mode").set_value("shared").run()
    compare.slider(key="decision.threshold").set_value(threshold).run()
    table = compare.dataframe[0].value
    assert table.set_index("model").loc["Meso4 · Face2Face", "verdict"] == word
    assert not compare.success  # agreement is never shown as good news

    text = run_cli("predict", str(sample_images[FACE]), "--model", WEIGHTS, "--threshold", str(threshold))
    assert text.returncode == 0 and text.stdout.splitlines()[1].split()[-2] == word
    as_json = run_cli(
        "predict", str(sample_images[FACE]), "--model", WEIGHTS, "--threshold", str(threshold), "--format", "json"
    )
    assert json.loads(as_json.stdout)[0]["label"] == verdict
