"""MesoNet Studio's UI helpers, one concern per module; the pages in pages/ import them.

- `navigation`: the menu, and the fresh-server workaround (`ensure_router`).
- `models`: the sidebar's classifier picker, custom weight files, the server-wide model cache.
- `inputs`: media, extraction settings, threshold, labelled datasets.
- `caches`: face extractions shared by every session, and the server's worker processes.
- `results`: verdict card, charts, frame view, gallery, downloads.
- `errors`: the one way a page shows a user's problem.
- `text`: explanations several pages show.

Every page starts with `choice = studio.page_setup()`.
"""

from __future__ import annotations

from studio.caches import get_extraction, worker_pool
from studio.errors import show_error, shown_errors
from studio.inputs import (
    IMAGE_TYPES,
    DatasetChoice,
    dataset_input,
    extraction_settings,
    media_input,
    server_datasets,
    sha256_bytes,
    threshold_slider,
)
from studio.models import (
    CUSTOM_KEY,
    ModelChoice,
    add_custom_weights,
    cached_classifier,
    classifier_for,
    custom_weights_dir,
    model_choices,
    weights_picker,
)
from studio.navigation import ensure_router, menu
from studio.text import LABEL_NOTE, WEIGHTS_NOTE

__all__ = [
    "CUSTOM_KEY",
    "IMAGE_TYPES",
    "LABEL_NOTE",
    "WEIGHTS_NOTE",
    "DatasetChoice",
    "ModelChoice",
    "add_custom_weights",
    "cached_classifier",
    "classifier_for",
    "custom_weights_dir",
    "dataset_input",
    "extraction_settings",
    "get_extraction",
    "media_input",
    "menu",
    "model_choices",
    "page_setup",
    "server_datasets",
    "sha256_bytes",
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
            changes the choices (the Weights page) passes False and calls `weights_picker()` last.

    Returns:
        The sidebar's choice, or None when `model_picker` is False.
    """
    ensure_router()
    return weights_picker() if model_picker else None
