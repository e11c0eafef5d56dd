"""Evaluation and detection on Ray, the distributed engine of `--engine ray`.

The work is cut where the local engine cuts it, and each part calls the same core function, so
every file gets the same score as with the local engine:

- Ray Data reads and decodes the files in tasks spread over the cluster: a face crop is loaded
  and resized (`mesonet.data.datasets.face_loader`), a photo or a video has its faces found and aligned
  (`mesonet.analysis.pipeline.extract_faces_from_media`). Crops travel in chunks of `batch_size` files,
  the local engine's batches.
- An actor pool classifies, one model per actor (`mesonet.models.ensemble.load_scorer`): a chunk of crops
  as one model call (`mesonet.evaluation.evaluator.score_face_batch`, so the scores are bitwise those of the
  local engine), a video through `mesonet.evaluation.evaluator.score_video` (evaluate) or
  `mesonet.analysis.pipeline.score_extraction` (detect).
- This process (the driver) gathers one small record per file and builds the same Evaluation
  (`mesonet.evaluation.evaluator.finish_evaluation`) or the same Analyses as the local engine.

The two stages, and the chunks they are handed, are in `mesonet.serving.ray_stages`.

Where it runs: with an address (`--address`, else Ray's RAY_ADDRESS) on that cluster, whose nodes
need mesonet-studio[ray] installed and the files at the same paths (a shared file system);
without one, on a local Ray instance with one CPU per core, started and stopped around the run.
That instance listens on the loopback interface only, and its authentication token
(~/.ray/auth_token) is readable by this user only (`secure_ray_token`).

Ray is an optional extra, imported only inside these functions: without it, `import_ray` raises
an EngineError that says how to install it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import secrets
import socket
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mesonet import config
from mesonet.errors import EngineError, MesonetError, first_line
from mesonet.faces.detect import DEFAULT_DETECTOR
from mesonet.serving.ray_stages import Scorer, ScorerSpec, crop_chunks, decode_chunks, media_chunks

Progress = Callable[[int, int], None]
INSTALL_HINT = 'pip install "mesonet-studio[ray]" (in a checkout: pip install -r requirements-ray.txt)'
# CPU that Ray reserves for each decoding task (single-threaded Pillow, dlib, ffmpeg) and for each
# actor. An actor waits for decoded faces most of the time (scoring a crop costs a fraction of
# decoding it), so it reserves none: with any share, a 2-core machine would run one decoding task
# at a time instead of two.
DECODE_CPUS = 1.0
ACTOR_CPUS = 0.0
# At most one actor (one loaded model) per this many CPUs of the cluster.
CPUS_PER_ACTOR = 4
# Times Ray runs a task again, or restarts an actor, whose worker process died (node lost, native crash).
RETRIES = 2
# The address a local instance's node takes, so that it listens on this machine's loopback interface only.
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class RayCluster:
    """The Ray instance a run uses.

    Attributes:
        address: the cluster's address, or "local" for an instance started for this run.
        cpus: CPUs the cluster offers.
        start_s: seconds spent starting or connecting to it.
    """

    address: str
    cpus: int
    start_s: float


def import_ray() -> Any:
    """The `ray` module with Ray Data.

    Raises:
        EngineError: Ray is not installed; the message says how to install it.
    """
    try:
        import ray
        import ray.data  # noqa: F401  (the extra is ray[data])
    except ImportError as exc:
        raise EngineError(
            f"--engine ray needs Ray, which is not installed here ({first_line(exc)}). Install it with: {INSTALL_HINT}"
        ) from None
    return ray


@contextlib.contextmanager
def ray_cluster(address: str | None = None) -> Iterator[RayCluster]:
    """Connects to a Ray cluster for the duration of a `with` block.

    Args:
        address: a cluster's address, e.g. "10.0.0.5:6379" as `ray start --head` prints it, or
            "auto" for the cluster started on this machine. None: RAY_ADDRESS, else a new local
            instance with one CPU per core, no dashboard, stopped when the block ends. When this
            process is already connected (a notebook, a test), that connection is used and kept.

    Raises:
        EngineError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = import_ray()
    address = address or config.ray_address()
    if address == "local":  # Ray's name for a new local instance: started as below, on loopback only
        address = None
    start = time.perf_counter()
    connected_here = not ray.is_initialized()
    if connected_here:
        quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
        if address:
            _check_reachable(address)
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                # A new local instance turns on Ray's token authentication, and says so at every start.
                logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
                # An instance started for one command does not send Ray usage statistics (Ray's default
                # would); RAY_USAGE_STATS_ENABLED=1 turns them on.
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                # The instance serves this command only: other users of the machine may not read its token,
                # and no other machine may reach it (issue 24).
                secure_ray_token()
                # Ray runs its workers at niceness +15 so that its own services stay responsive; on a machine
                # that does other work too, that starves them. They run at this command's priority instead,
                # as the local engine's worker processes do.
                with _loopback_node():
                    ray.init(
                        address="local",
                        num_cpus=config.cpu_count(),
                        include_dashboard=False,
                        _node_ip_address=LOOPBACK,
                        _system_config={"worker_niceness": 0},
                        **quiet,
                    )
        except Exception as exc:  # Ray raises bare Exceptions, RuntimeErrors, ConnectionErrors... here
            ray.shutdown()  # stops whatever part of a local instance had started
            if address:
                raise EngineError(
                    f"Could not connect to the Ray cluster at {address} ({first_line(exc)}). Check the address that "
                    "`ray start --head` printed and that the cluster runs (`ray status`); a cluster with token "
                    "authentication also needs RAY_AUTH_MODE=token here, and its token in ~/.ray/auth_token or "
                    "RAY_AUTH_TOKEN."
                ) from None
            raise EngineError(
                f"Could not start a local Ray instance ({first_line(exc)}). The machine may be too busy: try again, "
                "or use --engine local."
            ) from None
    _quiet_ray_data(ray)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        yield RayCluster(address or "local", cpus, time.perf_counter() - start)
    finally:
        if connected_here:
            ray.shutdown()


@contextlib.contextmanager
def _loopback_node() -> Iterator[None]:
    """Makes a local instance started inside the block take the loopback address as its node's.

    Ray's servers listen on their node's address, and its agents on every interface unless that
    address is a loopback one. On Linux, Ray gives a new node the machine's outward address even
    when asked for 127.0.0.1 (it turns a loopback `_node_ip_address` into that address); only in
    its single-machine mode, the default on macOS and Windows, does it keep the loopback address.
    That mode is `ray_constants.ENABLE_RAY_CLUSTER` false (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0,
    read when Ray is imported); it is set here while the instance starts, and the instance keeps
    its address afterwards.
    """
    constants = importlib.import_module("ray._private.ray_constants")
    saved = getattr(constants, "ENABLE_RAY_CLUSTER", True)
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = saved


def secure_ray_token(*, home: Path | None = None) -> Path | None:
    """Makes the token of a local instance's authentication readable by this user only (mode 0600).

    A new local Ray instance turns on token authentication and, when no token exists, writes one
    to ~/.ray/auth_token with the default permissions, readable by every user of the machine:
    whoever reads it may run code in the instance. This writes the token first, as Ray makes
    it (64 hex digits), in a file only this user can read, or narrows an existing file's mode.
    Nothing is done when Ray takes its token from RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, or when
    RAY_AUTH_MODE turns authentication off; nor when the file cannot be written (Ray's own then).

    Args:
        home: the home folder; None: this user's (`Path.home()`).

    Returns:
        The token file, or None when nothing was done.
    """
    authentication = os.environ.get("RAY_AUTH_MODE", "token").lower()
    if authentication != "token" or os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return None
    path = (home if home is not None else Path.home()) / ".ray" / "auth_token"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                path.chmod(0o600)
        else:
            with os.fdopen(descriptor, "w") as token:
                token.write(secrets.token_hex(32))
    except OSError:
        return None
    return path


def _check_reachable(address: str, *, timeout_s: float = 10.0) -> None:
    """Fails fast for a HOST:PORT nobody answers on (Ray itself retries for many minutes).

    Raises:
        EngineError: nothing accepts a connection at that address.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # "auto", "local" and "ray://..." addresses are Ray's to resolve
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise EngineError(
            f"Nothing answers at the Ray address {address} ({exc.strerror or exc}). Start the cluster with "
            "`ray start --head` on its head node and pass the address it prints, or leave --address out to run on "
            "this machine."
        ) from None


def _quiet_ray_data(ray: Any) -> None:
    """Ray Data reports through the caller's progress callback and this module's one-line errors; its
    own bars, notices and tracebacks stay in its log file."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for handler in logging.getLogger("ray.data").handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.CRITICAL)


# ---------------------------------------------------------------------------------------------
# The driver


def run_chunks(
    chunks: list[dict],
    spec: ScorerSpec,
    *,
    mode: str,
    options: dict,
    threshold: float,
    aggregate: str = "mean",
    cluster: RayCluster,
    progress: Progress | None = None,
) -> list[dict]:
    """Decodes and scores the chunks on Ray; one record per file, in position order.

    Args:
        chunks: from `crop_chunks` and `media_chunks`, with positions 0..N-1 between them.
        options: for `decode_chunks`: faces, resize, detector, and extract (the keyword
            arguments of `extract_faces_from_media`).
        cluster: the connection from `ray_cluster`.
        progress: called with (files done, files total) as results arrive.

    Returns:
        Per file: position, score_real (NaN when not scored), n_frames, error ("" when scored),
        result (a pickled Analysis in "detect" mode).

    Files whose task kept dying (a crash in native code) get an error, as in the local worker pool.

    Raises:
        EngineError: the run itself failed (an actor could not start, the cluster was lost).
    """
    ray = import_ray()
    paths = {position: path for chunk in chunks for position, path in zip(chunk["positions"], chunk["paths"])}
    total = len(paths)
    report = progress or (lambda done, total: None)
    report(0, total)
    if not chunks:
        return []
    rows = [{"chunk": i, **chunk} for i, chunk in enumerate(chunks)]
    actors = max(1, min(cluster.cpus // CPUS_PER_ACTOR, len(chunks)))
    context = ray.data.DataContext.get_current()
    # A chunk whose task keeps dying fails its files only; the dataset takes the setting when it is made.
    errored_blocks, context.max_errored_blocks = context.max_errored_blocks, -1
    records: dict[int, dict] = {}
    try:
        # Ray Data retries a task whose worker died forever, and restarts actors forever; Ray 2.60 to 2.63
        # have no named parameter for the bound, only these remote arguments, which they call deprecated.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # One block per chunk: each decoding task reads one chunk, and a chunk reaches an actor whole.
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
            dataset = dataset.map_batches(
                decode_chunks, batch_size=1, fn_kwargs={"options": options}, num_cpus=DECODE_CPUS, max_retries=RETRIES
            )
            dataset = dataset.map_batches(
                Scorer,
                batch_size=None,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
                fn_constructor_kwargs={"spec": spec, "mode": mode, "threshold": threshold, "aggregate": aggregate},
                num_cpus=ACTOR_CPUS,
                max_restarts=RETRIES,
                max_task_retries=RETRIES,
            )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for i, position in enumerate(batch["position"].tolist()):
                records[position] = {name: batch[name][i] for name in ("score_real", "n_frames", "error", "result")}
            report(len(records), total)
    except Exception as exc:
        if isinstance(exc, MesonetError):
            raise
        raise EngineError(
            f"The Ray run failed ({type(exc).__name__}: {first_line(exc)}). Ray's logs say more: "
            "/tmp/ray/session_latest/logs on the nodes."
        ) from None
    finally:
        context.max_errored_blocks = errored_blocks
    lost = {
        "score_real": np.nan,
        "n_frames": 0,
        "result": b"",
        "error": "the Ray worker reading or scoring it died {n} times (a crash in native code, or out of memory), "
        "so it was skipped; Ray's logs (/tmp/ray/session_latest/logs on the nodes) say more.",
    }
    missing = [position for position in range(total) if position not in records]
    for position in missing:
        records[position] = {**lost, "error": f"{Path(paths[position]).name}: {lost['error'].format(n=RETRIES + 1)}"}
    report(total, total)
    return [{"position": p, **records[p]} for p in range(total)]


def evaluate_on_ray(
    root: str | Path,
    spec: ScorerSpec,
    *,
    model_name: str,
    threshold: float,
    cluster: RayCluster,
    faces: str = "aligned",
    group_by_video: str | None = None,
    batch_size: int = 64,
    resize: str = "nearest",
    detector: str = DEFAULT_DETECTOR,
    progress: Progress | None = None,
):
    """`mesonet.evaluation.evaluator.evaluate_dataset` on Ray: the same Evaluation, file for file.

    Args:
        root: the class-folder dataset, at the same path on every node.
        spec: the model each actor loads; `model_name` is its name (the driver's classifier's).
        threshold: P(fake) at or above which an item is called forged.
        cluster: the connection from `ray_cluster`.
        faces, group_by_video, batch_size, resize, detector, progress: as for `evaluate_dataset`.

    Returns:
        An Evaluation with engine "ray"; `timings_s` has "ray_start" (connecting, or starting the
        local instance) and "ray_run" (decoding and scoring) besides the local engine's.

    Raises:
        DatasetError: the folder layout is wrong. EngineError: the Ray run failed.
    """
    from mesonet.data.datasets import scan_dataset
    from mesonet.evaluation.evaluator import ItemScore, compile_video_pattern, finish_evaluation

    if faces not in ("aligned", "detect"):
        raise ValueError(f"faces must be 'aligned' or 'detect', got {faces!r}.")
    if group_by_video is not None:
        compile_video_pattern(group_by_video)  # fail before the long part
    dataset = scan_dataset(root)
    images, videos = dataset.images(), dataset.videos()
    started = time.perf_counter()
    chunks = crop_chunks([f.path for f in images], batch_size=batch_size)
    chunks += media_chunks([f.path for f in videos], first_position=len(images))
    options = {"faces": faces, "resize": resize, "detector": detector, "extract": {"detector": detector}}
    # The metrics need scikit-learn, seconds to import: this process imports it while the cluster works.
    threading.Thread(target=importlib.import_module, args=("sklearn.metrics",), daemon=True).start()
    records = run_chunks(
        chunks, spec, mode="evaluate", options=options, threshold=threshold, cluster=cluster, progress=progress
    )
    run_s = time.perf_counter() - started
    items: list[ItemScore] = []
    scored_videos: list[ItemScore] = []
    skipped: list[tuple[str, str]] = []
    for f, record in zip(images + videos, records):
        if record["error"]:
            skipped.append((str(f.path), record["error"]))
        elif f.kind == "image":
            items.append(ItemScore(str(f.path), f.label, f.class_folder, "image", float(record["score_real"])))
        else:
            score_real, n_frames = float(record["score_real"]), int(record["n_frames"])
            scored_videos.append(
                ItemScore(str(f.path), f.label, f.class_folder, "video", score_real, f.path.stem, n_frames)
            )
    # The local engine lists the images' problems before the videos'; so does this one (records are in that order).
    return finish_evaluation(
        dataset,
        model_name,
        items,
        scored_videos,
        skipped,
        faces=faces,
        threshold=threshold,
        group_by_video=group_by_video,
        # Images and videos are read side by side here: "images" (and images/s) only when there are no videos.
        timings={"ray_start": cluster.start_s, "ray_run": run_s, **({} if videos else {"images": run_s})},
        started=started,
        engine="ray",
    )


def detect_on_ray(
    paths: Sequence[str | Path],
    spec: ScorerSpec,
    *,
    threshold: float,
    cluster: RayCluster,
    sampling=None,
    all_faces: bool = False,
    detector: str = DEFAULT_DETECTOR,
    aggregate: str = "mean",
    progress: Progress | None = None,
) -> list:
    """`mesonet.analysis.pipeline.analyze_media` for every file, on Ray: the same Analyses as the local engine.

    Args:
        paths: photos and videos, at the same paths on every node.
        spec: the model each actor loads.
        threshold, sampling, all_faces, detector, aggregate: as for `analyze_media`.
        cluster: the connection from `ray_cluster`.
        progress: called with (files done, files total) as results arrive.

    Returns:
        Per path, in order: its Analysis, or the MesonetError that stopped it.

    Raises:
        EngineError: the Ray run failed.
    """
    extract = {"sampling": sampling, "all_faces": all_faces, "detector": detector}
    options = {"faces": "aligned", "resize": "nearest", "detector": detector, "extract": extract}
    records = run_chunks(
        media_chunks(paths),
        spec,
        mode="detect",
        options=options,
        threshold=threshold,
        aggregate=aggregate,
        cluster=cluster,
        progress=progress,
    )
    return [MesonetError(r["error"]) if r["error"] else pickle.loads(r["result"]) for r in records]
