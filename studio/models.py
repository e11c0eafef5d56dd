"""The sidebar's classifier picker, the user's own weight files, and the server-wide model cache.

Models are loaded once per server (`st.cache_resource`) and shared by every user, so nothing
here ever modifies a model. The picker only draws widgets and returns the choice; it loads
nothing, and the list of weights comes from the catalog (`mesonet.weights`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from mesonet.models import ARCHITECTURE_TITLES
from mesonet.weights import CATALOG, DEFAULT_WEIGHTS, get_weights, list_weights
from studio.text import WEIGHTS_NOTE

CUSTOM_KEY = "weights.custom"  # {label: {"arch": str, "path": str}} for this user's accepted files


@dataclass(frozen=True)
class ModelChoice:
    """What the sidebar picked: a catalog name, or an architecture with a custom weight file."""

    label: str
    model: str
    arch: str
    weights_file: str | None = None


def model_choices() -> list[ModelChoice]:
    """The catalog's models, then this user's accepted custom weight files."""
    choices = [ModelChoice(entry.name, entry.name, entry.arch) for entry in list_weights()]
    for label, custom in st.session_state.get(CUSTOM_KEY, {}).items():
        choices.append(ModelChoice(label, custom["arch"], custom["arch"], custom["path"]))
    return choices


def add_custom_weights(label: str, arch: str, path: str | Path) -> None:
    """Makes a checked weight file a choice of this user's picker, under `label`."""
    st.session_state.setdefault(CUSTOM_KEY, {})[label] = {"arch": arch, "path": str(path)}


def weights_picker() -> ModelChoice:
    """Architecture and weights in the sidebar, shared by every page for this user.

    Both choices are kept across pages, also across pages that do not draw the picker. Changing
    the architecture keeps the weights' manipulation (DF stays DF, F2F stays F2F), as the
    catalog's `manipulation` field says.
    """
    st.session_state.setdefault("model.arch", get_weights(DEFAULT_WEIGHTS).arch)
    previous = st.session_state.get("model.weights")
    with st.sidebar:
        st.subheader("Classifier")
        arch = st.radio(
            "Architecture",
            list(ARCHITECTURE_TITLES),
            format_func=ARCHITECTURE_TITLES.get,
            key="model.arch",
            horizontal=True,
            persist_state="session",
        )
        options = [c for c in model_choices() if c.arch == arch]
        labels = [c.label for c in options]
        if previous not in labels:
            st.session_state["model.weights"] = _same_manipulation(previous, options)
        label = st.radio("Weights", labels, key="model.weights", format_func=_weights_label, persist_state="session")
        st.caption(WEIGHTS_NOTE)
    return next(c for c in options if c.label == label)


def _same_manipulation(previous: str | None, options: list[ModelChoice]) -> str:
    """The catalog option trained on the same manipulation as `previous`, else the first option."""
    manipulation = CATALOG[previous].manipulation if previous in CATALOG else None
    return next(
        (c.label for c in options if c.weights_file is None and CATALOG[c.model].manipulation == manipulation),
        options[0].label,
    )


def _weights_label(label: str) -> str:
    entry = next((e for e in list_weights() if e.name == label), None)
    return entry.short_label if entry is not None else f"Custom: {label}"


@st.cache_resource(show_spinner="Loading the model...")
def cached_classifier(model: str, weights_file: str | None = None):
    """One classifier per (model, weights file) for the whole server."""
    from mesonet.scoring import load_classifier

    return load_classifier(model, weights_file=weights_file)


def classifier_for(choice: ModelChoice):
    """The loaded classifier for a picker choice (raises WeightsError for weights that cannot load)."""
    return cached_classifier(choice.model, choice.weights_file)


def custom_weights_dir() -> Path:
    """Where accepted custom weight files are kept (by content hash) while the server runs."""
    folder = Path(tempfile.gettempdir()) / "mesonet-custom-weights"
    folder.mkdir(exist_ok=True)
    return folder
