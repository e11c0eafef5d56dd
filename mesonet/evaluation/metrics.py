"""Binary detection metrics with forged as the positive class: the paper's table and ranking metrics.

Scores are the network's raw output P(real); P(fake) = 1 - P(real) is the score of the ROC
curve, average precision and EER. An item is called forged when its P(fake) reaches the
threshold (`mesonet.verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mesonet.data.datasets import LABEL_FORGED
from mesonet.verdict import DEFAULT_THRESHOLD, called_fake, p_fake_of


@dataclass(frozen=True)
class Metrics:
    """Binary metrics with forged as the positive class.

    Attributes:
        threshold: P(fake) at or above which an item is called forged.
        accuracy_forged: share of forged items called forged (the paper's "forged" column).
        accuracy_real: share of real items called real.
        accuracy_total: share of all items called right.
        roc_auc: area under the ROC curve of P(fake); None with a single class.
        eer: equal error rate (where false-positive and false-negative rates meet).
        average_precision: area under the precision-recall curve for the forged class.
        confusion: [[forged called forged, forged called real], [real called forged, real called real]].
        best_threshold: P(fake) threshold that maximises balanced accuracy (Youden's J).
        best_balanced_accuracy: balanced accuracy at `best_threshold`.
        n_forged, n_real: items per class.
    """

    threshold: float
    accuracy_forged: float | None
    accuracy_real: float | None
    accuracy_total: float
    roc_auc: float | None
    eer: float | None
    average_precision: float | None
    confusion: list[list[int]]
    best_threshold: float | None
    best_balanced_accuracy: float | None
    n_forged: int
    n_real: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def compute_metrics(
    labels: Sequence[int] | np.ndarray,
    score_real: Sequence[float] | np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> Metrics:
    """The paper's table and ranking metrics from labels and raw network outputs.

    Args:
        labels: 1 real, 0 forged, shape (N,).
        score_real: network outputs P(real), shape (N,).
        threshold: P(fake) at or above which an item is called forged.
    """
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score, roc_curve

    labels = np.asarray(labels, dtype=np.int64)
    p_fake = p_fake_of(np.asarray(score_real, dtype=np.float64))
    if labels.size == 0:
        raise ValueError("No scored items: nothing to compute metrics on.")
    is_forged = labels == LABEL_FORGED
    called_forged = called_fake(p_fake, threshold)
    n_forged, n_real = int(is_forged.sum()), int((~is_forged).sum())
    confusion = confusion_matrix(is_forged, called_forged, labels=[True, False]).tolist()
    result = dict(
        threshold=threshold,
        accuracy_forged=float(called_forged[is_forged].mean()) if n_forged else None,
        accuracy_real=float((~called_forged[~is_forged]).mean()) if n_real else None,
        accuracy_total=float((called_forged == is_forged).mean()),
        roc_auc=None,
        eer=None,
        average_precision=None,
        confusion=confusion,
        best_threshold=None,
        best_balanced_accuracy=None,
        n_forged=n_forged,
        n_real=n_real,
    )
    if n_forged and n_real:
        fpr, tpr, thresholds = roc_curve(is_forged, p_fake)
        fnr = 1.0 - tpr
        crossing = int(np.nanargmin(np.abs(fnr - fpr)))
        best = int(np.argmax(tpr - fpr))
        result.update(
            roc_auc=float(roc_auc_score(is_forged, p_fake)),
            eer=float((fpr[crossing] + fnr[crossing]) / 2),
            average_precision=float(average_precision_score(is_forged, p_fake)),
            # roc_curve's first threshold is +inf (nothing called forged); clip to a probability.
            best_threshold=float(min(thresholds[best], 1.0)),
            best_balanced_accuracy=float((tpr[best] + 1.0 - fpr[best]) / 2),
        )
    return Metrics(**result)


def format_metric(value: float | None) -> str:
    """A metric with four decimals, or "-" when it does not exist (one class only, or NaN)."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
