"""Labelled datasets laid out as one folder per class, and streaming batches of their faces.

Layout (the authors' dataset uses `df/` and `real/`)::

    DIR/
        df/ | fake/ | f2f/ | deepfake/ | forged/    forged faces (label 0); several may coexist
        real/                                      real faces (label 1)

Folder names are matched case-insensitively; files may sit in sub-folders of a class folder
(e.g. one sub-folder per video). Images and videos are recognised by their extension; other
files (notes, `.DS_Store`) are ignored. A DIR that holds a single folder which itself has
the class folders (a ZIP extracted with its top folder) is accepted too.

Labels follow the networks: 1 = real, 0 = forged, so a label equals the ideal `score_real`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from mesonet.errors import DatasetError, MesonetError, NoFaceError
from mesonet.faces.align import INPUT_SIZE
from mesonet.faces.detect import DEFAULT_DETECTOR
from mesonet.media.images import IMAGE_EXTENSIONS, load_image
from mesonet.media.video import VIDEO_EXTENSIONS

# Class folder names as people and datasets spell them (compared in lower case): FaceForensics++ names its
# manipulations deepfakes, face2face, faceswap and neuraltextures, and its two halves manipulated_sequences
# (with a folder per method inside) and original_sequences.
FORGED_FOLDERS = (
    "df",
    "fake",
    "fakes",
    "f2f",
    "deepfake",
    "forged",
    "manipulated",
    "deepfakes",
    "face2face",
    "faceswap",
    "neuraltextures",
    "manipulated_sequences",
)
REAL_FOLDERS = ("real", "reals", "original", "original_sequences")
LABEL_REAL, LABEL_FORGED = 1, 0
CLASS_NAMES = {LABEL_FORGED: "forged", LABEL_REAL: "real"}
# Folders that archivers and notebooks leave behind; never a class.
_IGNORED_FOLDERS = ("__macosx", ".ipynb_checkpoints")
LAYOUT_HELP = (
    f"put forged faces in a folder named {' / '.join(FORGED_FOLDERS)} and real faces in a folder "
    f"named {' / '.join(REAL_FOLDERS)} (upper or lower case)"
)


@dataclass(frozen=True)
class LabeledFile:
    """One file of a dataset.

    Attributes:
        path: the file.
        label: 1 for real, 0 for forged (the network's convention: ideal score_real).
        class_folder: the class folder it was found in, as spelled on disk (e.g. "df").
        kind: "image" or "video", from the extension.
    """

    path: Path
    label: int
    class_folder: str
    kind: Literal["image", "video"]

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.label]


@dataclass
class Dataset:
    """The files of a class-folder dataset, sorted by class folder then path.

    Attributes:
        root: the folder holding the class folders.
        files: every image and video found.
        ignored: files skipped because their extension is neither an image's nor a video's.
    """

    root: Path
    files: list[LabeledFile]
    ignored: list[Path] = field(default_factory=list)

    @property
    def n_forged(self) -> int:
        return sum(f.label == LABEL_FORGED for f in self.files)

    @property
    def n_real(self) -> int:
        return sum(f.label == LABEL_REAL for f in self.files)

    def images(self) -> list[LabeledFile]:
        return [f for f in self.files if f.kind == "image"]

    def videos(self) -> list[LabeledFile]:
        return [f for f in self.files if f.kind == "video"]

    def summary(self) -> dict:
        """A JSON-ready description (saved in training metadata and evaluation reports)."""
        folders: dict[str, int] = {}
        for f in self.files:
            folders[f.class_folder] = folders.get(f.class_folder, 0) + 1
        return {
            "root": str(self.root),
            "n_forged": self.n_forged,
            "n_real": self.n_real,
            "n_images": len(self.images()),
            "n_videos": len(self.videos()),
            "folders": folders,
        }


def class_of_folder(name: str) -> int | None:
    """The label of a class folder name (1 real, 0 forged), or None when it is not a class folder."""
    key = name.strip().lower()
    if key in REAL_FOLDERS:
        return LABEL_REAL
    if key in FORGED_FOLDERS:
        return LABEL_FORGED
    return None


def scan_dataset(root: str | Path, *, allow_videos: bool = True) -> Dataset:
    """Lists the labelled files of a class-folder dataset.

    Args:
        root: the dataset folder (see the module docstring for the layout).
        allow_videos: accept video files in the class folders; else they count as an error.

    Raises:
        DatasetError: DIR is missing or not a folder; it holds an unknown folder beside the
            class folders, media files outside them, or lacks the forged or the real class;
            a class folder holds no image or video.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist or is not a folder: {LAYOUT_HELP}.")
    root = _unwrap_single_folder(root)
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and not _is_hidden_or_junk(p)]
    unknown = [p.name for p in folders if class_of_folder(p.name) is None]
    if unknown:
        raise DatasetError(
            f"{root}: folder(s) {', '.join(unknown)} are not a known class, so their label is ambiguous. "
            f"Expected only class folders: {', '.join(FORGED_FOLDERS)} (forged) and {', '.join(REAL_FOLDERS)} (real); "
            "rename or move the others."
        )
    loose = [p.name for p in root.iterdir() if p.is_file() and _media_kind(p) is not None]
    if loose:
        raise DatasetError(
            f"{root}: {len(loose)} image/video file(s) (e.g. {loose[0]}) sit outside the class "
            f"folders, so they have no label: {LAYOUT_HELP}."
        )
    labels = {class_of_folder(p.name) for p in folders}
    missing = [CLASS_NAMES[label] for label in (LABEL_FORGED, LABEL_REAL) if label not in labels]
    if missing:
        found = ", ".join(p.name for p in folders) or "no folder"
        raise DatasetError(f"{root}: no {' and no '.join(missing)} class folder (found {found}); {LAYOUT_HELP}.")

    files: list[LabeledFile] = []
    ignored: list[Path] = []
    for folder in folders:
        label = class_of_folder(folder.name)
        found = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not _is_hidden_or_junk(p, root)):
            kind = _media_kind(path)
            if kind is None:
                ignored.append(path)
                continue
            if kind == "video" and not allow_videos:
                raise DatasetError(f"{path}: videos are not accepted here; extract face crops as images first.")
            files.append(LabeledFile(path, label, folder.name, kind))
            found += 1
        if not found:
            raise DatasetError(f"Class folder {folder} holds no image or video. Add files or remove the folder.")
    return Dataset(root, files, ignored)


def media_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files to analyse: each file as given, and each folder's images and videos (searched
    recursively, sorted, hidden files and archivers' folders left out), in the order given.

    Raises:
        DatasetError: an empty path (Path("") would silently mean the current folder), or a folder
            with no image or video in it (e.g. a folder named clip.mp4).
    """
    files: list[Path] = []
    for given in paths:
        if not str(given):
            raise DatasetError("An empty path was given: name a file or a folder (. for the current folder).")
        path = Path(given)
        if not path.is_dir():
            files.append(path)
            continue
        found = (p for p in path.rglob("*") if p.is_file() and not _is_hidden_or_junk(p, path))
        in_folder = sorted(p for p in found if _media_kind(p) is not None)
        if not in_folder:
            raise DatasetError(f"{path}: no images or videos in this folder (it is a folder, not a file).")
        files += in_folder
    return files


def _unwrap_single_folder(root: Path) -> Path:
    """Descends into a lone wrapper folder (ZIP archives often keep their top folder)."""
    entries = [p for p in root.iterdir() if not _is_hidden_or_junk(p)]
    if len(entries) == 1 and entries[0].is_dir() and class_of_folder(entries[0].name) is None:
        inner = [p for p in entries[0].iterdir() if p.is_dir() and class_of_folder(p.name) is not None]
        if inner:
            return entries[0]
    return root


def _is_hidden_or_junk(path: Path, root: Path | None = None) -> bool:
    parts = path.relative_to(root).parts if root else (path.name,)
    return any(part.startswith(".") or part.lower() in _IGNORED_FOLDERS for part in parts)


def _media_kind(path: Path) -> Literal["image", "video"] | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def split_files(
    files: Sequence[LabeledFile], *, val_fraction: float, seed: int = 0
) -> tuple[list[LabeledFile], list[LabeledFile]]:
    """Splits files into training and validation sets, stratified by class and reproducible.

    Args:
        files: the files to split (e.g. `Dataset.files`).
        val_fraction: share of each class kept for validation, in [0, 1).
        seed: seed of the shuffle; the same files and seed give the same split.

    Returns:
        (train, val), each sorted by path.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    rng = random.Random(seed)
    train: list[LabeledFile] = []
    val: list[LabeledFile] = []
    for label in (LABEL_FORGED, LABEL_REAL):
        members = sorted((f for f in files if f.label == label), key=lambda f: str(f.path))
        rng.shuffle(members)
        n_val = round(len(members) * val_fraction)
        if val_fraction > 0 and len(members) > 1:
            n_val = min(max(n_val, 1), len(members) - 1)  # each class in both sets
        val += members[:n_val]
        train += members[n_val:]
    return sorted(train, key=lambda f: str(f.path)), sorted(val, key=lambda f: str(f.path))


# ---------------------------------------------------------------------------------------------
# Streaming batches of decoded faces

FaceLoader = Callable[[Path], np.ndarray]


def face_loader(
    faces: Literal["aligned", "detect"], *, resize: str = "nearest", detector: str = DEFAULT_DETECTOR, pool=None
) -> FaceLoader:
    """A FaceLoader for a dataset's images: the image as a face crop ("aligned"), or the aligned
    crop of its largest face ("detect"; in a `mesonet.analysis.workers.WorkerPool` when given).

    Raises (from the loader): MediaError for an unreadable image, NoFaceError when none is found.
    """
    if faces == "aligned":
        return lambda path: load_face_crop(path, resize=resize)

    def load(path: Path) -> np.ndarray:
        if pool is not None:
            found = pool.extract(path, detector=detector).frames[0].faces
        else:
            from mesonet.faces.detect import extract_faces

            found = extract_faces(load_image(path), model=detector)
        if not found:
            raise NoFaceError(f"{path.name}: no face found; skipped.")
        return found[0].crop

    return load


def load_face_crop(path: str | Path, *, resize: str = "nearest") -> np.ndarray:
    """Reads an image that is already a face crop and resizes it to the network's input size.

    The result equals `mesonet.models.scoring.preprocess_faces([load_image(path)]) * 255`, pixel for
    pixel, so scores match the single-image predict path.

    Returns:
        uint8 RGB array of shape (256, 256, 3).

    Raises:
        MediaError: the file cannot be read as an image.
    """
    from mesonet.models.scoring import RESIZE_FILTERS

    face = load_image(path)
    if face.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
        face = np.asarray(Image.fromarray(face).resize((INPUT_SIZE, INPUT_SIZE), RESIZE_FILTERS[resize]))
    return face


@dataclass
class FaceBatch:
    """Decoded faces of consecutive files.

    Attributes:
        indices: positions, in the input sequence, of the files that were read, shape (n,).
        faces: uint8 RGB array of shape (n, 256, 256, 3), in the order of `indices`.
        errors: (position, MesonetError) for each file that could not be read.
    """

    indices: np.ndarray
    faces: np.ndarray
    errors: list[tuple[int, MesonetError]]


def iter_face_batches(
    paths: Sequence[str | Path],
    *,
    batch_size: int = 32,
    workers: int = 2,
    loader: FaceLoader | None = None,
    prefetch: int | None = None,
) -> Iterator[FaceBatch]:
    """Decodes files in fixed-size batches on a thread pool, a few batches ahead of the consumer.

    Pillow releases the GIL while decoding JPEGs, so threads decode in parallel with each
    other and with the model. At most `prefetch` batches are decoded and not yet consumed,
    so memory does not grow with the number of files.

    Args:
        paths: the files, in order.
        batch_size: files per batch (the last batch may be smaller, and batches shrink by
            the files that could not be read).
        workers: decoding threads.
        loader: path -> uint8 RGB face of shape (256, 256, 3); raises MesonetError for a bad
            file. Default: `load_face_crop` (the image is the face).
        prefetch: batches decoded ahead (default: workers + 1).

    Yields:
        FaceBatch for each consecutive slice of `batch_size` paths.
    """
    if batch_size < 1 or workers < 1:
        raise ValueError(f"batch_size and workers must be at least 1, got {batch_size} and {workers}.")
    loader = loader or load_face_crop
    prefetch = prefetch or workers + 1
    starts = iter(range(0, len(paths), batch_size))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mesonet-decode") as pool:
        pending: list[Future[FaceBatch]] = []

        def submit_next() -> None:
            start = next(starts, None)
            if start is not None:
                pending.append(pool.submit(_decode_batch, paths, start, start + batch_size, loader))

        for _ in range(prefetch):
            submit_next()
        try:
            while pending:
                batch = pending.pop(0).result()
                submit_next()
                yield batch
        finally:
            for future in pending:  # the consumer stopped early: drop the work not started
                future.cancel()


def _decode_batch(paths: Sequence[str | Path], start: int, stop: int, loader: FaceLoader) -> FaceBatch:
    """Decodes paths[start:stop] into one array; a worker handles one whole batch."""
    stop = min(stop, len(paths))
    faces = np.empty((stop - start, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    indices: list[int] = []
    errors: list[tuple[int, MesonetError]] = []
    for position in range(start, stop):
        try:
            faces[len(indices)] = loader(Path(paths[position]))
        except MesonetError as exc:
            errors.append((position, exc))
            continue
        indices.append(position)
    return FaceBatch(np.asarray(indices, dtype=np.int64), faces[: len(indices)], errors)


def sample_per_class(dataset: Dataset, per_class: int, *, seed: int = 0) -> Dataset:
    """At most `per_class` files of each class, drawn at random but reproducibly (for short classroom runs).

    Args:
        dataset: the scanned dataset.
        per_class: files kept per class; 0 keeps every file.
        seed: seed of the draw; the same dataset and seed give the same files.

    Returns:
        A Dataset with the kept files, each class sorted by path.
    """
    if not per_class:
        return dataset
    rng = random.Random(seed)
    files: list[LabeledFile] = []
    for label in sorted({f.label for f in dataset.files}):
        group = [f for f in dataset.files if f.label == label]
        files += sorted(rng.sample(group, min(per_class, len(group))), key=lambda f: str(f.path))
    return Dataset(dataset.root, files, dataset.ignored)
