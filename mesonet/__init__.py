"""MesoNet Studio's detection core: Meso4 and MesoInception4 face-forgery detection.

Label convention: the networks output P(real). Results carry that raw output as
`score_real` and P(fake) = 1 - score_real as `p_fake`.

The names below are the public API. They are imported on first use, so `import mesonet`
stays instant and loads neither TensorFlow nor any model; the `TYPE_CHECKING` block shows
them to editors and type checkers. Everything else is reachable in its module
(`mesonet.models.weights`, `mesonet.media.video`, `mesonet.errors`, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mesonet.analysis.pipeline import analyze_media, extract_faces_from_media, score_extraction
    from mesonet.analysis.results import Analysis
    from mesonet.errors import MesonetError
    from mesonet.evaluation.evaluator import evaluate_dataset
    from mesonet.faces.detect import extract_faces
    from mesonet.media.images import load_image
    from mesonet.media.video import FrameSampling
    from mesonet.models.scoring import Classifier, load_classifier
    from mesonet.models.weights import WeightsEntry, list_weights
    from mesonet.training.config import TrainConfig
    from mesonet.training.train import train
    from mesonet.verdict import verdict_for

_EXPORTS = {
    "MesonetError": "mesonet.errors",
    "WeightsEntry": "mesonet.models.weights",
    "list_weights": "mesonet.models.weights",
    "Classifier": "mesonet.models.scoring",
    "load_classifier": "mesonet.models.scoring",
    "load_image": "mesonet.media.images",
    "FrameSampling": "mesonet.media.video",
    "extract_faces": "mesonet.faces.detect",
    "Analysis": "mesonet.analysis.results",
    "analyze_media": "mesonet.analysis.pipeline",
    "extract_faces_from_media": "mesonet.analysis.pipeline",
    "score_extraction": "mesonet.analysis.pipeline",
    "verdict_for": "mesonet.verdict",
    "evaluate_dataset": "mesonet.evaluation.evaluator",
    "TrainConfig": "mesonet.training.config",
    "train": "mesonet.training.train",
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
