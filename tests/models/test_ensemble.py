"""Ensembles of weights: the stated rule, the catalog's named ensembles, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mesonet.cli.main import main
from mesonet.errors import WeightsError
from mesonet.media.images import load_image
from mesonet.models.ensemble import Ensemble, load_scorer, rescale_to_half
from mesonet.models.weights import ENSEMBLES
from mesonet.verdict import verdict_for


def test_rescaling_puts_each_threshold_at_one_half():
    np.testing.assert_allclose(rescale_to_half(np.array([0.0, 0.2, 0.6, 1.0]), 0.2), [0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(rescale_to_half(np.array([0.25, 0.5, 0.75]), 0.5), [0.25, 0.5, 0.75])


def test_an_ensemble_averages_rescaled_scores_and_one_member_keeps_its_verdict(classifier, sample_images):
    faces = [load_image(p) for p in sample_images.values()]
    df, f2f = classifier("meso4-df"), classifier("meso4-f2f")
    p_df, p_f2f = 1 - df.score_real(faces), 1 - f2f.score_real(faces)
    pair = Ensemble([df, f2f])
    assert pair.name == "meso4-df+meso4-f2f" and pair.threshold == 0.5
    np.testing.assert_allclose(1 - pair.score_real(faces), (p_df + p_f2f) / 2, atol=1e-6)  # both at 0.5
    np.testing.assert_allclose(Ensemble([df]).score_real(faces), df.score_real(faces), atol=1e-6)


def test_named_and_listed_ensembles_and_their_errors():
    released = load_scorer("released")
    assert isinstance(released, Ensemble) and [m.name for m in released.members] == list(ENSEMBLES["released"])
    assert [m.name for m in load_scorer("meso4-df, mesoinception4-f2f").members] == ["meso4-df", "mesoinception4-f2f"]
    with pytest.raises(WeightsError, match="Unknown weights 'nope'"):
        load_scorer("meso4-df,nope")
    with pytest.raises(WeightsError, match="weights-file goes with one architecture"):
        load_scorer("released", weights_file="x.h5")


def test_cli_predict_with_an_ensemble_names_it_and_states_the_rule(sample_images, capsys):
    assert main(["predict", str(sample_images["df00204"]), "--model", "released", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    # The four disagree on this Deepfake face (DF weights: fake, F2F weights: real): their mean sits at the threshold.
    assert row["model"] == "released" and row["label"] == verdict_for(row["p_fake"], 0.5) == "uncertain"
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "rescaled so that its own threshold is 50%" in " ".join(capsys.readouterr().out.split())


def test_describe_scorer_names_what_load_scorer_loads_without_tensorflow(tmp_path):
    import subprocess
    import sys

    from mesonet.config import PROJECT_WEIGHTS_DIR
    from mesonet.models.ensemble import describe_scorer

    own = tmp_path / "mine.h5"
    own.write_bytes((PROJECT_WEIGHTS_DIR / "Meso4_DF.h5").read_bytes())
    (tmp_path / "mine.h5.json").write_text(json.dumps({"threshold": 0.37}))
    for model, weights_file in (
        ("meso4-df", None),
        (" Meso4-DF , meso4-f2f", None),
        ("released", None),
        ("meso4", own),
    ):
        scorer = load_scorer(model, weights_file=weights_file)
        assert describe_scorer(model, weights_file=weights_file) == (scorer.name, scorer.threshold)
    assert describe_scorer("meso4", weights_file=own)[1] == 0.37
    for model, weights_file in (("meso4-xx", None), ("meso4-df,nope", None), ("meso4", tmp_path / "missing.h5")):
        with pytest.raises(WeightsError) as described:
            describe_scorer(model, weights_file=weights_file)
        with pytest.raises(WeightsError) as loaded:
            load_scorer(model, weights_file=weights_file)
        assert str(described.value) == str(loaded.value)
    code = (
        "import sys\nfrom mesonet.models.ensemble import describe_scorer\n"
        "describe_scorer('released')\nassert 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
