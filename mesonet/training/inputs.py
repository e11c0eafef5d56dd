"""The training input pipeline: faces decoded once into a uint8 array, cheap augmentation per step.

A Meso4 step on 64 faces takes about half a second on two cores; decoding, resizing and
re-compressing every face at every step (as a tf.data pipeline from files did) cost more than
the step itself. So every face is decoded once (`FaceArrays`: uint8, 256 x 256, about 0.2 MB a
face), anything expensive is done once ahead of training (compressed copies: the Studio data
cuts its faces from whole-video re-encodes, and `robust` adds one JPEG copy of each face), and a
step only draws indices and applies what costs a few milliseconds a batch:

- horizontal flip (half the faces);
- a shift of up to `SHIFT` of the side, the uncovered border filled by reflection;
- brightness (a gain of 0.8-1.2, like Keras' brightness_range) and a small colour cast per channel
  (+-5%, standing in for the paper's hue change).

A background thread prepares the next batches while the network trains on the current one.

Balanced sampling draws every source equally, within a source the real and forged classes
equally, and within the forged class every manipulation equally. A face's stratum is (source,
label, method): for a class-folder dataset the source is the first sub-folder of its class
folder (e.g. `deepfakes/ffpp/x.jpg` is from "ffpp"), so one dataset can mix differently framed or
compressed collections without the network learning "this framing means fake".
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mesonet.data.datasets import LABEL_FORGED, LABEL_REAL, LabeledFile, load_face_crop
from mesonet.errors import MesonetError
from mesonet.faces.align import INPUT_SIZE
from mesonet.media.images import fits_pixel_budget
from mesonet.models.scoring import preprocess_faces
from mesonet.verdict import called_fake, p_fake_of

SHIFT = 0.06  # largest shift, as a share of the side (about 15 px)
BRIGHTNESS = (0.8, 1.2)
COLOUR_CAST = 0.05
ROBUST_JPEG_QUALITY = (20, 60)  # the JPEG copy `robust` adds of every face

Stratum = tuple[str, int, str]  # (source, label, method)


@dataclass
class FaceArrays:
    """Labelled faces in memory.

    Attributes:
        faces: uint8 RGB array (N, 256, 256, 3).
        labels: uint8 array (N,): 1 real, 0 forged (the networks' convention).
        strata: int array (N,): index into `stratum_names` of each face's (source, label, method).
        stratum_names: the strata.
    """

    faces: np.ndarray
    labels: np.ndarray
    strata: np.ndarray
    stratum_names: list[Stratum]

    def __len__(self) -> int:
        return len(self.faces)

    @classmethod
    def from_arrays(cls, faces: np.ndarray, label: int, source: str, method: str) -> FaceArrays:
        """One stratum's faces (uint8, N x 256 x 256 x 3)."""
        n = len(faces)
        return cls(faces, np.full(n, label, np.uint8), np.zeros(n, np.int32), [(source, label, method)])

    @classmethod
    def from_files(cls, files: Sequence[LabeledFile], *, robust: bool = False, seed: int = 0) -> FaceArrays:
        """Decodes every image file once (nearest resize to 256, as at scoring).

        Files over the pixel budget (`mesonet.config.max_pixels`) or that cannot be read are left
        out with a warning. With `robust`, each face also gets a JPEG copy at a random quality in
        ROBUST_JPEG_QUALITY (compressed web video), made here once.
        """
        kept, faces, skipped = [], [], []
        for file in files:
            try:
                if not fits_pixel_budget(file.path):
                    raise MesonetError(f"{file.path.name}: over the pixel budget")
                faces.append(load_face_crop(file.path))
                kept.append(file)
            except MesonetError as exc:
                skipped.append(str(exc))
        if skipped:
            logging.getLogger(__name__).warning("%d file(s) left out, e.g. %s", len(skipped), skipped[0])
        names = sorted({(source_of(f), f.label, f.class_folder.lower()) for f in kept})
        index = {name: i for i, name in enumerate(names)}
        arrays = cls(
            np.stack(faces) if faces else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8),
            np.array([f.label for f in kept], np.uint8),
            np.array([index[(source_of(f), f.label, f.class_folder.lower())] for f in kept], np.int32),
            names,
        )
        return arrays.with_jpeg_copies(seed=seed) if robust else arrays

    @classmethod
    def concat(cls, parts: Sequence[FaceArrays]) -> FaceArrays:
        """One set of every part's faces; strata with the same name are merged."""
        names = sorted({name for part in parts for name in part.stratum_names})
        index = {name: i for i, name in enumerate(names)}
        strata = [np.array([index[part.stratum_names[s]] for s in part.strata], np.int32) for part in parts]
        return cls(
            np.concatenate([part.faces for part in parts]),
            np.concatenate([part.labels for part in parts]),
            np.concatenate(strata) if strata else np.zeros(0, np.int32),
            names,
        )

    def with_jpeg_copies(self, *, seed: int = 0) -> FaceArrays:
        """These faces plus one JPEG-compressed copy of each (same labels and strata)."""
        rng = np.random.default_rng(seed)
        copies = np.empty_like(self.faces)
        for i, face in enumerate(self.faces):
            buffer = io.BytesIO()
            Image.fromarray(face).save(buffer, format="JPEG", quality=int(rng.integers(*ROBUST_JPEG_QUALITY)))
            copies[i] = np.asarray(Image.open(buffer).convert("RGB"))
        return FaceArrays(
            np.concatenate([self.faces, copies]),
            np.concatenate([self.labels, self.labels]),
            np.concatenate([self.strata, self.strata]),
            self.stratum_names,
        )

    def summary(self) -> dict[str, int]:
        """Faces per stratum, as "source/label/method" -> count."""
        counts = np.bincount(self.strata, minlength=len(self.stratum_names))
        return {
            f"{s}/{'real' if label else 'forged'}/{m}": int(n) for (s, label, m), n in zip(self.stratum_names, counts)
        }


def source_of(file: LabeledFile) -> str:
    """The collection a file comes from: the first sub-folder of its class folder ("" if none)."""
    parts = file.path.parts
    try:
        index = len(parts) - 1 - parts[::-1].index(file.class_folder)
    except ValueError:
        return ""
    return parts[index + 1] if index + 2 < len(parts) else ""


def stratum_weights(stratum_names: Sequence[Stratum]) -> np.ndarray:
    """Sampling weight of each stratum: sources equal, then classes within a source, then methods."""
    sources: dict[str, dict[int, set[str]]] = {}
    for source, label, method in stratum_names:
        sources.setdefault(source, {}).setdefault(label, set()).add(method)
    return np.array(
        [
            1.0 / len(sources) / len(sources[source]) / len(sources[source][label])
            for source, label, method in stratum_names
        ]
    )


def augment(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip, shift, brightness and colour cast of a uint8 batch (B, H, W, 3); float32 in [0, 1] out."""
    n, height, width, _ = faces.shape
    flip = rng.random(n) < 0.5
    faces = np.where(flip[:, None, None, None], faces[:, :, ::-1], faces)
    pad = int(round(SHIFT * height))
    padded = np.pad(faces, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
    shifted = np.stack([padded[i, dy[i] : dy[i] + height, dx[i] : dx[i] + width] for i in range(n)])
    batch = preprocess_faces(shifted)
    gain = rng.uniform(*BRIGHTNESS, size=(n, 1, 1, 1)) * rng.uniform(
        1 - COLOUR_CAST, 1 + COLOUR_CAST, size=(n, 1, 1, 3)
    )
    np.multiply(batch, gain.astype(np.float32), out=batch)
    return np.clip(batch, 0.0, 1.0, out=batch)


def training_batches(
    arrays: FaceArrays, *, batch_size: int, augmented: bool = True, balance: bool = False, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless (faces float32 (B, 256, 256, 3) in [0, 1], labels float32 (B, 1)) batches, drawn at random.

    With `balance`, strata are drawn by `stratum_weights`, else every face equally. Batches are
    made by a background thread, two ahead, so that they are ready when the network wants them.
    """
    if len(arrays) == 0:
        raise MesonetError("There are no training faces.")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(arrays.strata == s) for s in range(len(arrays.stratum_names))]
    present = [s for s, m in enumerate(members) if len(m)]
    weights = stratum_weights([arrays.stratum_names[s] for s in present])
    weights = weights / weights.sum()

    def draw() -> np.ndarray:
        if not balance:
            return rng.integers(0, len(arrays), batch_size)
        chosen = rng.choice(len(present), size=batch_size, p=weights)
        return np.array([members[present[s]][rng.integers(len(members[present[s]]))] for s in chosen])

    def make() -> tuple[np.ndarray, np.ndarray]:
        index = np.sort(draw())  # in order: faster reads from a large array
        faces = arrays.faces[index]
        batch = augment(faces, rng) if augmented else preprocess_faces(faces)
        return batch, arrays.labels[index].astype(np.float32)[:, None]

    ready: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            item = make()
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue

    thread = threading.Thread(target=produce, name="training-batches", daemon=True)
    thread.start()
    try:
        while True:
            yield ready.get()
    finally:
        stop.set()


def validation_batches(arrays: FaceArrays, *, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One ordered pass over the faces, unaugmented, as (faces float32, labels float32 (B, 1)) batches."""
    for start in range(0, len(arrays), batch_size):
        stop = start + batch_size
        yield preprocess_faces(arrays.faces[start:stop]), arrays.labels[start:stop].astype(np.float32)[:, None]


def dataset_metrics(model, arrays: FaceArrays, *, batch_size: int = 64) -> dict:
    """Frame accuracy of a model on labelled faces (e.g. a validation split before fine-tuning).

    Returns:
        {"accuracy", "accuracy_forged", "accuracy_real", "n"}: a face counts as real when it is not
        called fake at 0.5.
    """
    correct = {LABEL_FORGED: 0, LABEL_REAL: 0}
    total = {LABEL_FORGED: 0, LABEL_REAL: 0}
    for faces, labels in validation_batches(arrays, batch_size=batch_size):
        predicted_real = ~called_fake(p_fake_of(np.asarray(model(faces, training=False)).reshape(-1)))
        truth = labels.reshape(-1)
        for label in (LABEL_FORGED, LABEL_REAL):
            in_class = truth == label
            total[label] += int(in_class.sum())
            correct[label] += int((predicted_real[in_class] == bool(label)).sum())
    n = total[LABEL_FORGED] + total[LABEL_REAL]
    return {
        "accuracy": (correct[LABEL_FORGED] + correct[LABEL_REAL]) / max(n, 1),
        "accuracy_forged": correct[LABEL_FORGED] / max(total[LABEL_FORGED], 1),
        "accuracy_real": correct[LABEL_REAL] / max(total[LABEL_REAL], 1),
        "n": n,
    }
