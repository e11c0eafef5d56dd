"""What a session keeps while its user moves between pages: the file last analysed, and its faces.

Streamlit forgets a widget's value when a page without that widget runs, and a file uploader
cannot be handed its file back. So the Analyse page keeps the file it analysed, the extraction
settings and the faces under one plain (non-widget) key; coming back to Analyse shows them again,
and Compare and Learn offer them ("the file analysed on the Analyse page"). One file per session:
a second kept copy of a large video would double what a session holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from studio.extractions import get_extraction
from studio.inputs import ExtractionSettings, MediaInput

if TYPE_CHECKING:
    from mesonet.analysis.results import Extraction

ANALYSED_KEY = "session.analysed"


@dataclass(frozen=True)
class Analysed:
    """The file the Analyse page analysed last, with the settings and the faces it gave."""

    media: MediaInput
    settings: ExtractionSettings
    extraction: Extraction


def last_analysed() -> Analysed | None:
    """The file this session analysed last on the Analyse page, or None."""
    return st.session_state.get(ANALYSED_KEY)


def remember_analysed(media: MediaInput, settings: ExtractionSettings, extraction: Extraction) -> None:
    st.session_state[ANALYSED_KEY] = Analysed(media, settings, extraction)


def forget_analysed() -> None:
    st.session_state.pop(ANALYSED_KEY, None)


def extraction_for(media: MediaInput, settings: ExtractionSettings) -> tuple[Extraction, float]:
    """Faces of `media`: the session's own when it analysed this file with these settings, else
    from the server's cache or extracted now (the cache is small and shared, so it may have
    dropped them while the user was on another page).

    Returns:
        (extraction, seconds spent now; 0.0 when the faces were reused).
    """
    analysed = last_analysed()
    same = (media.sha256, media.is_face_crop, settings)
    if analysed is not None and (analysed.media.sha256, analysed.media.is_face_crop, analysed.settings) == same:
        return analysed.extraction, 0.0
    return get_extraction(media, settings)
