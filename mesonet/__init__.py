"""MesoNet Studio's detection core: Meso4 and MesoInception4 face-forgery detection.

Label convention: the networks output P(real). Results carry that raw output as
`score_real` and P(fake) = 1 - score_real as `p_fake`.

Public names are imported on first use, so `import mesonet` stays instant and loads
neither TensorFlow nor any model.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "MesonetError": "mesonet.errors",
    "WeightsError": "mesonet.errors",
    "MediaError": "mesonet.errors",
    "NoFaceError": "mesonet.errors",
    "CancelledError": "mesonet.errors",
    "Variant": "mesonet.models",
    "build_model": "mesonet.models",
    "WeightsEntry": "mesonet.weights",
    "list_weights": "mesonet.weights",
    "get_weights": "mesonet.weights",
    "weights_path": "mesonet.weights",
    "Classifier": "mesonet.scoring",
    "ImagePrediction": "mesonet.scoring",
    "load_classifier": "mesonet.scoring",
    "preprocess_faces": "mesonet.scoring",
    "predict_images": "mesonet.scoring",
    "FrameSampling": "mesonet.media",
    "VideoInfo": "mesonet.media",
    "load_image": "mesonet.media",
    "probe_video": "mesonet.media",
    "FaceCrop": "mesonet.faces",
    "extract_faces": "mesonet.faces",
    "Analysis": "mesonet.analysis",
    "Extraction": "mesonet.analysis",
    "Summary": "mesonet.analysis",
    "analyze_media": "mesonet.analysis",
    "extract_faces_from_media": "mesonet.analysis",
    "score_extraction": "mesonet.analysis",
    "summarize": "mesonet.analysis",
    "DatasetError": "mesonet.datasets",
    "scan_dataset": "mesonet.datasets",
    "evaluate_dataset": "mesonet.evaluate",
    "TrainConfig": "mesonet.training",
    "train": "mesonet.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mesonet' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
