"""Explanations that several pages show, worded once."""

from __future__ import annotations

import re

LABEL_NOTE = (
    "MesoNet's networks output **P(real)**. MesoNet Studio shows **P(fake) = 1 − P(real)**; "
    "the raw output is kept as `score_real` in the downloads."
)
WEIGHTS_NOTE = (
    "**DF** weights were trained on Deepfake face swaps, **F2F** weights on Face2Face reenactment. "
    "Weights only know the manipulation they were trained on: F2F weights call many Deepfake "
    "faces real, and the other way round."
)

# Markdown that could turn a user's string into a link, an image, HTML, a colour, an icon or formatting.
# (Not "_": CommonMark never makes emphasis inside a word, and file names are full of underscores.)
_MARKDOWN_ACTIVE = re.compile(r"([\\`*\[\]<>$~:|!#])")


def plain(text: object) -> str:
    """A user-provided string (file, dataset, class or weights name) made to show literally in Markdown.

    Streamlit renders messages, captions, labels and headers as Markdown: a file named
    "[prize](https://...).jpg" would become a link. Backslash escapes keep every character visible.
    """
    return _MARKDOWN_ACTIVE.sub(r"\\\1", str(text))
