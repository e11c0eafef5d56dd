"""Ensembles: several weights scoring the same faces, with one stated rule for the verdict.

The rule: each member's P(fake) is first rescaled so that the member's own threshold sits at
50% (linearly on [0, threshold] and on [threshold, 1]); the ensemble's P(fake) is the mean of
the rescaled scores, and a face is fake when it reaches 50%. So every member keeps its own
decision boundary, a member that is sure counts more than one that hesitates, and an
ensemble of one model gives that model's verdict.

An ensemble behaves like a `Classifier` wherever faces are scored (`score_real`,
`score_batch`, `name`, `threshold`), so the analysis, the evaluation and the command line take
either. Ensembles are named in the catalog (`mesonet.models.weights.ENSEMBLES`) or given as a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mesonet.errors import WeightsError
from mesonet.models.scoring import (
    DEFAULT_BATCH_SIZE,
    Classifier,
    describe_classifier,
    load_classifier,
    score_in_batches,
)
from mesonet.verdict import DEFAULT_THRESHOLD, p_fake_of


def rescale_to_half(p_fake: np.ndarray, threshold: float) -> np.ndarray:
    """Maps P(fake) piecewise linearly so that `threshold` goes to 0.5 (0 and 1 stay put)."""
    p_fake = np.asarray(p_fake, dtype=np.float64)
    below = p_fake / max(threshold, 1e-12) * 0.5
    above = 0.5 + (p_fake - threshold) / max(1.0 - threshold, 1e-12) * 0.5
    return np.where(p_fake < threshold, below, above)


class Ensemble:
    """Several classifiers scoring the same faces; see the module docstring for the rule.

    Attributes:
        name: e.g. "studio-ensemble" or "meso4-df+meso4-f2f".
        members: the classifiers, in order.
        threshold: always 0.5 (the members' thresholds are built into the rescaling).
        arch: "ensemble".
    """

    arch = "ensemble"

    def __init__(self, members: Sequence[Classifier], *, name: str | None = None) -> None:
        if not members:
            raise WeightsError("An ensemble needs at least one member.")
        self.members = list(members)
        self.name = name or "+".join(m.name for m in self.members)
        self.threshold = DEFAULT_THRESHOLD

    def member_p_fake(self, batch: np.ndarray) -> np.ndarray:
        """Each member's raw P(fake) for a preprocessed batch: shape (members, N)."""
        return np.stack([p_fake_of(m.score_batch(batch)) for m in self.members]) if len(batch) else np.empty((0, 0))

    def score_batch(self, batch: np.ndarray) -> np.ndarray:
        """P(real) of the ensemble for a preprocessed float32 batch (N, 256, 256, 3); shape (N,)."""
        if len(batch) == 0:
            return np.empty(0, dtype=np.float32)
        raw = self.member_p_fake(batch)
        rescaled = [rescale_to_half(p, m.threshold) for p, m in zip(raw, self.members)]
        return (1.0 - np.mean(rescaled, axis=0)).astype(np.float32)

    def score_real(
        self, faces: np.ndarray | Sequence[np.ndarray], *, resize: str = "nearest", batch_size: int = DEFAULT_BATCH_SIZE
    ) -> np.ndarray:
        """P(real) of the ensemble for uint8 RGB face crops of any size; float32 of shape (N,)."""
        return score_in_batches(self.score_batch, faces, resize=resize, batch_size=batch_size)

    def __repr__(self) -> str:
        return f"Ensemble({self.name!r}, members={[m.name for m in self.members]})"


def load_scorer(model: str, *, weights_file: str | Path | None = None) -> Classifier | Ensemble:
    """A classifier, or an ensemble when `model` names one or lists several weights.

    Args:
        model: a catalog name ("meso4-df"), an architecture with `weights_file`, an ensemble
            name from the catalog ("studio-ensemble"), or catalog names joined by commas
            ("meso4-df,meso4-f2f").
        weights_file: a custom weight file, for a single architecture only.

    Raises:
        WeightsError: an unknown name, or a weight file given with an ensemble.
    """
    members, name = _ensemble_members(model, weights_file)
    if members is None:
        return load_classifier(model, weights_file=weights_file)
    return Ensemble([load_classifier(n) for n in members], name=name)


def describe_scorer(model: str, *, weights_file: str | Path | None = None) -> tuple[str, float]:
    """The (name, threshold) of what `load_scorer` would load, without loading anything (no TensorFlow).

    Raises:
        WeightsError: as `load_scorer`.
    """
    members, name = _ensemble_members(model, weights_file)
    if members is None:
        return describe_classifier(model, weights_file=weights_file)[1:]
    for member in members:
        describe_classifier(member)  # an unknown member fails here, as when loading
    return name, DEFAULT_THRESHOLD


def _ensemble_members(model: str, weights_file: str | Path | None) -> tuple[list[str] | None, str | None]:
    """(the member names, the ensemble's name) when `model` is an ensemble, else (None, None)."""
    from mesonet.models.weights import ENSEMBLES

    key = model.strip().lower()
    names = [n.strip() for n in key.split(",") if n.strip()]
    if key not in ENSEMBLES and len(names) < 2:
        return None, None
    if weights_file is not None:
        raise WeightsError("--weights-file goes with one architecture, not with an ensemble of catalog weights.")
    return list(ENSEMBLES.get(key, names)), key if key in ENSEMBLES else "+".join(names)
