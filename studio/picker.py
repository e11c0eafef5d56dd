"""The sidebar's classifier picker, the user's own weight files, and the server-wide model cache.

Models are loaded once per server (`st.cache_resource`, at most `config.MODEL_CACHE_ENTRIES`)
and shared by every user, so nothing here ever modifies a model. The picker only draws widgets
and returns the choice; it loads nothing, and the list of weights comes from the catalog
(`mesonet.models.weights`).

A user's own weight file is untrusted and private: each upload is written into a folder of its
own (`tempfile.mkdtemp`), checked there, and only then offered in that user's picker. Its
folder is deleted when the user's session ends (when Streamlit drops the session state that
owns it), and in any case after `config.custom_weights_max_age_s()`. Caches of what a model
computes are keyed by the weights' SHA-256 (`ModelChoice.weights_sha256`), never by a label
that two users' "model.h5" would share.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from mesonet import config
from mesonet.errors import WeightsError
from mesonet.models.networks import ARCHITECTURE_TITLES
from mesonet.models.weights import (
    CATALOG,
    DEFAULT_WEIGHTS,
    check_in_child,
    detect_architecture,
    get_weights,
    list_weights,
    metadata_threshold,
    model_card,
    read_metadata,
)
from mesonet.verdict import DEFAULT_THRESHOLD
from studio.server import cached_classifier
from studio.text import WEIGHTS_NOTE, plain

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

CUSTOM_KEY = "weights.custom"  # {label: {"arch": str, "path": str, "sha256": str}}: this user's accepted files
_FOLDERS_KEY = "weights.custom_folders"  # the _SessionFolders owning this session's upload folders
_FOLDER_PREFIX = "mesonet-weights-"
SWEEP_EVERY_S = 3600.0


@dataclass(frozen=True)
class ModelChoice:
    """What the sidebar picked: a catalog name, or an architecture with a custom weight file.

    Attributes:
        weights_sha256: SHA-256 of the weight file: what to key caches of the model's outputs by.
        threshold: the weights' own P(fake) threshold (the catalog's, or a trained file's metadata).
    """

    label: str
    model: str
    arch: str
    weights_file: str | None = None
    weights_sha256: str = ""
    threshold: float = DEFAULT_THRESHOLD


def model_choices() -> list[ModelChoice]:
    """The catalog's models, then this user's accepted custom weight files."""
    choices = [
        ModelChoice(entry.name, entry.name, entry.arch, None, entry.sha256, entry.threshold) for entry in list_weights()
    ]
    for label, custom in st.session_state.get(CUSTOM_KEY, {}).items():
        choices.append(
            ModelChoice(label, custom["arch"], custom["arch"], custom["path"], custom["sha256"], custom["threshold"])
        )
    return choices


def add_custom_weights(label: str, arch: str, path: str | Path) -> None:
    """Makes a checked weight file (from `store_custom_weights`) a choice of this user's picker, under `label`."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    threshold = metadata_threshold(read_metadata(Path(path)))
    st.session_state.setdefault(CUSTOM_KEY, {})[label] = {
        "arch": arch,
        "path": str(path),
        "sha256": digest,
        "threshold": threshold,
    }


class _SessionFolders:
    """The upload folders of one session, deleted when the session state that holds this object goes."""

    def __init__(self) -> None:
        self.folders: list[Path] = []
        # The finalizer holds the list, not the object, so the object can be collected.
        weakref.finalize(self, _remove_folders, self.folders)


def _remove_folders(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def store_custom_weights(name: str, data: bytes, arch: str | None = None) -> tuple[Path, str]:
    """Writes an uploaded weight file into a private folder of its own and checks it against `arch`.

    Args:
        name: the file's name as uploaded; path parts are dropped ("../x.h5" is stored as "x.h5").
        data: its bytes.
        arch: "meso4" or "mesoinception4"; None reads it from the file (`detect_architecture`).

    Returns:
        (the checked file, named like the upload so that messages name the user's file, in a folder
        that belongs to this session; its architecture).

    Raises:
        WeightsError: the file does not load into `arch` (nothing is kept).
    """
    remove_expired_weights()  # besides the hourly sweep: expired files must not count against the budget below
    base = Path(name.replace("\\", "/")).name
    if base in ("", ".", "..") or base.startswith("."):
        base = f"weights{Path(base).suffix or '.h5'}"
    kept = [f for f in getattr(st.session_state.get(_FOLDERS_KEY), "folders", []) if f.exists()]
    if len(kept) >= config.custom_weights_per_session():
        raise WeightsError(
            f"{base}: this session already keeps {len(kept)} weight file{'s' if len(kept) > 1 else ''}, the most it "
            "may. Reload the page to start a new session without them, then add this one."
        )
    used = sum(p.stat().st_size for p in custom_weights_dir().glob(f"{_FOLDER_PREFIX}*/*") if p.is_file())
    if used + len(data) > config.custom_weights_budget_bytes():
        raise WeightsError(
            f"{base}: the server keeps as many uploaded weight files as it has room for. Try again later, when "
            "other sessions' files have gone."
        )
    folder = Path(tempfile.mkdtemp(prefix=_FOLDER_PREFIX, dir=custom_weights_dir()))
    path = folder / base
    try:
        path.write_bytes(data)
        arch = arch or detect_architecture(path)
        check_in_child(arch, path)  # in a child process with a memory cap: never this server's memory
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if _FOLDERS_KEY not in st.session_state:
        st.session_state[_FOLDERS_KEY] = _SessionFolders()
    st.session_state[_FOLDERS_KEY].folders.append(folder)
    return path, arch


def remove_expired_weights(now: float | None = None) -> None:
    """Deletes upload folders older than `config.custom_weights_max_age_s()`, whoever uploaded them."""
    oldest = (time.time() if now is None else now) - config.custom_weights_max_age_s()
    for folder in custom_weights_dir().glob(f"{_FOLDER_PREFIX}*"):
        try:
            if folder.stat().st_mtime < oldest:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # removed meanwhile by another session


@st.cache_resource
def expired_weights_sweeper() -> threading.Thread:
    """Removes expired upload folders at the server's start and every SWEEP_EVERY_S after, even when
    nobody uploads (uploads sweep too)."""

    def sweep() -> None:
        while True:
            remove_expired_weights()
            time.sleep(SWEEP_EVERY_S)

    thread = threading.Thread(target=sweep, name="mesonet-weights-sweeper", daemon=True)
    thread.start()
    return thread


def weights_picker(where: DeltaGenerator | None = None) -> ModelChoice:
    """Architecture and weights, shared by every page for this user; in the sidebar unless `where` is
    given (Analyse puts them on the page, where a phone shows them without opening the sidebar).

    Both choices are kept across pages, also across pages that do not draw the picker. Changing
    the architecture keeps the weights' manipulation (DF stays DF, F2F stays F2F), as the
    catalog's `manipulation` field says.
    """
    st.session_state.setdefault("model.arch", get_weights(DEFAULT_WEIGHTS).arch)
    previous = st.session_state.get("model.weights")
    with where if where is not None else st.sidebar:
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
        choice = next(c for c in options if c.label == label)
        _weights_card(choice)
        st.caption(WEIGHTS_NOTE)
    return choice


def kept_weights_label() -> str:
    """This user's weights, e.g. "Meso4 · Deepfake", before the picker is drawn (for a heading that names them)."""
    label = st.session_state.get("model.weights", DEFAULT_WEIGHTS)
    return CATALOG[label].title if label in CATALOG else f"your file {plain(label)}"


def _weights_card(choice: ModelChoice) -> None:
    """What the chosen weights were trained on and what they get wrong; the model card when there is one."""
    if choice.weights_file is not None:
        st.caption("Your own file: MesoNet Studio knows nothing of its training data or its failures.")
        return
    entry = CATALOG[choice.model]
    st.caption(f"**Trained on** {entry.trained_on}.  \n**Known failures:** {entry.known_failures or 'none recorded.'}")
    card = model_card(entry.name)
    if card is not None:
        with st.popover("Model card", icon=":material/description:"):
            st.markdown(card)


def _same_manipulation(previous: str | None, options: list[ModelChoice]) -> str:
    """The catalog option trained on the same manipulation as `previous`, else the first option."""
    manipulation = CATALOG[previous].manipulation if previous in CATALOG else None
    return next(
        (c.label for c in options if c.weights_file is None and CATALOG[c.model].manipulation == manipulation),
        options[0].label,
    )


def _weights_label(label: str) -> str:
    entry = next((e for e in list_weights() if e.name == label), None)
    return entry.short_label if entry is not None else f"Custom: {plain(label)}"


def classifier_for(choice: ModelChoice):
    """The loaded classifier for a picker choice (raises WeightsError for weights that cannot load)."""
    if choice.weights_file is not None and not Path(choice.weights_file).is_file():
        hours = config.custom_weights_max_age_s() / 3600
        raise WeightsError(
            f"{Path(choice.weights_file).name} is no longer on the server (uploaded weights are kept for "
            f"{hours:g} h at most). Upload it again on the Weights page."
        )
    return cached_classifier(choice.model, choice.weights_file)


def ensemble_for(name: str):
    """A named ensemble of the catalog (`mesonet.models.weights.ENSEMBLES`), built from the server's cached members."""
    from mesonet.models.ensemble import Ensemble
    from mesonet.models.weights import ENSEMBLES

    return Ensemble([cached_classifier(member) for member in ENSEMBLES[name]], name=name)


def custom_weights_dir() -> Path:
    """The folder holding every upload's private folder (readable by the server's user only)."""
    folder = Path(tempfile.gettempdir()) / "mesonet-custom-weights"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder
