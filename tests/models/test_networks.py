"""Architectures and golden outputs against the authors' released weights (REFERENCE.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesonet.models.networks import (
    PUBLISHED_TRAINABLE_PARAMS,
    Variant,
    build_model,
    layer_specs,
    trainable_params,
    weight_specs,
)
from tests.helpers import GOLDEN


@pytest.mark.parametrize(
    ("arch", "trainable", "total"), [("meso4", 27_977, 28_073), ("mesoinception4", 28_615, 28_725)]
)
def test_published_parameter_counts(arch, trainable, total):
    model = build_model(arch)
    assert trainable_params(model) == trainable == PUBLISHED_TRAINABLE_PARAMS[arch]
    assert model.count_params() == total
    assert model.input_shape == (None, 256, 256, 3)
    assert model.output_shape == (None, 1)


@pytest.mark.parametrize(
    ("arch", "trainable", "total"), [("meso4", 27_977, 28_073), ("mesoinception4", 28_615, 28_725)]
)
def test_the_weight_table_counts_the_published_parameters_without_tensorflow(arch, trainable, total):
    """Issue 24: untrusted files are checked against `weight_specs` before TensorFlow is imported."""
    weights = weight_specs(arch)
    assert sum(math.prod(w.shape) for w in weights) == total
    assert sum(math.prod(w.shape) for w in weights if w.trainable) == trainable
    assert weights[0].shape == ((3, 3, 3, 8) if arch == "meso4" else (1, 1, 3, 1))


def test_the_weight_table_is_what_keras_builds():
    """`layer_specs` and the Keras builders read the same numbers: every layer, class and weight shape agree."""
    for arch, variant in (("meso4", None), ("mesoinception4", None), ("meso4", Variant(dense_units=(32, 8)))):
        model = build_model(arch, variant=variant)
        specs = layer_specs(arch, variant=variant)
        assert sorted((type(layer).__name__, layer.name) for layer in model.layers) == sorted(
            (spec.class_name, spec.name) for spec in specs
        )
        for spec in specs:
            assert [tuple(w.shape) for w in model.get_layer(spec.name).weights] == [w.shape for w in spec.weights]


def test_every_layer_is_named_after_its_role():
    names = [layer.name for layer in build_model("mesoinception4").layers]
    assert "block1_b3_3x3_d2" in names and "block1_b4_3x3_d3" in names
    assert len(set(names)) == len(names)


def test_variants_change_the_head_only():
    wide = build_model("meso4", variant=Variant(dense_units=(32, 16), dropout=0.25))
    dense = [layer for layer in wide.layers if layer.name.startswith("dense")]
    assert [layer.units for layer in dense] == [32, 16]
    assert wide.get_layer("dropout1").rate == 0.25
    no_hidden = build_model("meso4", variant=Variant(dense_units=()))
    assert not [layer for layer in no_hidden.layers if layer.name.startswith("dense")]


@pytest.mark.parametrize("bad", [{"dense_units": (0,)}, {"dropout": 1.0}, {"dropout": -0.1}])
def test_bad_variants_are_refused_before_building(bad):
    with pytest.raises(ValueError):
        Variant(**bad)


def test_unknown_architecture_lists_the_valid_ones():
    with pytest.raises(ValueError, match="meso4, mesoinception4"):
        build_model("resnet50")


@pytest.mark.parametrize("weights", list(GOLDEN))
def test_reference_outputs_batch_of_one(weights, sample_images, classifier):
    """All 16 reference outputs within 1e-5, weights resolved through the catalog."""
    from mesonet.media.images import load_image

    model = classifier(weights)
    for stem, expected in GOLDEN[weights].items():
        score = model.score_real([load_image(sample_images[stem])])
        assert score.shape == (1,)
        assert score[0] == pytest.approx(expected, abs=1e-5), stem


def test_batched_scores_equal_single_scores(sample_images, classifier):
    from mesonet.media.images import load_image

    faces = [load_image(path) for path in sample_images.values()]
    model = classifier("mesoinception4-df")
    batched = model.score_real(faces, batch_size=3)  # crosses a batch boundary
    single = np.array([model.score_real([face])[0] for face in faces])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert model.score_real([]).shape == (0,)


def test_unscaled_input_bug_is_not_reproduced(sample_images, classifier):
    """Regression: the authors' video pipeline forgot /255 and called every face real."""
    from mesonet.media.images import load_image
    from mesonet.models.scoring import preprocess_faces

    batch = preprocess_faces([load_image(sample_images["df00204"])])
    assert batch.dtype == np.float32 and batch.shape == (1, 256, 256, 3)
    assert batch.min() >= 0.0 and batch.max() <= 1.0
    assert classifier("meso4-df").score_batch(batch)[0] < 0.1
