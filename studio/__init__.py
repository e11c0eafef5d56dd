"""MesoNet Studio's UI helpers, one concern per module; the pages in pages/ import them.

- `navigation`: the menu, and the fresh-server workaround (`ensure_router`).
- `models`: the sidebar's classifier picker, custom weight files, the server-wide model cache.
- `inputs`: media, extraction settings, threshold, labelled datasets.
- `caches`: face extractions shared by every session, and the server's worker processes.
- `session`: what a session keeps across pages (the file last analysed and its faces).
- `results`: verdict card, charts, frame view, gallery, downloads.
- `annotated_video`: the Analyse page's annotated video, made on request and downloaded.
- `live`: the Live page's camera processor, video overlay and rolling chart (imported by that page
  only: it loads streamlit-webrtc).
- `errors`: the one way a page shows a user's problem.
- `text`: explanations several pages show.
- `tensorflow_guard`: stops Streamlit from resetting Keras after each run (it crashed the server).

Every page starts with `choice = studio.page_setup()`.
"""

from __future__ import annotations

from studio.error_display import show_error, shown_errors
from studio.extractions import get_extraction
from studio.inputs import (
    FROM_ANALYSE,
    IMAGE_TYPES,
    DatasetChoice,
    dataset_input,
    extraction_settings,
    media_input,
    sample_faces,
    server_datasets,
    sha256_bytes,
    threshold_slider,
)
from studio.navigation import app_icon, app_pages, ensure_router, menu
from studio.picker import (
    CUSTOM_KEY,
    ModelChoice,
    add_custom_weights,
    classifier_for,
    custom_weights_dir,
    ensemble_for,
    expired_weights_sweeper,
    kept_weights_label,
    model_choices,
    store_custom_weights,
    weights_picker,
)
from studio.server import cached_classifier, swept_temp_folders, worker_pool
from studio.session import Analysed, extraction_for, forget_analysed, last_analysed, remember_analysed
from studio.tensorflow_guard import keep_keras_state
from studio.text import LABEL_NOTE, WEIGHTS_NOTE, plain

__all__ = [
    "CUSTOM_KEY",
    "FROM_ANALYSE",
    "Analysed",
    "IMAGE_TYPES",
    "LABEL_NOTE",
    "WEIGHTS_NOTE",
    "DatasetChoice",
    "ModelChoice",
    "add_custom_weights",
    "app_icon",
    "app_pages",
    "cached_classifier",
    "classifier_for",
    "custom_weights_dir",
    "dataset_input",
    "ensemble_for",
    "expired_weights_sweeper",
    "extraction_for",
    "extraction_settings",
    "forget_analysed",
    "get_extraction",
    "kept_weights_label",
    "last_analysed",
    "media_input",
    "menu",
    "model_choices",
    "page_setup",
    "plain",
    "remember_analysed",
    "sample_faces",
    "server_datasets",
    "sha256_bytes",
    "store_custom_weights",
    "swept_temp_folders",
    "show_error",
    "shown_errors",
    "threshold_slider",
    "weights_picker",
    "worker_pool",
]


def page_setup(*, model_picker: bool = True) -> ModelChoice | None:
    """What every page does first: make sure the app's navigation is in charge, then draw the picker.

    Args:
        model_picker: draw the sidebar's classifier picker now and return its choice. A page that
            changes the choices (the Weights page) passes False and calls `weights_picker()` last;
            a page that uses every model (Compare) passes False and draws no picker. The picker's
            choice is kept while it is not drawn.

    Returns:
        The sidebar's choice, or None when `model_picker` is False.
    """
    ensure_router()
    keep_keras_state()
    return weights_picker() if model_picker else None
