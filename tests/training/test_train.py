"""Training and fine-tuning on a tiny dataset: the files it writes, loading them back, resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mesonet.cli.main import main
from mesonet.errors import DatasetError, TrainingError
from mesonet.media.images import load_image
from mesonet.models.networks import Variant
from mesonet.models.weights import load_model_with_weights, read_metadata
from mesonet.training.config import TrainConfig
from mesonet.training.train import checkpoint_dir, train

TINY = dict(epochs=1, batch_size=4, steps_per_epoch=2, val_split=0.25)


def test_two_steps_from_meso4_df_write_loadable_weights_that_changed(
    tiny_dataset, tmp_path, classifier, sample_images, capsys
):
    out = tmp_path / "tuned.weights.h5"
    steps = []
    result = train(
        tiny_dataset,
        out,
        config=TrainConfig(init="meso4-df", **TINY),
        progress=lambda done, total: steps.append((done, total)),
    )
    assert steps == [(1, 2), (2, 2)]
    assert result.weights_path == out and out.is_file()
    assert (checkpoint_dir(out) / "last.keras").is_file()

    metadata = read_metadata(out)
    assert metadata["arch"] == "meso4" and metadata["variant"] == Variant().to_dict()
    assert metadata["init"] == "meso4-df" and metadata["date"]
    assert metadata["training_data"]["n_forged"] == metadata["training_data"]["n_real"] == 8
    assert metadata["training_data"]["n_val"] == 4
    assert {"val_accuracy", "val_accuracy_forged", "val_accuracy_real", "loss"} <= set(metadata["metrics"])

    faces = [load_image(p) for p in sample_images.values()]
    start = classifier("meso4-df").score_real(faces)
    tuned = classifier("meso4", weights_file=out).score_real(faces)
    assert np.abs(tuned - start).max() > 1e-4

    # The same file through the command line's --weights-file.
    assert (
        main(
            [
                "predict",
                *map(str, sample_images.values()),
                "--model",
                "meso4",
                "--weights-file",
                str(out),
                "--format",
                "json",
            ]
        )
        == 0
    )
    np.testing.assert_allclose([row["score_real"] for row in json.loads(capsys.readouterr().out)], tuned, atol=1e-5)

    # Running again with more epochs resumes: the optimizer's step count continues from 2.
    resumed = train(tiny_dataset, out, config=TrainConfig(init="meso4-df", **{**TINY, "epochs": 2}))
    assert [entry["epoch"] for entry in resumed.history] == [1, 2]
    assert resumed.history[-1]["steps"] == 4


def test_bad_options_say_what_to_do(tiny_dataset, tmp_path):
    with pytest.raises(TrainingError, match=r"must end with \.weights\.h5"):
        train(tiny_dataset, tmp_path / "model.h5")
    with pytest.raises(TrainingError, match="holds meso4 weights but the architecture is mesoinception4"):
        train(tiny_dataset, tmp_path / "m.weights.h5", config=TrainConfig(arch="mesoinception4", init="meso4-df"))
    with pytest.raises(TrainingError, match="neither a catalog name"):
        train(tiny_dataset, tmp_path / "m.weights.h5", config=TrainConfig(init="no_such_file.h5"))
    (tiny_dataset / "misc").mkdir()
    with pytest.raises(DatasetError, match="misc"):
        train(tiny_dataset, tmp_path / "m.weights.h5")


def test_cli_train_writes_weights_with_their_head_variant(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "cli.weights.h5"
    assert (
        main(
            [
                "train",
                str(tiny_dataset),
                "--arch",
                "meso4",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--steps-per-epoch",
                "1",
                "--val-split",
                "0.25",
                "--dense-units",
                "32",
                "8",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "epoch 1" in printed and str(out) in printed
    assert read_metadata(out)["variant"]["dense_units"] == [32, 8]
    model = load_model_with_weights("meso4", out)  # the variant comes from the metadata
    assert [layer.name for layer in model.layers if layer.name.startswith("dense")] == ["dense1", "dense2"]
