"""Meso4 and MesoInception4 (Afchar et al., WIFS 2018) as Keras 3 models.

The graphs match the authors' release layer for layer, in the same order, so that their
weights-only HDF5 files load with a plain `model.load_weights(path)`. Every layer is named;
the released files carry Keras 2 auto-generated names, which the legacy HDF5 loader ignores
because it matches layers by order.

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
    x = _conv_block(x, 8, 3, 2, "block1")
    x = _conv_block(x, 8, 5, 2, "block2")
    x = _conv_block(x, 16, 5, 2, "block3")
    return _conv_block(x, 16, 5, 4, "block4")


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
    x = _inception(x, 1, 4, 4, 2, "block1")
    x = layers.BatchNormalization(name="block1_bn")(x)
    x = layers.MaxPooling2D(2, padding="same", name="block1_pool")(x)
    x = _inception(x, 2, 4, 4, 2, "block2")
    x = layers.BatchNormalization(name="block2_bn")(x)
    x = layers.MaxPooling2D(2, padding="same", name="block2_pool")(x)
    x = _conv_block(x, 16, 5, 2, "block3")
    return _conv_block(x, 16, 5, 4, "block4")


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
