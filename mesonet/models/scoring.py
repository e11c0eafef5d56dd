"""Scoring face crops with a loaded classifier.

Label convention: the released networks output P(real), the probability that a face is
real (class 1 = real, 0 = forged). Everything here reports that raw output as `score_real`
and P(fake) = 1 - score_real beside it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mesonet import config
from mesonet.errors import WeightsError
from mesonet.faces.align import INPUT_SIZE
from mesonet.models.networks import ARCHITECTURES, check_architecture
from mesonet.verdict import DEFAULT_THRESHOLD, p_fake_of, verdict_for

DEFAULT_BATCH_SIZE = 32
RESIZE_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "area": Image.BOX}


def preprocess_faces(faces: np.ndarray | Sequence[np.ndarray], *, resize: str = "nearest") -> np.ndarray:
    """Turns face crops into the network's input.

    Args:
        faces: uint8 RGB crops, each of shape (H, W, 3), any size; or one array (N, H, W, 3).
        resize: how crops that are not 256x256 are resized: "nearest" (as the authors'
            training images were, Keras' load_img default), "bilinear" or "area".

    Returns:
        float32 array of shape (N, 256, 256, 3) scaled to [0, 1].
    """
    if resize not in RESIZE_FILTERS:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_FILTERS)}, got {resize!r}.")
    batch = np.empty((len(faces), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
    for i, face in enumerate(faces):
        face = np.asarray(face)
        if face.ndim != 3 or face.shape[2] != 3 or face.dtype != np.uint8:
            raise ValueError(f"face {i}: expected a uint8 RGB array (H, W, 3), got {face.dtype} {face.shape}.")
        if face.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
            face = np.asarray(Image.fromarray(face).resize((INPUT_SIZE, INPUT_SIZE), RESIZE_FILTERS[resize]))
        # Dividing by 255 matters: unscaled input makes every model answer "real".
        np.divide(face, 255.0, out=batch[i], dtype=np.float32)
    return batch


def score_in_batches(
    score_batch: Callable[[np.ndarray], np.ndarray],
    faces: np.ndarray | Sequence[np.ndarray],
    *,
    resize: str = "nearest",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """P(real) for uint8 RGB face crops of any size, preprocessed and scored `batch_size` at a time.

    Args:
        score_batch: P(real) of a preprocessed float32 batch (B, 256, 256, 3), shape (B,).
        faces: uint8 RGB crops, each (H, W, 3).

    Returns:
        float32 array of shape (N,).
    """
    scores = [
        score_batch(preprocess_faces(faces[start : start + batch_size], resize=resize))
        for start in range(0, len(faces), batch_size)
    ]
    return np.concatenate(scores) if scores else np.empty(0, dtype=np.float32)


class Classifier:
    """A Meso network with its weights and a fast scoring path.

    `keras.Model.predict` costs 40-60 ms per call here, so scoring goes through one
    `tf.function` traced once for any batch size.

    Attributes:
        name: what users see, e.g. "meso4-df" or "meso4 (my_weights.h5)".
        arch: "meso4" or "mesoinception4".
        weights_path: the file the weights came from.
        threshold: the P(fake) threshold these weights ship with (0.5 unless their catalog entry
            or their metadata says otherwise).
        model: the Keras model; shared between callers, so never modify it.
    """

    def __init__(
        self, model, *, name: str, arch: str, weights_path: Path, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        import tensorflow as tf  # already imported, quietly, to build `model`

        self.model = model
        self.name = name
        self.arch = arch
        self.weights_path = Path(weights_path)
        self.threshold = threshold
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32)],
            reduce_retracing=True,
        )

    def score_batch(self, batch: np.ndarray) -> np.ndarray:
        """P(real) for a preprocessed float32 batch (N, 256, 256, 3); returns shape (N,)."""
        if len(batch) == 0:
            return np.empty(0, dtype=np.float32)
        return self._forward(batch).numpy().reshape(-1)

    def score_real(
        self, faces: np.ndarray | Sequence[np.ndarray], *, resize: str = "nearest", batch_size: int = DEFAULT_BATCH_SIZE
    ) -> np.ndarray:
        """P(real) for uint8 RGB face crops of any size; returns float32 of shape (N,)."""
        return score_in_batches(self.score_batch, faces, resize=resize, batch_size=batch_size)

    def __repr__(self) -> str:
        return f"Classifier({self.name!r}, arch={self.arch!r}, weights={str(self.weights_path)!r})"


# Least recently used last out; bounded, since every user's own weight file is a new entry.
classifier_cache: OrderedDict[tuple, Classifier] = OrderedDict()
_cache_lock = threading.Lock()


def describe_classifier(model: str, *, weights_file: str | Path | None = None) -> tuple[str, str, float]:
    """What `load_classifier(model, weights_file=...)` would load, without loading or downloading it.

    Returns:
        (architecture, name, threshold).

    Raises:
        WeightsError: unknown name, an architecture without weights, or a weight file that does not exist.
    """
    from mesonet.models.weights import CATALOG, get_weights, metadata_threshold, read_metadata

    key_name = model.strip().lower()
    if weights_file is not None:
        arch = CATALOG[key_name].arch if key_name in CATALOG else _arch_or_error(model)
        path = Path(weights_file)
        if not path.is_file():
            raise WeightsError(f"Weight file {path} does not exist. Give the path of a weight file.")
        return arch, f"{arch} ({path.name})", metadata_threshold(read_metadata(path))
    if key_name in ARCHITECTURES:
        choices = ", ".join(n for n, e in CATALOG.items() if e.arch == key_name)
        raise WeightsError(f"{model} needs weights: pick {choices}, or give a weight file.")
    entry = get_weights(key_name)
    return entry.arch, entry.name, entry.threshold


def load_classifier(model: str, *, weights_file: str | Path | None = None, download: bool = True) -> Classifier:
    """Loads a classifier once per (architecture, weights) in this process (at most
    `config.MODEL_CACHE_ENTRIES` kept, the least recently used dropped first).

    Args:
        model: a catalog name ("meso4-df", "meso4-f2f", "mesoinception4-df",
            "mesoinception4-f2f"), or an architecture ("meso4", "mesoinception4") together with
            `weights_file`.
        weights_file: a custom weight file; overrides the catalog file. The architecture is
            taken from `model`.
        download: fetch catalog weights that are not on disk.

    Raises:
        WeightsError: unknown name, weights missing offline, corrupted or mismatched file.
    """
    from mesonet.downloads import sha256_of
    from mesonet.models.weights import check_in_child, load_model_with_weights, weights_path

    arch, name, threshold = describe_classifier(model, weights_file=weights_file)
    path = Path(weights_file) if weights_file is not None else weights_path(name, download=download)
    if weights_file is not None:
        check_in_child(arch, path)  # a user's file: loaded in a child with a memory cap first
    key = (arch, name, sha256_of(path))
    with _cache_lock:
        if key not in classifier_cache:
            model = load_model_with_weights(arch, path)
            classifier_cache[key] = Classifier(model, name=name, arch=arch, weights_path=path, threshold=threshold)
        classifier_cache.move_to_end(key)
        classifier = classifier_cache[key]
        while len(classifier_cache) > config.MODEL_CACHE_ENTRIES:
            classifier_cache.popitem(last=False)
        return classifier


def _arch_or_error(model: str) -> str:
    try:
        return check_architecture(model)
    except ValueError as exc:
        raise WeightsError(f"{exc} With a weight file, name the architecture it was saved from.") from None


@dataclass(frozen=True)
class ImagePrediction:
    """The score of one face-crop image.

    Attributes:
        path: the image file.
        model: the classifier's name.
        score_real: raw network output, P(real) in [0, 1].
        p_fake: 1 - score_real.
        label: "fake" or "real" at the threshold used.
    """

    path: str
    model: str
    score_real: float
    p_fake: float
    label: str

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "model": self.model,
            "score_real": self.score_real,
            "p_fake": self.p_fake,
            "label": self.label,
        }


def predict_images(
    paths: Sequence[str | Path],
    classifier: Classifier,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    resize: str = "nearest",
) -> list[ImagePrediction | Exception]:
    """Scores image files that are already face crops (like the authors' dataset).

    Returns one entry per path, in order: an ImagePrediction, or the MesonetError that made
    that file unreadable (the other files are still scored).
    """
    from mesonet.errors import MesonetError
    from mesonet.media.images import load_image

    faces: list[np.ndarray] = []
    results: list[ImagePrediction | Exception | None] = []
    for path in paths:
        try:
            faces.append(load_image(path))
            results.append(None)
        except MesonetError as exc:
            results.append(exc)
    scores = iter(classifier.score_real(faces, resize=resize))
    out: list[ImagePrediction | Exception] = []
    for path, result in zip(paths, results):
        if result is None:
            score = float(next(scores))
            p_fake = p_fake_of(score)
            result = ImagePrediction(str(path), classifier.name, score, p_fake, verdict_for(p_fake, threshold))
        out.append(result)
    return out
