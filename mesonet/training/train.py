"""Training and fine-tuning Meso networks on a class-folder dataset (see mesonet.data.datasets).

The default recipe is the paper's (REFERENCE.md): mean squared error on the sigmoid output,
Adam (beta 0.9, 0.999) at a learning rate of 1e-3 divided by 10 every 1000 steps down to
1e-6, batches of 75, augmentation by zoom, small rotation, horizontal flip, brightness and hue.
`robust` and `balance` add what compressed web video needs (see mesonet.training.inputs, which
streams the images, and mesonet.training.callbacks, which holds the Keras callbacks).

Files written for `out` = "my_model.weights.h5":
    my_model.weights.h5              best weights so far (by validation accuracy)
    my_model.weights.h5.json         their metadata: arch, variant, data, date, metrics, history
    my_model.weights.h5.checkpoint/  last.keras (model + optimizer state) and state.json, so a
                                     run started again with the same settings resumes.

Labels follow the networks: 1 = real, 0 = forged; accuracy counts score_real > 0.5 as real.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mesonet.data.datasets import LABEL_FORGED, LABEL_REAL, scan_dataset, split_files
from mesonet.errors import CancelledError, TrainingError
from mesonet.models.networks import build_model, import_keras
from mesonet.training.callbacks import EpochCallback, Progress, keras_classes, make_run_tracker, now_utc
from mesonet.training.config import TrainConfig
from mesonet.training.inputs import FaceArrays, training_batches, validation_batches
from mesonet.verdict import called_fake, p_fake_of

WEIGHTS_SUFFIX = ".weights.h5"


@dataclass
class TrainResult:
    """The outcome of `train`.

    Attributes:
        weights_path: the saved best weights (.weights.h5); metadata beside it.
        metadata: what was written to the metadata JSON.
        history: one dict per epoch (loss, accuracy, val_accuracy, ..., lr, time_s).
        stopped_because: "epochs", "max_steps" or "time_limit".
    """

    weights_path: Path
    metadata: dict
    history: list[dict] = field(default_factory=list)
    stopped_because: str = "epochs"


def checkpoint_dir(out: Path) -> Path:
    """The folder beside `out` that holds the resumable state of a run."""
    return out.with_name(out.name + ".checkpoint")


def train(
    data_dir: str | Path,
    out: str | Path,
    *,
    config: TrainConfig = TrainConfig(),  # noqa: B008 (frozen: one shared default is safe)
    progress: Progress | None = None,
    on_epoch: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    resume: bool = True,
    on_data: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Trains or fine-tunes a network on a class-folder dataset and saves the best weights.

    Args:
        data_dir: dataset folder with class folders (df/real, ...). Images only.
        out: where to save the weights; must end with ".weights.h5".
        config: architecture, starting weights and recipe.
        progress: called with (steps done, steps planned) after every step.
        on_epoch: called with each epoch's history entry (for live curves).
        cancel: set it from another thread to stop after the current step; the epoch's
            validation still runs and the checkpoint is kept, so the run can resume.
        resume: continue from the checkpoint beside `out` when it was made with the same
            data and settings (a different one is replaced).
        on_data: called with the data summary (classes, "n_train", "n_val") once the files are
            split, before they are decoded.

    Returns:
        TrainResult with the path of the best weights and their metadata.

    Raises:
        DatasetError: the dataset layout is wrong.
        TrainingError: bad options, or starting weights that do not fit the architecture.
    """
    out = _check_out_path(out)
    dataset = scan_dataset(data_dir, allow_videos=False)
    if config.val_dir is not None:
        train_files, val_files = dataset.files, scan_dataset(config.val_dir, allow_videos=False).files
    else:
        train_files, val_files = split_files(dataset.files, val_fraction=config.val_split, seed=config.seed)
    data_summary = {
        **dataset.summary(),
        "n_train": len(train_files),
        "n_val": len(val_files),
        "val_split": config.val_split,
        "seed": config.seed,
    }
    if on_data is not None:
        on_data(data_summary)
    return train_on_faces(
        FaceArrays.from_files(train_files, robust=config.robust, seed=config.seed),
        FaceArrays.from_files(val_files) if val_files else None,
        out,
        config=config,
        data_summary=data_summary,
        progress=progress,
        on_epoch=on_epoch,
        cancel=cancel,
        resume=resume,
    )


def train_on_faces(
    train_faces: FaceArrays,
    val_faces: FaceArrays | None,
    out: str | Path,
    *,
    config: TrainConfig,
    data_summary: dict,
    progress: Progress | None = None,
    on_epoch: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    resume: bool = True,
) -> TrainResult:
    """Trains on faces already in memory (`train` decodes a class-folder dataset into them).

    Args:
        train_faces, val_faces: the faces; no validation when `val_faces` is None or empty.
        data_summary: what the data is, for the weights' metadata and the checkpoint's fingerprint
            (a checkpoint made on other data is not resumed).
        out, config, progress, on_epoch, cancel, resume: as for `train`.
    """
    out = _check_out_path(out)
    if len(train_faces) == 0:
        raise TrainingError("There are no training faces: every file was left out or the dataset is empty.")
    val_faces = val_faces if val_faces is not None and len(val_faces) else None
    steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(len(train_faces) / config.batch_size))
    planned = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        planned = min(planned, config.max_steps)
    fingerprint = {
        "config": {k: v for k, v in config.to_dict().items() if k not in ("epochs", "max_steps", "time_limit_s")},
        "data": data_summary,
    }

    keras = import_keras()
    state_dir = checkpoint_dir(out)
    state = _read_state(state_dir) if resume else None
    if state is not None and state.get("fingerprint") != fingerprint:
        state = None  # different data or settings: start again rather than mix two runs
    if state is not None:
        keras_classes()
        model = keras.models.load_model(state_dir / "last.keras", compile=True)
    else:
        shutil.rmtree(state_dir, ignore_errors=True)
        keras.utils.set_random_seed(config.seed)
        model = initial_model(config)
        compile_model(model, config)
        state = {"fingerprint": fingerprint, "epoch": 0, "history": [], "best_val_accuracy": None, "created": now_utc()}

    batches = training_batches(
        train_faces,
        batch_size=config.batch_size,
        augmented=config.augment,
        balance=config.balance,
        seed=config.seed + state["epoch"],
    )
    tracker = make_run_tracker(
        model=model,
        out=out,
        state_dir=state_dir,
        state=state,
        config=config,
        planned_steps=planned,
        steps_per_epoch=steps_per_epoch,
        data_summary=data_summary,
        validate=None if val_faces is None else lambda: validation_metrics(model, val_faces, config.batch_size),
        progress=progress,
        on_epoch=on_epoch,
        cancel=cancel,
    )
    if state["epoch"] < config.epochs and not tracker.budget_spent():
        model.fit(
            batches,
            epochs=config.epochs,
            initial_epoch=state["epoch"],
            steps_per_epoch=steps_per_epoch,
            callbacks=[tracker],
            shuffle=False,  # the batches are drawn at random already
            verbose=0,
        )
    if not out.is_file():  # e.g. resumed a finished run whose weights were deleted
        tracker.save_best(tracker.state["history"][-1] if tracker.state["history"] else {})
    if cancel is not None and cancel.is_set():
        raise CancelledError(
            f"Training stopped at step {int(model.optimizer.iterations.numpy())}; the checkpoint "
            f"in {state_dir} lets the same command resume."
        )
    metadata = json.loads((out.with_name(out.name + ".json")).read_text())
    return TrainResult(out, metadata, list(tracker.state["history"]), tracker.stopped_because)


def validation_metrics(model, faces: FaceArrays, batch_size: int) -> dict[str, float]:
    """The validation figures of a run: val_loss (MSE), val_accuracy (at 0.5), per class, and val_auc."""
    from sklearn.metrics import roc_auc_score

    scores = np.concatenate(
        [np.asarray(model.predict_on_batch(x)).reshape(-1) for x, _ in validation_batches(faces, batch_size=batch_size)]
    )
    labels = faces.labels.astype(np.float64)
    called_real = ~called_fake(p_fake_of(scores))
    metrics = {
        "val_loss": float(np.mean((scores - labels) ** 2)),
        "val_accuracy": float(np.mean(called_real == labels.astype(bool))),
        "val_accuracy_forged": float(np.mean(~called_real[labels == LABEL_FORGED])) if (labels == 0).any() else 0.0,
        "val_accuracy_real": float(np.mean(called_real[labels == LABEL_REAL])) if (labels == 1).any() else 0.0,
    }
    if 0 < labels.sum() < len(labels):
        metrics["val_auc"] = float(roc_auc_score(labels, scores))
    return metrics


def format_epoch(entry: dict) -> str:
    """One line per epoch for logs and the command line, e.g. "epoch 3  steps 444  loss 0.0712 ..."."""

    def value(key: str) -> str:
        return f"{entry[key]:.4f}" if key in entry else "-"

    return (
        f"epoch {entry['epoch']}  steps {entry['steps']}  loss {value('loss')}  accuracy {value('accuracy')}  "
        f"val accuracy {value('val_accuracy')} (forged {value('val_accuracy_forged')}, real "
        f"{value('val_accuracy_real')})  lr {entry['lr']:.0e}  {entry['time_s']:.0f} s"
    )


def _check_out_path(out: str | Path) -> Path:
    out = Path(out).expanduser()
    if not out.name.endswith(WEIGHTS_SUFFIX):
        raise TrainingError(
            f"Output {out} must end with {WEIGHTS_SUFFIX} (Keras weights format), "
            f"e.g. {out.with_suffix('').name}{WEIGHTS_SUFFIX}."
        )
    if not out.parent.is_dir():
        raise TrainingError(f"Output folder {out.parent} does not exist; create it first.")
    return out


def _read_state(state_dir: Path) -> dict | None:
    try:
        state = json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if (state_dir / "last.keras").is_file() else None


def initial_model(config: TrainConfig):
    """The network to start from: random, a catalog entry, or a weight file."""
    from mesonet.models.weights import CATALOG, load_model_with_weights, weights_path

    if config.init is None:
        return build_model(config.arch, variant=config.variant)
    name = config.init.strip().lower()
    if name in CATALOG:
        entry = CATALOG[name]
        if entry.arch != config.arch:
            raise TrainingError(
                f"--init {name} holds {entry.arch} weights but the architecture is {config.arch}; "
                f"pick {entry.arch} or other starting weights."
            )
        path = weights_path(name)
    else:
        path = Path(config.init).expanduser()
        if not path.is_file():
            raise TrainingError(
                f"Starting weights {config.init!r} are neither a catalog name "
                f"({', '.join(CATALOG)}) nor an existing file."
            )
    return load_model_with_weights(config.arch, path, variant=config.variant)


def compile_model(model, config: TrainConfig) -> None:
    keras = import_keras()
    StepDecay, ClassAccuracy = keras_classes().values()  # noqa: N806
    schedule = StepDecay(
        config.learning_rate, decay_steps=config.lr_decay_steps, decay=config.lr_decay, floor=config.min_learning_rate
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.999),
        loss="mean_squared_error",  # on the sigmoid output, as in the paper
        metrics=[
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.5),
            ClassAccuracy(LABEL_FORGED, name="accuracy_forged"),
            ClassAccuracy(LABEL_REAL, name="accuracy_real"),
            keras.metrics.AUC(name="auc"),
        ],
    )
