"""Every setting MesoNet Studio reads from the environment, in one place.

Functions, not constants: tests and long-running servers may change the environment after
import, and each call reads it afresh. Nothing here creates folders or touches the network.

| variable | meaning | default |
|---|---|---|
| MESONET_WEIGHTS_DIR | a folder searched first for the catalog's weight files | (none) |
| MESONET_SAMPLES_DIR | a folder holding the authors' sample crops as df/..., real/... | (none: the shipped copies) |
| MESONET_DATASETS_DIR | labelled dataset folders the app offers on the Evaluate and Train pages | (none) |
| MESONET_CACHE_DIR | downloaded and generated files (samples, the astronaut clip) | $XDG_CACHE_HOME/mesonet-studio |
| MESONET_DATA_DIR | the team's shared/ folder, for the tests and benchmarks only | ../shared |
| MESONET_MAX_ZIP_MB | the largest uncompressed size of an uploaded dataset ZIP, in MB | 2048 |
| MESONET_WORKERS | worker processes that decode and find faces for the whole server | the CPU cores |
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_DIR_ENV = "MESONET_WEIGHTS_DIR"
SAMPLES_DIR_ENV = "MESONET_SAMPLES_DIR"
DATASETS_DIR_ENV = "MESONET_DATASETS_DIR"
CACHE_DIR_ENV = "MESONET_CACHE_DIR"
DATA_DIR_ENV = "MESONET_DATA_DIR"
MAX_ZIP_MB_ENV = "MESONET_MAX_ZIP_MB"
WORKERS_ENV = "MESONET_WORKERS"

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
# The released weight files are committed here (Apache-2.0); `mesonet weights fetch` downloads into it too.
PROJECT_WEIGHTS_DIR = REPO_DIR / "weights"
# The authors' four sample crops ship inside the package, so they work offline and after `pip install`.
SHIPPED_SAMPLES_DIR = PACKAGE_DIR / "sample_data"

DEFAULT_MAX_ZIP_MB = 2048
# Server-wide limit on cached face extractions (each holds the crops and frame previews of one file).
EXTRACTION_CACHE_ENTRIES = 16


def _folder(variable: str) -> Path | None:
    value = os.environ.get(variable)
    return Path(value).expanduser() if value else None


def weights_dirs() -> list[Path]:
    """Folders searched for the catalog's weight files, in order: MESONET_WEIGHTS_DIR, then weights/."""
    extra = _folder(WEIGHTS_DIR_ENV)
    return ([extra] if extra else []) + [PROJECT_WEIGHTS_DIR]


def samples_dirs() -> list[Path]:
    """Folders searched for the authors' sample crops, in order: MESONET_SAMPLES_DIR, the shipped copies,
    then the download cache."""
    extra = _folder(SAMPLES_DIR_ENV)
    return ([extra] if extra else []) + [SHIPPED_SAMPLES_DIR, samples_cache_dir()]


def cache_dir() -> Path:
    """Where downloaded and generated files are kept (MESONET_CACHE_DIR, else ~/.cache/mesonet-studio)."""
    explicit = _folder(CACHE_DIR_ENV)
    if explicit:
        return explicit
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mesonet-studio"


def samples_cache_dir() -> Path:
    """Where downloaded samples and the generated clip go."""
    return cache_dir() / "samples"


def datasets_dir() -> Path | None:
    """The folder whose subfolders the app offers as labelled datasets, or None when unset or missing."""
    folder = _folder(DATASETS_DIR_ENV)
    return folder if folder is not None and folder.is_dir() else None


def data_dir() -> Path:
    """The team's shared/ folder (tests and benchmarks only; the product never needs it)."""
    return _folder(DATA_DIR_ENV) or REPO_DIR.parent / "shared"


def max_zip_bytes() -> int:
    """The largest total uncompressed size accepted for an uploaded dataset ZIP."""
    value = os.environ.get(MAX_ZIP_MB_ENV)
    try:
        megabytes = float(value) if value else DEFAULT_MAX_ZIP_MB
    except ValueError:
        megabytes = DEFAULT_MAX_ZIP_MB
    return int(megabytes * 1024**2)


def cpu_count() -> int:
    """The CPU cores this process may run on (its affinity mask, which containers narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count() -> int:
    """Worker processes for decoding and face finding (MESONET_WORKERS, else one per core; at least 1)."""
    value = os.environ.get(WORKERS_ENV)
    try:
        return max(1, int(value)) if value else cpu_count()
    except ValueError:
        return cpu_count()
