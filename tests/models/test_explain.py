"""Layer table, activations, saliency and degradation experiments (mesonet.models.explain)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mesonet.media.images import load_image
from mesonet.models import explain


@pytest.fixture(scope="module")
def real_face(sample_images):
    return load_image(sample_images["real00240"])


@pytest.mark.parametrize(
    ("arch", "trainable", "total"), [("meso4", 27_977, 28_073), ("mesoinception4", 28_615, 28_725)]
)
def test_layer_table_totals_match_the_paper(arch, trainable, total):
    rows = explain.layer_table(arch)
    assert sum(r.trainable_params for r in rows) == trainable
    assert sum(r.trainable_params + r.non_trainable_params for r in rows) == total
    assert rows[0].output_shape == (256, 256, 3) and rows[-1].output_shape == (1,)


@pytest.mark.parametrize(
    ("name", "shapes"),
    [
        (
            "meso4-df",
            {
                "block1_conv": (256, 256, 8),
                "block2_conv": (128, 128, 8),
                "block3_conv": (64, 64, 16),
                "block4_conv": (32, 32, 16),
            },
        ),
        (
            "mesoinception4-df",
            {
                "block1_concat": (256, 256, 11),
                "block2_concat": (128, 128, 12),
                "block3_conv": (64, 64, 16),
                "block4_conv": (32, 32, 16),
            },
        ),
    ],
)
def test_activation_shapes_per_layer(name, shapes, classifier, real_face):
    acts = explain.activations(classifier(name), real_face)
    assert {k: v.shape for k, v in acts.items()} == shapes
    grid = explain.feature_grid(acts["block4_conv"], columns=4, cell=32, gap=2)
    assert grid.shape == (4 * 34 - 2, 4 * 34 - 2) and grid.dtype == np.uint8


@pytest.mark.parametrize("name", ["meso4-df", "meso4-f2f"])
def test_feature_maps_find_the_most_active_and_the_silent_channels(name, classifier, real_face):
    """Issue 14: feature maps opened on channel 0, which is black (all zeros) for both Meso4 weights."""
    first = explain.activations(classifier(name), real_face)["block1_conv"]
    silent = explain.silent_channels(first)
    assert 0 in silent and silent[0] == "all zeros" and not first[..., 0].any()
    assert all(not first[..., c].any() or np.ptp(first[..., c]) == 0 for c in silent)
    busiest = explain.most_active_channel(first)
    assert busiest not in silent
    means = np.abs(first).mean(axis=(0, 1))
    assert means[busiest] == means.max() > 0
    plain = explain.feature_grid(first, cell=64)
    labelled = explain.feature_grid(first, cell=64, labels=True)
    assert labelled.shape == plain.shape and (labelled != plain).any()


@pytest.mark.parametrize("method", [explain.grad_cam, explain.integrated_gradients])
def test_saliency_maps_are_crop_sized_normalized_and_informative(method, classifier, real_face):
    heatmap = method(classifier("meso4-df"), real_face)
    assert heatmap.shape == (256, 256) and heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert heatmap.std() > 0.02  # not constant on a real face
    blended = explain.overlay(real_face, heatmap, opacity=0.5)
    assert blended.shape == (256, 256, 3) and blended.dtype == np.uint8


@pytest.mark.parametrize("kind", list(explain.DEGRADATIONS))
def test_degradation_curves_start_at_the_plain_score(kind, classifier, sample_images):
    model = classifier("meso4-df")
    face = load_image(sample_images["df00204"])
    curve = explain.degradation_curve(model, face, kind)
    assert [x for x, _ in curve] == [float(v) for v in explain.DEGRADATIONS[kind]["levels"]]
    assert curve[0][1] == pytest.approx(1 - model.score_real([face])[0], abs=1e-6)
    strongest = explain.degrade(face, kind, explain.DEGRADATIONS[kind]["levels"][-1])
    assert strongest.shape == (256, 256, 3) and not np.array_equal(strongest, explain.degrade(face, kind, curve[0][0]))


def test_unknown_degradation_is_refused(classifier, real_face):
    with pytest.raises(ValueError, match="jpeg, blur, downscale, noise"):
        explain.degradation_curve(classifier("meso4-df"), real_face, "sepia")


def test_explain_command_writes_pngs_and_json(tmp_path, shared_dir):
    from tests.helpers import run_cli

    result = run_cli(
        "explain", str(shared_dir / "data" / "photos" / "obama.jpg"), "--model", "meso4-df", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "crop.png",
        "saliency_gradcam.png",
        "saliency_integrated_gradients.png",
        "features_block1_conv.png",
        "degradation_jpeg.png",
        "degradation_noise.png",
        "degradation.json",
    } <= names
    summary = json.loads((tmp_path / "degradation.json").read_text())
    assert summary["curves"]["jpeg"][0] == [100.0, pytest.approx(summary["p_fake"], abs=1e-6)]
    # A photo without a face is a one-line error.
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), "white").save(blank)
    result = run_cli("explain", str(blank), "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "no face found" in result.stderr and "Traceback" not in result.stderr
