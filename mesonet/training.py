"""Training and fine-tuning Meso networks on a class-folder dataset (see mesonet.datasets).

The default recipe is the paper's (REFERENCE.md): mean squared error on the sigmoid output,
Adam (beta 0.9, 0.999) at a learning rate of 1e-3 divided by 10 every 1000 steps down to
1e-6, batches of 75, augmentation by zoom, small rotation, horizontal flip, brightness and hue.
`robust` and `balance` add what compressed web video needs (see mesonet.training_data, which
streams the images, and mesonet.training_keras, which holds the Keras callbacks).

Files written for `out` = "my_model.weights.h5":
    my_model.weights.h5              best weights so far (by validation accuracy)
    my_model.weights.h5.json         their metadata: arch, variant, data, date, metrics, history
    my_model.weights.h5.checkpoint/  last.keras (model + optimizer state) and state.json, so a
                                     run started again with the same settings resumes.

Labels follow the networks: 1 = real, 0 = forged; accuracy counts score_real > 0.5 as real.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mesonet.datasets import LABEL_FORGED, LABEL_REAL, scan_dataset, split_files
from mesonet.errors import CancelledError, TrainingError
from mesonet.models import Variant, build_model, check_architecture, import_keras
from mesonet.training_data import make_dataset
from mesonet.training_keras import EpochCallback, Progress, keras_classes, make_run_tracker, now_utc

WEIGHTS_SUFFIX = ".weights.h5"
MONITORS = ("accuracy", "auc")


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; the defaults are the paper's recipe for Meso4.

    Attributes:
        arch: "meso4" or "mesoinception4".
        variant: classifier head (dense layers and units, dropout).
        init: starting weights: a catalog name ("meso4-f2f"), a weight file, or None for a
            random initialisation.
        epochs: passes over the training files (an epoch is `steps_per_epoch` steps).
        batch_size: images per step.
        val_split: share of each class held out for validation, in [0, 1).
        steps_per_epoch: steps per epoch; None means one pass over the training files.
        max_steps: stop after this many steps in total (e.g. short classroom runs).
        learning_rate: initial learning rate.
        lr_decay_steps: the learning rate is divided by `1 / lr_decay` every this many steps.
        lr_decay: factor applied every `lr_decay_steps` steps.
        min_learning_rate: floor of the learning rate.
        augment: apply the paper's augmentation to training batches.
        robust: also augment for compressed web video (JPEG at quality 15-95, downscale,
            blur, noise, wider zoom and shift); see mesonet.training_data.
        balance: draw sources, classes and manipulations equally instead of by file count.
        val_dir: a class-folder dataset used for validation instead of a `val_split` of the
            training data (e.g. one split by video).
        monitor: the validation figure that picks the best weights: "accuracy" (at 0.5) or
            "auc" (ROC AUC, which does not depend on a threshold).
        seed: seed of the split, the shuffling and the initial weights.
        time_limit_s: stop when the wall-clock time of this run reaches it (validation of the
            last epoch included as well as can be foreseen).
    """

    arch: str = "meso4"
    variant: Variant = Variant()
    init: str | None = None
    epochs: int = 20
    batch_size: int = 75
    val_split: float = 0.1
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    learning_rate: float = 1e-3
    lr_decay_steps: int = 1000
    lr_decay: float = 0.1
    min_learning_rate: float = 1e-6
    augment: bool = True
    robust: bool = False
    balance: bool = False
    val_dir: str | None = None
    monitor: str = "accuracy"
    seed: int = 0
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "arch", check_architecture(self.arch))
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("steps_per_epoch", "max_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1 when given, got {getattr(self, name)}.")
        if self.monitor not in MONITORS:
            raise TrainingError(f"monitor must be one of {', '.join(MONITORS)}, got {self.monitor!r}.")
        if not 0.0 <= self.val_split < 1.0:
            raise TrainingError(f"val_split must be in [0, 1), got {self.val_split}; 0.1 keeps 10% for validation.")

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["variant"] = self.variant.to_dict()
        return data


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
    config: TrainConfig = TrainConfig(),
    progress: Progress | None = None,
    on_epoch: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    resume: bool = True,
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
    steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(len(train_files) / config.batch_size))
    planned = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        planned = min(planned, config.max_steps)
    data_summary = {
        **dataset.summary(),
        "n_train": len(train_files),
        "n_val": len(val_files),
        "val_split": config.val_split,
        "seed": config.seed,
    }
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
        model = _initial_model(config)
        _compile(model, config)
        state = {"fingerprint": fingerprint, "epoch": 0, "history": [], "best_val_accuracy": None, "created": now_utc()}

    train_ds = make_dataset(
        train_files,
        batch_size=config.batch_size,
        training=True,
        augment=config.augment,
        robust=config.robust,
        balance=config.balance,
        seed=config.seed + state["epoch"],
    )
    val_ds = make_dataset(val_files, batch_size=config.batch_size, training=False) if val_files else None
    tracker = make_run_tracker(
        model=model,
        out=out,
        state_dir=state_dir,
        state=state,
        config=config,
        planned_steps=planned,
        steps_per_epoch=steps_per_epoch,
        data_summary=data_summary,
        progress=progress,
        on_epoch=on_epoch,
        cancel=cancel,
    )
    if state["epoch"] < config.epochs and not tracker.budget_spent():
        with warnings.catch_warnings():
            # Keras warns that tf.data input ignores shuffle=True and that a finite validation
            # set "ran out of data": both expected here.
            warnings.filterwarnings("ignore", message=".*(shuffle=True|ran out of data).*")
            model.fit(
                train_ds,
                epochs=config.epochs,
                initial_epoch=state["epoch"],
                steps_per_epoch=steps_per_epoch,
                validation_data=val_ds,
                callbacks=[tracker],
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


def _initial_model(config: TrainConfig):
    """The network to start from: random, a catalog entry, or a weight file."""
    from mesonet.weights import CATALOG, load_model_with_weights, weights_path

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


def _compile(model, config: TrainConfig) -> None:
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
