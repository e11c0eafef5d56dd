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
| MESONET_MAX_ZIP_ENTRIES | the most files and folders an uploaded dataset ZIP may hold | 100000 |
| MESONET_MAX_ZIP_RATIO | the largest unpack ratio (uncompressed / compressed bytes) of an uploaded dataset ZIP | 100 |
| MESONET_MAX_ZIP_DEPTH | the most folder levels an uploaded dataset ZIP may nest | 32 |
| MESONET_MAX_WEIGHTS_RATIO | the largest user's weight file, in multiples of its architecture's reference size | 2 |
| MESONET_TEMP_MAX_AGE_H | hours before the app's start-up removes a leftover unpacked ZIP or training run | 24 |
| MESONET_MAX_MEGAPIXELS | the largest image or video frame decoded, in megapixels (checked from the header) | 24 |
| MESONET_MAX_DECODE_S | CPU seconds one ffmpeg run may spend on a video (decoding; encoding an annotated copy) | 600 |
| MESONET_EXTRACTION_CACHE_MB | the app's server-wide cache of face extractions, in MB | 1024 |
| MESONET_CUSTOM_WEIGHTS_PER_SESSION | weight files one session may keep at once | 10 |
| MESONET_CUSTOM_WEIGHTS_MB | every session's uploaded weight files together, server-wide, in MB | 100 |
| MESONET_CUSTOM_WEIGHTS_MAX_AGE_H | hours an uploaded weight file is kept at most (its session may end sooner) | 24 |
| MESONET_WORKERS | worker processes that decode and find faces for the whole server | the CPU cores |
| MESONET_LIVE_STREAMS | camera streams the Live page scores at once, server-wide | half the CPU cores (at least 1) |
| MESONET_LIVE_CAMERAS | cameras connected to the Live page at once, server-wide | twice MESONET_LIVE_STREAMS |
| MESONET_ANNOTATED_VIDEOS | annotated videos the app makes at once, server-wide | half the CPU cores (at least 1) |
| MESONET_ICE_SERVERS | STUN/TURN servers for the Live page's camera stream, as JSON (see ice_servers) | [] (none) |
| RAY_ADDRESS | Ray's variable: the cluster of `--engine ray` when no --address is given | (none: a local instance) |
"""

from __future__ import annotations

import json
import os
from pathlib import Path

WEIGHTS_DIR_ENV = "MESONET_WEIGHTS_DIR"
SAMPLES_DIR_ENV = "MESONET_SAMPLES_DIR"
DATASETS_DIR_ENV = "MESONET_DATASETS_DIR"
CACHE_DIR_ENV = "MESONET_CACHE_DIR"
DATA_DIR_ENV = "MESONET_DATA_DIR"
MAX_ZIP_MB_ENV = "MESONET_MAX_ZIP_MB"
MAX_ZIP_ENTRIES_ENV = "MESONET_MAX_ZIP_ENTRIES"
MAX_ZIP_RATIO_ENV = "MESONET_MAX_ZIP_RATIO"
MAX_ZIP_DEPTH_ENV = "MESONET_MAX_ZIP_DEPTH"
MAX_WEIGHTS_RATIO_ENV = "MESONET_MAX_WEIGHTS_RATIO"
TEMP_MAX_AGE_H_ENV = "MESONET_TEMP_MAX_AGE_H"
TRAIN_MAX_MINUTES_ENV = "MESONET_TRAIN_MAX_MINUTES"
MAX_ANNOTATED_FRAMES_ENV = "MESONET_MAX_ANNOTATED_FRAMES"
ANNOTATE_MAX_MINUTES_ENV = "MESONET_ANNOTATE_MAX_MINUTES"
TRAIN_KEEP_RESULT_H_ENV = "MESONET_TRAIN_KEEP_RESULT_H"
MAX_MEGAPIXELS_ENV = "MESONET_MAX_MEGAPIXELS"
MAX_DECODE_S_ENV = "MESONET_MAX_DECODE_S"
EXTRACTION_CACHE_MB_ENV = "MESONET_EXTRACTION_CACHE_MB"
CUSTOM_WEIGHTS_MAX_AGE_H_ENV = "MESONET_CUSTOM_WEIGHTS_MAX_AGE_H"
CUSTOM_WEIGHTS_PER_SESSION_ENV = "MESONET_CUSTOM_WEIGHTS_PER_SESSION"
CUSTOM_WEIGHTS_MB_ENV = "MESONET_CUSTOM_WEIGHTS_MB"
WORKERS_ENV = "MESONET_WORKERS"
LIVE_STREAMS_ENV = "MESONET_LIVE_STREAMS"
LIVE_CAMERAS_ENV = "MESONET_LIVE_CAMERAS"
ANNOTATED_VIDEOS_ENV = "MESONET_ANNOTATED_VIDEOS"
ICE_SERVERS_ENV = "MESONET_ICE_SERVERS"
# Ray's own variable (`ray job submit` sets it for the command it runs), honoured as Ray does.
RAY_ADDRESS_ENV = "RAY_ADDRESS"

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
# The released weight files are committed here (Apache-2.0); `mesonet weights fetch` downloads into it too.
PROJECT_WEIGHTS_DIR = REPO_DIR / "weights"
# The authors' four sample crops ship inside the package, so they work offline and after `pip install`.
SHIPPED_SAMPLES_DIR = PACKAGE_DIR / "sample_data"

DEFAULT_MAX_ZIP_MB = 2048
DEFAULT_MAX_ZIP_ENTRIES = 100_000
# Image datasets hardly compress (JPEG, PNG): 100:1 lets any real one through and stops a ZIP bomb
# from filling the server's disk from a small upload.
DEFAULT_MAX_ZIP_RATIO = 100.0
# Class folders are two or three levels deep; past about 1000 levels unpacking hits Python's recursion limit.
DEFAULT_MAX_ZIP_DEPTH = 32
# A user's weight file may take twice what this project's own largest file for the architecture takes
# (mesonet.models.weight_files.reference_file_bytes): about 0.9 MB for Meso4, 1 MB for MesoInception4.
DEFAULT_MAX_WEIGHTS_RATIO = 2.0
DEFAULT_TEMP_MAX_AGE_H = 24.0
# A classroom run is minutes long; an hour-long one would hold the server's only training slot.
DEFAULT_TRAIN_MAX_MINUTES = 20.0
DEFAULT_TRAIN_KEEP_RESULT_H = 1.0
# Annotated videos and every-frame scoring: 10 minutes at 30 fps, and half an hour of work at most
# (every-frame scoring runs at about 25 frames a second here, so 18,000 frames take about 12 minutes).
DEFAULT_MAX_ANNOTATED_FRAMES = 18_000
DEFAULT_ANNOTATE_MAX_MINUTES = 30.0
# 24 MP: 24 MP cameras, phones' default 12 MP photos, 4K video (8.3 MP). The worst files at this size
# (16-bit PNG, float TIFF, 24 MP video frames) keep `mesonet detect` under 1.5 GB peak RSS
# (benchmarks/bench_memory.py); at 50 MP they reach 1.5-2.1 GB. Full-resolution 48-50 MP phone
# photos must be downscaled, or allowed by raising the variable on a larger server.
DEFAULT_MAX_MEGAPIXELS = 24.0
DEFAULT_MAX_DECODE_S = 600.0
DEFAULT_EXTRACTION_CACHE_MB = 1024.0
DEFAULT_CUSTOM_WEIGHTS_MAX_AGE_H = 24.0
# Server-wide limit on loaded classifiers: the four catalog models and a few users' own weights.
MODEL_CACHE_ENTRIES = 8


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


def _positive_number(variable: str, default: float) -> float:
    """The variable as a positive number; the default when unset, not a number, or not positive."""
    value = os.environ.get(variable)
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if number > 0 else default


def max_zip_bytes() -> int:
    """The largest total uncompressed size accepted for an uploaded dataset ZIP."""
    return int(_positive_number(MAX_ZIP_MB_ENV, DEFAULT_MAX_ZIP_MB) * 1024**2)


def max_zip_entries() -> int:
    """The largest number of entries (files and folders) accepted in an uploaded dataset ZIP."""
    return int(_positive_number(MAX_ZIP_ENTRIES_ENV, DEFAULT_MAX_ZIP_ENTRIES))


def max_zip_ratio() -> float:
    """The largest ratio of an uploaded dataset ZIP's total uncompressed size to its own size."""
    return _positive_number(MAX_ZIP_RATIO_ENV, DEFAULT_MAX_ZIP_RATIO)


def max_zip_depth() -> int:
    """The most folder levels an uploaded dataset ZIP may nest ("a/b/c.jpg" has two)."""
    return max(1, int(_positive_number(MAX_ZIP_DEPTH_ENV, DEFAULT_MAX_ZIP_DEPTH)))


def max_weights_ratio() -> float:
    """The largest size of a user's weight file, as a multiple of the architecture's reference size."""
    return _positive_number(MAX_WEIGHTS_RATIO_ENV, DEFAULT_MAX_WEIGHTS_RATIO)


def temp_max_age_s() -> float:
    """How old a leftover temporary folder (an unpacked ZIP, a training run) must be for the app's
    start-up to remove it, in seconds."""
    return _positive_number(TEMP_MAX_AGE_H_ENV, DEFAULT_TEMP_MAX_AGE_H) * 3600.0


def train_max_seconds() -> float:
    """The wall-clock cap of one training run started from the app (MESONET_TRAIN_MAX_MINUTES), in seconds."""
    return _positive_number(TRAIN_MAX_MINUTES_ENV, DEFAULT_TRAIN_MAX_MINUTES) * 60.0


def train_keep_result_s() -> float:
    """How long a finished run's weights wait for their owner before another user's run may replace them
    (MESONET_TRAIN_KEEP_RESULT_H), in seconds."""
    return _positive_number(TRAIN_KEEP_RESULT_H_ENV, DEFAULT_TRAIN_KEEP_RESULT_H) * 3600.0


def max_annotated_frames() -> int:
    """The most frames an annotated video, or every-frame scoring, may cover (MESONET_MAX_ANNOTATED_FRAMES)."""
    return int(_positive_number(MAX_ANNOTATED_FRAMES_ENV, DEFAULT_MAX_ANNOTATED_FRAMES))


def annotate_max_s() -> float:
    """The wall-clock budget of one annotated video, scoring included (MESONET_ANNOTATE_MAX_MINUTES), in seconds."""
    return _positive_number(ANNOTATE_MAX_MINUTES_ENV, DEFAULT_ANNOTATE_MAX_MINUTES) * 60.0


def max_pixels() -> int:
    """The pixel budget: the most pixels (width x height) of an image or a video frame that is decoded."""
    return int(_positive_number(MAX_MEGAPIXELS_ENV, DEFAULT_MAX_MEGAPIXELS) * 1_000_000)


def max_decode_s() -> float:
    """CPU seconds one ffmpeg run may spend on a video: decoding its frames, or encoding its annotated copy."""
    return _positive_number(MAX_DECODE_S_ENV, DEFAULT_MAX_DECODE_S)


def extraction_cache_bytes() -> int:
    """The size limit of the app's server-wide cache of face extractions, in bytes."""
    return int(_positive_number(EXTRACTION_CACHE_MB_ENV, DEFAULT_EXTRACTION_CACHE_MB) * 1024**2)


def custom_weights_max_age_s() -> float:
    """How long an uploaded weight file is kept at most, in seconds."""
    return _positive_number(CUSTOM_WEIGHTS_MAX_AGE_H_ENV, DEFAULT_CUSTOM_WEIGHTS_MAX_AGE_H) * 3600.0


def custom_weights_per_session() -> int:
    """Weight files one session may keep at once (MESONET_CUSTOM_WEIGHTS_PER_SESSION, else 10)."""
    return _count(CUSTOM_WEIGHTS_PER_SESSION_ENV, 10)


def custom_weights_budget_bytes() -> int:
    """Every session's uploaded weight files together, server-wide (MESONET_CUSTOM_WEIGHTS_MB, else 100 MB:
    about a hundred files at the size cap)."""
    return int(_positive_number(CUSTOM_WEIGHTS_MB_ENV, 100.0) * 1024**2)


def cpu_count() -> int:
    """The CPU cores this process may run on (its affinity mask, which containers narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count() -> int:
    """Worker processes for decoding and face finding (MESONET_WORKERS, else one per core; at least 1)."""
    return _count(WORKERS_ENV, cpu_count())


def live_stream_limit() -> int:
    """Camera streams scored at once on the Live page, for the whole server (MESONET_LIVE_STREAMS,
    else one per two cores; at least 1). One stream in Chromium kept the server 0.8 of a core busy
    (scoring, and the video's decoding and encoding), so more would leave other users nothing."""
    return _count(LIVE_STREAMS_ENV, max(1, cpu_count() // 2))


def live_camera_limit() -> int:
    """Cameras connected to the Live page at once, for the whole server (MESONET_LIVE_CAMERAS, else
    twice MESONET_LIVE_STREAMS). A camera waiting for its scoring turn still costs a sixth of a core
    (its video is decoded, drawn on and encoded again) and about ten threads; beyond this, START is
    refused until a camera stops."""
    return _count(LIVE_CAMERAS_ENV, 2 * live_stream_limit())


def annotated_video_limit() -> int:
    """Annotated videos the app makes at once, for the whole server (MESONET_ANNOTATED_VIDEOS,
    else one per two cores; at least 1). Each runs two ffmpeg processes and draws every frame in
    the server's own process, outside the worker pool; more requests wait for a free slot."""
    return _count(ANNOTATED_VIDEOS_ENV, max(1, cpu_count() // 2))


def _count(variable: str, default: int) -> int:
    """The variable as a whole number of at least 1; the default when unset or not a number."""
    value = os.environ.get(variable)
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


def ice_servers() -> list[dict]:
    """STUN/TURN servers for the Live page's WebRTC connection (MESONET_ICE_SERVERS), else none.

    The value is a JSON list of RTCIceServer objects, as browsers take them, e.g.
    `[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]`. Without any,
    the browser and the server connect directly: enough when both are on one machine or one
    network; clients elsewhere need a TURN server.

    Raises:
        ConfigError: the value is not such a list.
    """
    from mesonet.errors import ConfigError

    value = os.environ.get(ICE_SERVERS_ENV, "").strip()
    if not value:
        return []
    try:
        servers = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{ICE_SERVERS_ENV} is not valid JSON ({exc.msg}): {_ICE_EXAMPLE}") from None
    if not isinstance(servers, list) or not all(
        isinstance(s, dict) and isinstance(s.get("urls"), str | list) for s in servers
    ):
        raise ConfigError(f'{ICE_SERVERS_ENV} must be a list of objects with "urls": {_ICE_EXAMPLE}')
    return servers


_ICE_EXAMPLE = 'set it like [{"urls": "turn:HOST:3478", "username": "USER", "credential": "PASSWORD"}], or unset it.'


def ray_address() -> str | None:
    """The Ray cluster `--engine ray` connects to when no --address is given (RAY_ADDRESS), or None:
    then a local Ray instance is started."""
    return os.environ.get(RAY_ADDRESS_ENV) or None
