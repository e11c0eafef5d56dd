"""The one rule that turns P(fake) into a verdict, for a face, a frame, a video or a dataset item.

A score is "fake" when P(fake) reaches the threshold, else "real"; no score (no face found)
is "no face". A score within `UNCERTAIN_MARGIN` of the threshold is flagged "uncertain": the
verdict could go either way. The command line, the app (verdict cards, chart markers, gallery
borders, frame boxes, the quiz, the model comparison) and the evaluation metrics all ask here,
so moving the threshold moves every one of them.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np

DEFAULT_THRESHOLD = 0.5
UNCERTAIN_MARGIN = 0.05

Verdict = Literal["real", "fake", "no face"]
Label = Literal["real", "fake", "uncertain", "no face"]

# The colour of each verdict wherever one is drawn: the app's cards, charts, boxes and borders,
# and the boxes of the annotated video (`mesonet.annotate`).
VERDICT_COLORS: dict[Verdict, str] = {"fake": "#D32F2F", "real": "#2E7D32", "no face": "#9E9E9E"}


@overload
def called_fake(p_fake: float, threshold: float = ...) -> bool: ...
@overload
def called_fake(p_fake: np.ndarray, threshold: float = ...) -> np.ndarray: ...
def called_fake(p_fake, threshold: float = DEFAULT_THRESHOLD):
    """Whether P(fake) reaches the threshold; element-wise for an array (returns a bool array)."""
    if isinstance(p_fake, np.ndarray):
        return p_fake >= threshold
    return bool(p_fake >= threshold)


def verdict_for(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> Verdict:
    """ "fake" when P(fake) reaches the threshold, "real" below it, "no face" without a score."""
    if p_fake is None:
        return "no face"
    return "fake" if called_fake(float(p_fake), threshold) else "real"


def is_uncertain(
    p_fake: float | None, threshold: float = DEFAULT_THRESHOLD, *, margin: float = UNCERTAIN_MARGIN
) -> bool:
    """Whether a score is so close to the threshold (closer than `margin`) that its verdict could flip."""
    return p_fake is not None and abs(float(p_fake) - threshold) < margin


def label_score(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> Label:
    """The verdict, or "uncertain" when the score sits within the uncertain band around the threshold."""
    return "uncertain" if is_uncertain(p_fake, threshold) else verdict_for(p_fake, threshold)


def verdict_color(p_fake: float | None, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The verdict's colour ("#RRGGBB"): red for fake, green for real, grey for no face, at this threshold."""
    return VERDICT_COLORS[verdict_for(p_fake, threshold)]
