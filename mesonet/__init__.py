"""MesoNet Studio's detection core: Meso4 and MesoInception4 face-forgery detection.

Label convention: the networks output P(real). Results carry that raw output as
`score_real` and P(fake) = 1 - score_real as `p_fake`.

The names below are the public API. They are imported on first use, so `import mesonet`
stays instant and loads neither TensorFlow nor any model; the `TYPE_CHECKING` block shows
them to editors and type checkers. Everything else is reachable in its module
(`mesonet.weights`, `mesonet.video`, `mesonet.errors`, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mesonet.analysis import Analysis, analyze_media, extract_faces_from_media, score_extraction
    from mesonet.errors import MesonetError
    from mesonet.evaluate import evaluate_dataset
    from mesonet.faces import extract_faces
    from mesonet.media import load_image
    from mesonet.scoring import Classifier, load_classifier
    from mesonet.training import TrainConfig, train
    from mesonet.verdict import verdict_for
    from mesonet.video import FrameSampling
    from mesonet.weights import WeightsEntry, list_weights

_EXPORTS = {
    "MesonetError": "mesonet.errors",
    "WeightsEntry": "mesonet.weights",
    "list_weights": "mesonet.weights",
    "Classifier": "mesonet.scoring",
    "load_classifier": "mesonet.scoring",
    "load_image": "mesonet.media",
    "FrameSampling": "mesonet.video",
    "extract_faces": "mesonet.faces",
    "Analysis": "mesonet.analysis",
    "analyze_media": "mesonet.analysis",
    "extract_faces_from_media": "mesonet.analysis",
    "score_extraction": "mesonet.analysis",
    "verdict_for": "mesonet.verdict",
    "evaluate_dataset": "mesonet.evaluate",
    "TrainConfig": "mesonet.training",
    "train": "mesonet.training",
}

__all__ = [
    "Analysis",
    "Classifier",
    "FrameSampling",
    "MesonetError",
    "TrainConfig",
    "WeightsEntry",
    "analyze_media",
    "evaluate_dataset",
    "extract_faces",
    "extract_faces_from_media",
    "list_weights",
    "load_classifier",
    "load_image",
    "score_extraction",
    "train",
    "verdict_for",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mesonet' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
