"""Explanations that several pages show, worded once."""

from __future__ import annotations

LABEL_NOTE = (
    "MesoNet's networks output **P(real)**. MesoNet Studio shows **P(fake) = 1 − P(real)**; "
    "the raw output is kept as `score_real` in the downloads."
)
WEIGHTS_NOTE = (
    "**DF** weights were trained on Deepfake face swaps, **F2F** weights on Face2Face reenactment. "
    "Weights only know the manipulation they were trained on: F2F weights call many Deepfake "
    "faces real, and the other way round."
)
