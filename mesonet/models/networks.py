"""Meso4 and MesoInception4 (Afchar et al., WIFS 2018) as Keras 3 models.

The graphs match the authors' release layer for layer, in the same order, so that their
weights-only HDF5 files load with a plain `model.load_weights(path)`. Every layer is named;
the released files carry Keras 2 auto-generated names, which the legacy HDF5 loader ignores
because it matches layers by order.

The architectures are numbers first (`MESO4_BLOCKS`, `MESOINCEPTION4_MODULES`, ...): the Keras
builders read them, and so does `layer_specs`, which lists every layer and weight shape without
TensorFlow (what an untrusted weight file is checked against before Keras reads it).

Models are returned uncompiled: only training code compiles them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

from mesonet.faces.align import INPUT_SIZE

ARCHITECTURES = ("meso4", "mesoinception4")
ARCHITECTURE_TITLES = {"meso4": "Meso4", "mesoinception4": "MesoInception4"}
# Trainable parameters of the published networks (paper and released weights).
PUBLISHED_TRAINABLE_PARAMS = {"meso4": 27_977, "mesoinception4": 28_615}

# The published architectures as numbers (REFERENCE.md), read by the builders and by `layer_specs`.
# (filters, kernel side, pool side) of each convolution block: Conv2D (same, ReLU) -> BN -> MaxPool.
MESO4_BLOCKS = ((8, 3, 2), (8, 5, 2), (16, 5, 2), (16, 5, 4))
# (a, b, c, d) of each inception block of MesoInception4, each followed by BN and a 2x2 max pool;
# then its convolution blocks, as in Meso4.
MESOINCEPTION4_MODULES = ((1, 4, 4, 2), (2, 4, 4, 2))
INCEPTION_POOL = 2
MESOINCEPTION4_BLOCKS = ((16, 5, 2), (16, 5, 4))


@dataclass(frozen=True)
class Variant:
    """Options for the classifier head; the defaults are the published networks.

    Attributes:
        dense_units: widths of the hidden dense layers between the convolutional stack and the
            output, each followed by LeakyReLU(0.1) and dropout. The paper uses one layer of 16.
        dropout: dropout rate before each dense layer, in [0, 1).
    """

    dense_units: tuple[int, ...] = (16,)
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if any(int(units) < 1 for units in self.dense_units):
            raise ValueError(f"dense_units must be positive integers, got {self.dense_units!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")

    @property
    def is_published(self) -> bool:
        return self == Variant()

    def to_dict(self) -> dict:
        return {"dense_units": list(self.dense_units), "dropout": self.dropout}

    @classmethod
    def from_dict(cls, data: dict) -> Variant:
        return cls(
            dense_units=tuple(int(u) for u in data.get("dense_units", (16,))), dropout=float(data.get("dropout", 0.5))
        )


def import_keras() -> ModuleType:
    """Imports Keras on first use: TensorFlow takes seconds to import, which `--help` should not pay."""
    if "keras" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # TensorFlow's native libraries log start-up notes (oneDNN, CPU features) straight to the
        # stderr file descriptor, ignoring TF_CPP_MIN_LOG_LEVEL; they would break the one-line
        # errors of the command line. Import errors still surface as Python exceptions.
        with _native_stderr_silenced():
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    return sys.modules["keras"]


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_architecture(arch: str) -> str:
    """Returns the canonical architecture name, or raises ValueError listing the valid ones."""
    key = arch.strip().lower().replace("-", "").replace("_", "")
    if key not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}.")
    return key


@dataclass(frozen=True)
class WeightSpec:
    """One weight array of a network, in the order Keras lists a layer's weights.

    Attributes:
        layer: the layer's name in `build_model`'s graph, e.g. "block1_conv".
        name: "kernel", "bias", "gamma", "beta", "moving_mean" or "moving_variance".
        shape: the array's shape, e.g. (3, 3, 3, 8) for a 3x3 convolution from 3 to 8 channels.
        trainable: False for batch normalisation's moving statistics (no optimizer state).
    """

    layer: str
    name: str
    shape: tuple[int, ...]
    trainable: bool = True


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a network, as a Keras model config describes it.

    Attributes:
        class_name: the Keras class, e.g. "Conv2D".
        name: the layer's name in `build_model`'s graph.
        settings: the config entries that fix the layer's weights and output shape, e.g.
            (("filters", 8), ("kernel_size", (3, 3)), ("dilation_rate", (1, 1))).
        input_channels: the last axis of the layer's input, for layers with weights; else None.
        weights: the layer's weight arrays.
    """

    class_name: str
    name: str
    settings: tuple[tuple[str, object], ...] = ()
    input_channels: int | None = None
    weights: tuple[WeightSpec, ...] = ()


def layer_specs(arch: str, *, variant: Variant | None = None) -> list[LayerSpec]:
    """Every layer of `build_model(arch, variant=variant)` and its weight shapes, without TensorFlow.

    Computed from the architecture's numbers (`MESO4_BLOCKS`, ...), as the builders are, so an
    untrusted file can be checked against them before Keras reads it. The order is that of the
    builder's calls; Keras may list parallel branches in another order.

    Args:
        arch: "meso4" or "mesoinception4".
        variant: head options; None gives the published network.
    """
    arch = check_architecture(arch)
    variant = variant or Variant()
    specs = [LayerSpec("InputLayer", "face", (("batch_shape", (None, INPUT_SIZE, INPUT_SIZE, 3)),))]
    channels, side = 3, INPUT_SIZE
    if arch == "mesoinception4":
        for number, (a, b, c, d) in enumerate(MESOINCEPTION4_MODULES, start=1):
            name = f"block{number}"
            specs += [
                _conv_spec(f"{name}_b1_1x1", channels, a, 1),
                _conv_spec(f"{name}_b2_1x1", channels, b, 1),
                _conv_spec(f"{name}_b2_3x3", b, b, 3),
                _conv_spec(f"{name}_b3_1x1", channels, c, 1),
                _conv_spec(f"{name}_b3_3x3_d2", c, c, 3, dilation=2),
                _conv_spec(f"{name}_b4_1x1", channels, d, 1),
                _conv_spec(f"{name}_b4_3x3_d3", d, d, 3, dilation=3),
                LayerSpec("Concatenate", f"{name}_concat", (("axis", -1),)),
            ]
            channels = a + b + c + d
            specs += [_batch_norm_spec(f"{name}_bn", channels), _pool_spec(f"{name}_pool", INCEPTION_POOL)]
            side = -(-side // INCEPTION_POOL)  # "same" padding rounds up
        blocks, first = MESOINCEPTION4_BLOCKS, len(MESOINCEPTION4_MODULES) + 1
    else:
        blocks, first = MESO4_BLOCKS, 1
    for number, (filters, kernel, pool) in enumerate(blocks, start=first):
        specs += [
            _conv_spec(f"block{number}_conv", channels, filters, kernel),
            _batch_norm_spec(f"block{number}_bn", filters),
            _pool_spec(f"block{number}_pool", pool),
        ]
        channels, side = filters, -(-side // pool)
    specs += [LayerSpec("Flatten", "flatten"), LayerSpec("Dropout", "dropout0")]
    features = side * side * channels
    for number, units in enumerate(variant.dense_units, start=1):
        specs += [
            _dense_spec(f"dense{number}", features, int(units)),
            LayerSpec("LeakyReLU", f"leaky_relu{number}"),
            LayerSpec("Dropout", f"dropout{number}"),
        ]
        features = int(units)
    specs.append(_dense_spec("score_real", features, 1))
    return specs


def weight_specs(arch: str, *, variant: Variant | None = None) -> list[WeightSpec]:
    """Every weight array of `build_model(arch, variant=variant)`, layer by layer, without TensorFlow."""
    return [weight for layer in layer_specs(arch, variant=variant) for weight in layer.weights]


def _conv_spec(name: str, in_channels: int, filters: int, kernel: int, *, dilation: int = 1) -> LayerSpec:
    settings = (("filters", filters), ("kernel_size", (kernel, kernel)), ("dilation_rate", (dilation, dilation)))
    weights = (WeightSpec(name, "kernel", (kernel, kernel, in_channels, filters)), WeightSpec(name, "bias", (filters,)))
    return LayerSpec("Conv2D", name, settings, in_channels, weights)


def _batch_norm_spec(name: str, channels: int) -> LayerSpec:
    weights = tuple(
        WeightSpec(name, weight, (channels,), trainable=weight in ("gamma", "beta"))
        for weight in ("gamma", "beta", "moving_mean", "moving_variance")
    )
    return LayerSpec("BatchNormalization", name, (), channels, weights)


def _pool_spec(name: str, pool: int) -> LayerSpec:
    return LayerSpec("MaxPooling2D", name, (("pool_size", (pool, pool)),))


def _dense_spec(name: str, in_features: int, units: int) -> LayerSpec:
    weights = (WeightSpec(name, "kernel", (in_features, units)), WeightSpec(name, "bias", (units,)))
    return LayerSpec("Dense", name, (("units", units),), in_features, weights)


def build_model(arch: str, *, variant: Variant | None = None):
    """Builds an uncompiled Meso4 or MesoInception4.

    Args:
        arch: "meso4" or "mesoinception4".
        variant: head options; None gives the published network.

    Returns:
        A Keras model mapping float32 RGB faces of shape (N, 256, 256, 3) in [0, 1] to the
        sigmoid output of shape (N, 1), the probability that the face is REAL.
    """
    keras = import_keras()
    arch = check_architecture(arch)
    variant = variant or Variant()
    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), name="face")
    if arch == "meso4":
        features = _meso4_features(inputs)
    else:
        features = _mesoinception4_features(inputs)
    outputs = _classifier_head(features, variant)
    return keras.Model(inputs, outputs, name=ARCHITECTURE_TITLES[arch])


def _conv_block(x, filters: int, kernel: int, pool: int, name: str):
    layers = import_keras().layers
    x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.MaxPooling2D(pool, padding="same", name=f"{name}_pool")(x)


def _meso4_features(x):
    for number, (filters, kernel, pool) in enumerate(MESO4_BLOCKS, start=1):
        x = _conv_block(x, filters, kernel, pool, f"block{number}")
    return x


def _inception(x, a: int, b: int, c: int, d: int, name: str):
    """Four parallel branches: 1x1; 1x1 then 3x3; and 3x3 dilated by 2 and by 3."""
    layers = import_keras().layers

    def conv(y, filters: int, kernel: int, branch: str, dilation: int = 1):
        return layers.Conv2D(
            filters, kernel, padding="same", activation="relu", dilation_rate=dilation, name=f"{name}_{branch}"
        )(y)

    branch1 = conv(x, a, 1, "b1_1x1")
    branch2 = conv(conv(x, b, 1, "b2_1x1"), b, 3, "b2_3x3")
    branch3 = conv(conv(x, c, 1, "b3_1x1"), c, 3, "b3_3x3_d2", dilation=2)
    branch4 = conv(conv(x, d, 1, "b4_1x1"), d, 3, "b4_3x3_d3", dilation=3)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([branch1, branch2, branch3, branch4])


def _mesoinception4_features(x):
    layers = import_keras().layers
    for number, (a, b, c, d) in enumerate(MESOINCEPTION4_MODULES, start=1):
        x = _inception(x, a, b, c, d, f"block{number}")
        x = layers.BatchNormalization(name=f"block{number}_bn")(x)
        x = layers.MaxPooling2D(INCEPTION_POOL, padding="same", name=f"block{number}_pool")(x)
    for number, (filters, kernel, pool) in enumerate(MESOINCEPTION4_BLOCKS, start=len(MESOINCEPTION4_MODULES) + 1):
        x = _conv_block(x, filters, kernel, pool, f"block{number}")
    return x


def _classifier_head(x, variant: Variant):
    layers = import_keras().layers
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(variant.dropout, name="dropout0")(x)
    for i, units in enumerate(variant.dense_units, start=1):
        x = layers.Dense(units, name=f"dense{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.1, name=f"leaky_relu{i}")(x)
        x = layers.Dropout(variant.dropout, name=f"dropout{i}")(x)
    return layers.Dense(1, activation="sigmoid", name="score_real")(x)


def trainable_params(model) -> int:
    """Number of trainable parameters of a Keras model."""
    return int(sum(w.numpy().size for w in model.trainable_weights))
