"""Layer table, activations, saliency and degradation experiments (mesonet.models.explain)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mesonet.media.images import load_image
from mesonet.models import explain
from mesonet.verdict import p_fake_of


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
    heatmap = method(classifier("meso4-df"), real_face, target="fake")
    assert heatmap.shape == (256, 256) and heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert heatmap.std() > 0.02  # not constant on a real face
    blended = explain.overlay(real_face, heatmap, opacity=0.5)
    assert blended.shape == (256, 256, 3) and blended.dtype == np.uint8


def _p(model, face: np.ndarray, target: str) -> float:
    """P(target): the network's own output P(real), or P(fake)."""
    score_real = float(model.score_real([face])[0])
    return p_fake_of(score_real) if target == "fake" else score_real


def _masked(face: np.ndarray, pixels: np.ndarray, fill: np.ndarray) -> np.ndarray:
    out = face.reshape(-1, 3).copy()
    out[pixels] = fill
    return out.reshape(face.shape)


# meso4-df calls df00204 fake (P(fake) 95.9%) and real00772 real (P(fake) 0.2%): GOLDEN in tests/helpers.py.
@pytest.mark.parametrize(("stem", "target"), [("df00204", "fake"), ("real00772", "real")])
@pytest.mark.parametrize(
    ("method", "fill"),
    # Integrated gradients credit each pixel against a black image; Grad-CAM has no baseline: the face's mean.
    [(explain.grad_cam, "mean"), (explain.integrated_gradients, "black")],
)
def test_saliency_shows_the_evidence_for_its_target_not_against_it(
    method, fill, stem, target, classifier, sample_images
):
    """Issue 20: every map was the gradient of P(fake), captioned "evidence for fake" even on a face scored
    0.2% fake, and integrated gradients showed absolute values, so a map's colour said nothing about which
    way a pixel pushed. Masking the map's strongest pixels must lower P(target) more than masking the
    strongest pixels of the other target's map; with the sign the wrong way round, the two swap and this fails."""
    model = classifier("meso4-df")
    face = explain.degrade(load_image(sample_images[stem]), "jpeg", 100)  # the 256x256 input itself
    assert explain.saliency_target(p_fake_of(float(model.score_real([face])[0]))) == target
    other = "real" if target == "fake" else "fake"
    toward, against = method(model, face, target=target), method(model, face, target=other)
    if target == "fake":  # as on the face of the issue: called fake, yet Grad-CAM was blank
        assert not explain.is_empty(toward)
    order = np.argsort((toward - against).ravel(), kind="stable")
    share = order.size // 5
    colour = face.reshape(-1, 3).mean(axis=0).round() if fill == "mean" else np.zeros(3)
    without_toward = _masked(face, order[-share:], colour.astype(np.uint8))
    without_against = _masked(face, order[:share], colour.astype(np.uint8))
    assert _p(model, without_toward, target) < _p(model, without_against, target)


def test_integrated_gradients_for_fake_and_for_real_never_share_a_pixel(classifier, sample_images):
    """Issue 20: P(real) = 1 - P(fake), so a pixel that pushes towards fake pushes away from real: the two maps
    keep the positive attributions of opposite gradients and cannot overlap (absolute values overlapped everywhere)."""
    model = classifier("meso4-df")
    face = load_image(sample_images["df00204"])
    fake = explain.integrated_gradients(model, face, target="fake")
    real = explain.integrated_gradients(model, face, target="real")
    assert not explain.is_empty(fake) and not explain.is_empty(real)
    assert np.minimum(fake, real).max() < 1e-3


def test_an_empty_map_is_detected_and_an_unknown_target_refused(classifier, real_face):
    """Issue 20: Grad-CAM came out all zero after its ReLU on a face scored 73% fake, and the page showed the
    blank overlay as an explanation."""
    assert explain.is_empty(np.zeros((256, 256), np.float32))
    assert not explain.is_empty(np.eye(256, dtype=np.float32))
    assert explain.saliency_target(0.734) == "fake" and explain.saliency_target(0.002) == "real"
    assert explain.saliency_target(0.5) == "fake" and explain.saliency_target(0.6, threshold=0.7) == "real"
    with pytest.raises(ValueError, match="expected 'fake' or 'real'"):
        explain.grad_cam(classifier("meso4-df"), real_face, target="P(fake)")


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
        "features_block1_conv.png",
        "degradation_jpeg.png",
        "degradation_noise.png",
        "degradation.json",
    } <= names
    summary = json.loads((tmp_path / "degradation.json").read_text())
    assert summary["curves"]["jpeg"][0] == [100.0, pytest.approx(summary["p_fake"], abs=1e-6)]
    # The overlays explain the verdict; an empty map is named, never written as a blank overlay.
    assert summary["saliency"]["target"] == explain.saliency_target(summary["p_fake"])
    for method in ("gradcam", "integrated_gradients"):
        assert (f"saliency_{method}.png" in names) == (method not in summary["saliency"]["empty"])
    # A photo without a face is a one-line error.
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), "white").save(blank)
    result = run_cli("explain", str(blank), "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "no face found" in result.stderr and "Traceback" not in result.stderr
