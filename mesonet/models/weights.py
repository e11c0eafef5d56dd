"""The catalog of pretrained weights, where to find them, and how to load any weight file.

The catalog is the only list of weights: the command line, the app's sidebar, the Train and
Learn pages, the Weights page and the tests all ask it. Adding weights is one `WeightsEntry`
in `CATALOG` below (or `register_weights` at run time).

Resolution order for a catalog entry: the folder named by MESONET_WEIGHTS_DIR, then the
project's `weights/` folder (where the four released files are committed), then a download
from the entry's URL into `weights/`. Every file found or downloaded is checked against its
SHA-256 before use.

Custom files (.h5, .weights.h5, .keras) are checked against the architecture they are given
for: a file that does not fit gives a WeightsError naming the expected architecture.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mesonet import config
from mesonet.downloads import download_verified, sha256_of
from mesonet.errors import ArchitectureMismatch, ChecksumError, DownloadError, MesonetError, WeightsError
from mesonet.faces.align import INPUT_SIZE
from mesonet.models.networks import ARCHITECTURE_TITLES, PUBLISHED_TRAINABLE_PARAMS, Variant, check_architecture
from mesonet.verdict import DEFAULT_THRESHOLD

Progress = Callable[[int, int], None]
CatalogStatus = Literal["present", "missing", "corrupted"]

CUSTOM_WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")
# What the command line and the app use until told otherwise.
DEFAULT_WEIGHTS = "meso4-df"

_SOURCE_COMMIT = "2144d56a30e48cdcac1976ff13a1c5cdc86376c6"
_SOURCE = f"https://github.com/DariusAf/MesoNet/tree/{_SOURCE_COMMIT}/weights"
_RAW_URL = f"https://raw.githubusercontent.com/DariusAf/MesoNet/{_SOURCE_COMMIT}/weights/{{}}"


# The four manipulations of FaceForensics++, the forgeries a verdict can speak for.
MANIPULATIONS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")


@dataclass(frozen=True)
class ValidatedRange:
    """The inputs a weights file was validated on; outside them a verdict gets a reliability note.

    Attributes:
        manipulations: the forgeries (of `MANIPULATIONS`) the weights were trained and validated on;
            a "real" from them says nothing about the others.
        min_bits_per_pixel: video bitrate per pixel and frame below which a video counts as heavily
            compressed for these weights (FaceForensics++ c23 is about 0.05, c40 about 0.004).
        min_face_px: face width in frame pixels below which a face counts as small: under half the
            network's input, it is upscaled more than twice and its mesoscopic detail is blurred.
        heavy_compression: what these weights do on heavier compression, measured, in plain words.
    """

    manipulations: tuple[str, ...]
    min_bits_per_pixel: float
    min_face_px: int
    heavy_compression: str


@dataclass(frozen=True)
class WeightsEntry:
    """One pretrained weight file of the catalog.

    Attributes:
        name: the stable identifier users type, e.g. "meso4-df".
        arch: the architecture the file was saved from ("meso4" or "mesoinception4").
        short_label: what the app's weights picker shows, e.g. "DF: Deepfake face swaps".
        manipulation: the forgery the weights were trained to detect, e.g. "Deepfake". Weights only
            know their own manipulation; the Learn page compares entries that differ here.
        trained_on: the training data, in words.
        filename: the file's name in a weights folder.
        sha256: the published file's hash; a file that does not match is never used.
        url: where `mesonet weights fetch` downloads it from; "" for weights that only ship in
            the project's `weights/` folder.
        description: one sentence for listings.
        license: the file's licence and terms of use.
        source: a page that shows where the file comes from.
        input_size: side of the square input face crops, in pixels.
        threshold: the P(fake) at or above which these weights call a face fake, picked on
            validation data; the app and the command line use it unless told otherwise.
        card: the model card's file name in `weights/` ("" when there is none).
        training_files: a regular expression that the file names of the training images match,
            when the training data is known and named recognisably; None when unknown. The
            Evaluate page uses it to warn that a dataset may overlap the training data.
        training_files_note: how those names look, in words, for that warning.
        known_failures: what these weights are known to get wrong, in plain words (the sidebar and the
            Weights page show it beside the weights).
        validated: the inputs the weights were validated on (next to `threshold`); None when unknown.
    """

    name: str
    arch: str
    short_label: str
    manipulation: str
    trained_on: str
    filename: str
    sha256: str
    url: str
    description: str
    license: str = "Apache-2.0"
    source: str = _SOURCE
    input_size: int = INPUT_SIZE
    threshold: float = DEFAULT_THRESHOLD
    card: str = ""
    training_files: str | None = None
    training_files_note: str = ""
    known_failures: str = ""
    validated: ValidatedRange | None = None

    @property
    def arch_title(self) -> str:
        return ARCHITECTURE_TITLES[self.arch]

    @property
    def title(self) -> str:
        """A short name for people, e.g. "Meso4 · Deepfake" (charts and tables; `name` is for typing)."""
        return f"{self.arch_title} · {self.manipulation}"

    @property
    def trainable_params(self) -> int:
        return PUBLISHED_TRAINABLE_PARAMS[self.arch]


_DF = ("DF: Deepfake face swaps", "Deepfake", "Deepfake face swaps (the authors' Deepfake dataset)")
_F2F = ("F2F: Face2Face reenactment", "Face2Face", "Face2Face reenactment (FaceForensics, H.264 quality 23)")
# Measured by the team on FaceForensics++ clips it never trained on (issue 18's figures).
_KNOWN_FAILURES = {
    _DF: "Misses about a third of Deepfakes in heavily compressed (c40) web video; near chance on FaceSwap and "
    "NeuralTextures; calls Face2Face reenactment real.",
    _F2F: "Calls Deepfake face swaps real; on heavily compressed (c40) video it ranks Face2Face well but calls every "
    "clip real at 50%; near chance on FaceSwap and NeuralTextures.",
}
# Measured by the team on FaceForensics++ at c23, QP 32 and QP 40 (training/report_studio.py).
_VALIDATED = {
    _DF: ValidatedRange(
        ("Deepfakes",),
        0.01,
        INPUT_SIZE // 2,
        "MesoNet's DF weights miss about a third of Deepfakes at this compression",
    ),
    _F2F: ValidatedRange(
        ("Face2Face",),
        0.01,
        INPUT_SIZE // 2,
        "MesoNet's F2F weights call nearly every Face2Face clip real at this compression",
    ),
}
# The authors' Deepfake dataset names its aligned crops df01234.jpg and real01234.jpg; the DF weights
# were trained on its training part. The F2F weights' training files are not known by name.
_DF_TRAINING_FILES = (
    r"(?i)^(df|real)\d{5}\.jpe?g$",
    "df01234.jpg / real01234.jpg, as in the authors' Deepfake dataset",
)


def _released(name: str, arch: str, kind: tuple[str, str, str], filename: str, sha256: str) -> WeightsEntry:
    """An entry for one of the authors' four released files (same licence, source and URL scheme)."""
    short_label, manipulation, trained_on = kind
    training_files, training_files_note = _DF_TRAINING_FILES if kind is _DF else (None, "")
    return WeightsEntry(
        name,
        arch,
        short_label,
        manipulation,
        trained_on,
        filename,
        sha256,
        _RAW_URL.format(filename),
        f"{ARCHITECTURE_TITLES[arch]} trained on {trained_on.split(' (')[0]}.",
        training_files=training_files,
        training_files_note=training_files_note,
        known_failures=_KNOWN_FAILURES[kind],
        validated=_VALIDATED[kind],
    )


CATALOG: dict[str, WeightsEntry] = {
    entry.name: entry
    for entry in (
        _released(
            "meso4-df", "meso4", _DF, "Meso4_DF.h5", "036ed30d04ffd9c7506f825b97c86aa64915f5818931da96817b169aad790af5"
        ),
        _released(
            "meso4-f2f",
            "meso4",
            _F2F,
            "Meso4_F2F.h5",
            "bcfda015d217b9f8d6557693edbdf9f4e79cfd22672541968dd0e2954462b5d7",
        ),
        _released(
            "mesoinception4-df",
            "mesoinception4",
            _DF,
            "MesoInception_DF.h5",
            "234586d40058e76ef8b6f27ca4b63c06e31c2a5a69c0d8ba6f30b1468ab7bafa",
        ),
        _released(
            "mesoinception4-f2f",
            "mesoinception4",
            _F2F,
            "MesoInception_F2F.h5",
            "d4533ac8a3197dc35c47405d23d99e888c1d0135e267e03540c7451feaccff3f",
        ),
    )
}

# Named ensembles (mesonet.models.ensemble): name -> catalog names of the members, and their verdict rule.
ENSEMBLE_RULE = "mean P(fake) of the members, each rescaled so that its own threshold is 50%; fake at 50% or more"
ENSEMBLES: dict[str, tuple[str, ...]] = {
    "released": ("meso4-df", "meso4-f2f", "mesoinception4-df", "mesoinception4-f2f"),
}


def list_weights(*, arch: str | None = None) -> list[WeightsEntry]:
    """Returns the catalog entries in a stable order, optionally only those of one architecture."""
    return [entry for entry in CATALOG.values() if arch is None or entry.arch == arch]


def get_weights(name: str) -> WeightsEntry:
    """Returns the catalog entry called `name`, or raises WeightsError listing the valid names."""
    try:
        return CATALOG[name.strip().lower()]
    except KeyError:
        raise WeightsError(f"Unknown weights {name!r}: choose one of {', '.join(CATALOG)}.") from None


def register_weights(entry: WeightsEntry) -> WeightsEntry:
    """Adds an entry to the catalog at run time (e.g. from a plugin); refuses a name already taken."""
    check_architecture(entry.arch)
    if entry.name in CATALOG:
        raise WeightsError(f"Weights {entry.name!r} are already in the catalog; pick another name.")
    CATALOG[entry.name] = entry
    return entry


def model_card(name: str) -> str | None:
    """The model card (Markdown) of catalog weights `name`, shipped in the project's weights/ folder; None if none."""
    entry = get_weights(name)
    path = config.PROJECT_WEIGHTS_DIR / entry.card
    return path.read_text(encoding="utf-8") if entry.card and path.is_file() else None


def counterpart(name: str) -> WeightsEntry | None:
    """The first entry of the same architecture trained on another manipulation (DF for F2F and back)."""
    entry = get_weights(name)
    return next((other for other in list_weights(arch=entry.arch) if other.manipulation != entry.manipulation), None)


def training_overlap(name: str, file_names: Iterable[str]) -> list[str]:
    """The file names named like the training images of catalog weights `name` (its
    `training_files` pattern); empty when the catalog does not know them. A name match is a
    warning sign, not proof: the same naming may cover the dataset's held-out images too.
    """
    pattern = get_weights(name).training_files
    if pattern is None:
        return []
    return [file_name for file_name in file_names if re.match(pattern, Path(file_name).name)]


def search_dirs() -> list[Path]:
    """Folders searched for catalog files, in order."""
    return config.weights_dirs()


def find_weights(name: str) -> Path | None:
    """Returns the path of a verified local copy of a catalog file, or None if there is none.

    Raises:
        WeightsError: a local copy exists but its SHA-256 is wrong (truncated or corrupted).
    """
    entry = get_weights(name)
    for folder in search_dirs():
        path = folder / entry.filename
        if path.is_file():
            _verify(path, entry)
            return path
    return None


def catalog_status(name: str) -> CatalogStatus:
    """Whether a verified local copy of the catalog file exists: "present", "missing" or "corrupted"."""
    try:
        return "present" if find_weights(name) else "missing"
    except MesonetError:
        return "corrupted"


def weights_path(name: str, *, download: bool = True, progress: Progress | None = None) -> Path:
    """Returns a verified local path to the catalog file `name`, downloading it if allowed.

    Args:
        name: catalog name such as "meso4-df".
        download: fetch the file from its public home when no local copy exists.
        progress: called with (bytes done, bytes total) while downloading.
    """
    path = find_weights(name)
    if path is not None:
        return path
    if not download:
        raise _missing_error(get_weights(name))
    return download_weights(name, progress=progress)


def download_weights(
    name: str,
    *,
    folder: Path | None = None,
    progress: Progress | None = None,
    url: str | None = None,
    timeout_s: float = 30.0,
) -> Path:
    """Downloads a catalog file into `folder` (default: the project's weights/), checking its SHA-256."""
    entry = get_weights(name)
    folder = Path(folder) if folder is not None else config.PROJECT_WEIGHTS_DIR
    if not (url or entry.url):
        raise _missing_error(entry)
    try:
        return download_verified(
            url or entry.url, folder / entry.filename, entry.sha256, progress=progress, timeout_s=timeout_s
        )
    except DownloadError as exc:
        raise _missing_error(entry, f"{exc} ") from None
    except ChecksumError as exc:
        raise WeightsError(str(exc)) from None


def _verify(path: Path, entry: WeightsEntry) -> None:
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise WeightsError(
            f"{path} does not match the published {entry.filename} (SHA-256 {actual[:12]}..., expected "
            f"{entry.sha256[:12]}...): it is truncated or corrupted, so it was not used. "
            f"Delete it and download it again from {entry.url}."
        )


def _missing_error(entry: WeightsEntry, prefix: str = "") -> WeightsError:
    if not entry.url:  # the project's own weights ship with it and are not downloadable
        return WeightsError(
            f"{prefix}Weights {entry.name} ({entry.filename}) not found: they ship in the project's weights/ "
            f"folder ({config.PROJECT_WEIGHTS_DIR}). Restore that folder from the repository."
        )
    return WeightsError(
        f"{prefix}Weights {entry.name} ({entry.filename}) not found. Download {entry.url} and put it in "
        f"{config.PROJECT_WEIGHTS_DIR} or in the folder named by {config.WEIGHTS_DIR_ENV}, or run "
        f"`mesonet weights fetch {entry.name}`."
    )


# ---------------------------------------------------------------------------------------------
# Loading weights into models


def metadata_path(weights_file: Path) -> Path:
    """The JSON file beside a weight file that records how it was made (written by training)."""
    return weights_file.with_name(weights_file.name + ".json")


def read_metadata(weights_file: Path) -> dict:
    """Metadata saved beside a weight file, or {} when there is none or it is unreadable."""
    meta = metadata_path(weights_file)
    try:
        return json.loads(meta.read_text()) if meta.is_file() else {}
    except (OSError, ValueError):
        return {}


def metadata_threshold(metadata: dict) -> float:
    """The threshold a trained weight file's metadata records (mesonet's training writes it), else 0.5."""
    value = metadata.get("threshold")
    return float(value) if isinstance(value, int | float) and 0.0 <= value <= 1.0 else DEFAULT_THRESHOLD


def load_model_with_weights(arch: str, weights_file: str | Path, *, variant: Variant | None = None):
    """Builds `arch` and loads `weights_file` into it, refusing a file that does not fit.

    Args:
        arch: "meso4" or "mesoinception4".
        weights_file: a weights-only HDF5 file (.h5 or .weights.h5) saved from that
            architecture, or a whole Keras model (.keras; loaded in safe mode, so a file that
            carries code such as a Lambda layer is refused).
        variant: head options; None reads them from the file's metadata, else the published head.

    Returns:
        The Keras model (uncompiled).

    Raises:
        WeightsError: the file does not fit. Its size and contents are checked against the
            architecture before Keras reads it (`mesonet.models.weight_files.check_weight_file`),
            so a file made to exhaust the server's memory is refused at once, in one line.
    """
    from mesonet.models.networks import build_model

    arch = check_architecture(arch)
    path = Path(weights_file)
    suffix, variant = check_before_keras(arch, path, variant=variant)
    if suffix == ".keras":
        return _load_keras_model(path, arch, variant)
    expected = f"{ARCHITECTURE_TITLES[arch]} weights"
    model = build_model(arch, variant=variant)
    try:
        # By layer order, never by_name: with the released files' auto-generated names,
        # by_name silently loads nothing and every output is about 0.5.
        model.load_weights(path)
    except Exception as exc:  # Keras raises ValueError, KeyError, OSError... for files that don't fit
        detail = " ".join(str(exc).split())[:160]
        raise WeightsError(
            f"{path.name} does not hold {expected} ({detail}). Expected a file saved from "
            f"{ARCHITECTURE_TITLES[arch]} ({PUBLISHED_TRAINABLE_PARAMS[arch]:,} trainable parameters "
            f"in the published network); check the architecture you picked."
        ) from None
    return model


def check_before_keras(arch: str, path: Path, *, variant: Variant | None = None) -> tuple[str, Variant]:
    """Every check of a weight file that needs no Keras (milliseconds): it exists, its type, its size and
    contents against the architecture (`mesonet.models.weight_files.check_weight_file`).

    Returns:
        (the file's suffix, the head variant: `variant`, else the one its metadata names).
    """
    from mesonet.models.weight_files import check_weight_file

    expected = f"{ARCHITECTURE_TITLES[arch]} weights"
    if not path.is_file():
        raise WeightsError(f"Weight file {path} does not exist. Give the path of a {expected} file.")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path.name} is empty (0 bytes). Expected a {expected} file (.h5 or .keras).")
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".weights.h5") else path.suffix.lower()
    if suffix not in CUSTOM_WEIGHT_SUFFIXES:
        raise WeightsError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; expected {expected} "
            f"as {', '.join(CUSTOM_WEIGHT_SUFFIXES)}."
        )
    if variant is None:
        variant = Variant.from_dict(read_metadata(path).get("variant", {}))
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise WeightsError(
                f"{path.name} is not a Keras model archive. Expected a .keras file saved from a "
                f"{ARCHITECTURE_TITLES[arch]} model."
            )
    elif not _is_hdf5(path):
        raise WeightsError(
            f"{path.name} is not an HDF5 file, so it cannot hold {expected}. "
            f"Give a .h5 file saved from {ARCHITECTURE_TITLES[arch]}."
        )
    check_weight_file(path, arch, variant=variant)  # before Keras reads (and allocates) anything
    return suffix, variant


def detect_architecture(path: Path) -> str:
    """The architecture whose arrays (or `.keras` config) a user's weight file holds, by the checks of
    `check_before_keras` (no Keras, milliseconds).

    Raises:
        WeightsError: it holds neither (the message gives what differs from Meso4, the network most
            files are saved from), or it is no sound weight file at all (empty, not HDF5...).
    """
    mismatches = {}
    for arch in ARCHITECTURE_TITLES:
        try:
            check_before_keras(arch, path)
            return arch
        except ArchitectureMismatch as exc:
            mismatches[arch] = str(exc)
    detail = mismatches["meso4"].replace(" Check the architecture you picked.", "")
    raise ArchitectureMismatch(f"{path.name} holds neither Meso4 nor MesoInception4 weights. {detail}")


# A user's weight file is loaded once in a child process first (`check_in_child`): Keras reads whole
# datasets and builds whole layers before it compares shapes, so a hostile file that passed the
# static checks would take the memory of the process that loads it. A Meso4 load peaks at about
# 0.7 GB (TensorFlow included); the child is ended above 1.5 GB or after 120 s.
CHILD_CHECK_MAX_RSS_BYTES = 1536 * 2**20
CHILD_CHECK_TIMEOUT_S = 120.0
_CHILD_ADDRESS_SPACE_BYTES = 6 * 2**30  # a backstop in the child itself (TensorFlow reserves about 2 GB)
_checked_in_child: set[tuple[str, str]] = set()


def check_in_child(arch: str, weights_file: str | Path, *, variant: Variant | None = None) -> None:
    """Loads a user's weight file in a child process with a memory cap and a timeout; raises WeightsError
    (one line, nothing printed) when it does not load there. A file that loaded once is remembered by
    its SHA-256, so loading it again in this process skips the child.
    """
    import multiprocessing
    import time

    from mesonet.errors import exit_reason

    path = Path(weights_file)
    arch = check_architecture(arch)
    key = (arch, sha256_of(path)) if path.is_file() else None
    if key in _checked_in_child:
        return
    check_before_keras(arch, path, variant=variant)  # a hostile file is refused here, in milliseconds
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_load_in_child, args=(arch, str(path), variant, send), name="mesonet-weights-check", daemon=True
    )
    child.start()
    send.close()
    deadline = time.monotonic() + CHILD_CHECK_TIMEOUT_S
    message = None
    try:
        while message is None:
            if receive.poll(0.02):
                try:
                    message = receive.recv()
                except EOFError:  # the child ended without a word (it could not even start)
                    child.join(timeout=10)
                    raise WeightsError(
                        f"{path.name} could not be checked: the process loading it {exit_reason(child.exitcode)}."
                    ) from None
            elif not child.is_alive():
                raise WeightsError(
                    f"{path.name} could not be checked: the process loading it {exit_reason(child.exitcode)}."
                )
            elif _resident_bytes(child.pid) > CHILD_CHECK_MAX_RSS_BYTES:
                raise WeightsError(
                    f"{path.name}: loading it took more than {CHILD_CHECK_MAX_RSS_BYTES / 2**30:.1f} GB of memory, far "
                    f"more than {ARCHITECTURE_TITLES[arch]} weights need; it was refused."
                )
            elif time.monotonic() > deadline:
                raise WeightsError(
                    f"{path.name}: loading it took longer than {CHILD_CHECK_TIMEOUT_S:.0f} s; it was refused."
                )
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=10)
        receive.close()
    if message:
        raise WeightsError(message)
    _checked_in_child.add(key)


def _resident_bytes(pid: int) -> int:
    """The resident memory of a process (Linux /proc; 0 where there is none, leaving the child's own cap)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _load_in_child(arch: str, path: str, variant: Variant | None, send) -> None:
    """The child's work: load the file; send "" when it loaded, else the one-line reason."""
    import os
    import resource

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # Keras' warnings are not the user's message: the one line sent back is
    resource.setrlimit(resource.RLIMIT_AS, (_CHILD_ADDRESS_SPACE_BYTES, _CHILD_ADDRESS_SPACE_BYTES))
    try:
        load_model_with_weights(arch, path, variant=variant)
        send.send("")
    except WeightsError as exc:
        send.send(str(exc))
    except MemoryError:
        send.send(
            f"{Path(path).name}: loading it needs more memory than {ARCHITECTURE_TITLES[arch]} weights ever do; "
            "it was refused."
        )
    except Exception as exc:  # whatever Keras raises for a file it cannot read
        send.send(
            f"{Path(path).name} could not be loaded as {ARCHITECTURE_TITLES[arch]} weights ({type(exc).__name__})."
        )


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def _load_keras_model(path: Path, arch: str, variant: Variant):
    from mesonet.models.networks import import_keras

    expected = f"{ARCHITECTURE_TITLES[arch]} model"
    keras = import_keras()
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200]
        if "lambda" in detail.lower() or "safe_mode" in detail:
            raise WeightsError(
                f"{path.name} carries Python code (a Lambda layer); it was refused for safety. "
                f"Export the {expected} without Lambda layers."
            ) from None
        raise WeightsError(f"{path.name} could not be loaded as a {expected} ({detail}).") from None
    if tuple(model.input_shape[1:]) != (INPUT_SIZE, INPUT_SIZE, 3) or tuple(model.output_shape[1:]) != (1,):
        raise WeightsError(
            f"{path.name} takes {model.input_shape} and returns {model.output_shape}; a {expected} takes "
            f"(None, {INPUT_SIZE}, {INPUT_SIZE}, 3) and returns (None, 1)."
        )
    conv_kernels = [tuple(w.shape) for w in model.weights if len(w.shape) == 4]
    from mesonet.models.networks import build_model

    reference = [tuple(w.shape) for w in build_model(arch).weights if len(w.shape) == 4]
    if conv_kernels != reference:
        raise WeightsError(
            f"{path.name} is not a {expected}: its convolution layers differ. Check the architecture you picked."
        )
    return model
