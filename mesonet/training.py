"""Training and fine-tuning Meso networks on a class-folder dataset (see mesonet.datasets).

The default recipe is the paper's (REFERENCE.md): mean squared error on the sigmoid output,
Adam (beta 0.9, 0.999) at a learning rate of 1e-3 divided by 10 every 1000 steps down to
1e-6, batches of 75, augmentation by zoom, small rotation, horizontal flip, brightness and hue.

Images stream from disk through tf.data (paths -> decode -> nearest resize to 256 -> /255 ->
augment), so a dataset of any size trains in constant memory.

Files written for `out` = "my_model.weights.h5":
    my_model.weights.h5              best weights so far (by validation accuracy)
    my_model.weights.h5.json         their metadata: arch, variant, data, date, metrics, history
    my_model.weights.h5.checkpoint/  last.keras (model + optimizer state) and state.json, so a
                                     run started again with the same settings resumes.

Labels follow the networks: 1 = real, 0 = forged; accuracy counts score_real > 0.5 as real.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mesonet.datasets import LABEL_FORGED, LABEL_REAL, LabeledFile, scan_dataset, split_files
from mesonet.errors import CancelledError, MesonetError
from mesonet.models import INPUT_SIZE, Variant, build_model, check_architecture, import_keras

Progress = Callable[[int, int], None]
EpochCallback = Callable[[dict], None]
WEIGHTS_SUFFIX = ".weights.h5"
METADATA_FORMAT = "mesonet-weights/1"


class TrainingError(MesonetError):
    """Training options or files that cannot be used."""


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
        augment: apply the augmentation to training batches.
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


def train(data_dir: str | Path, out: str | Path, *, config: TrainConfig = TrainConfig(),
          progress: Progress | None = None, on_epoch: EpochCallback | None = None,
          cancel: threading.Event | None = None, resume: bool = True) -> TrainResult:
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
    train_files, val_files = split_files(dataset.files, val_fraction=config.val_split, seed=config.seed)
    steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(len(train_files) / config.batch_size))
    planned = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        planned = min(planned, config.max_steps)
    data_summary = {**dataset.summary(), "n_train": len(train_files), "n_val": len(val_files),
                    "val_split": config.val_split, "seed": config.seed}
    fingerprint = {"config": {k: v for k, v in config.to_dict().items() if k not in ("epochs", "max_steps",
                                                                                   "time_limit_s")},
                   "data": data_summary}

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
        state = {"fingerprint": fingerprint, "epoch": 0, "history": [], "best_val_accuracy": None,
                 "created": _now()}

    train_ds = make_dataset(train_files, batch_size=config.batch_size, training=True, augment=config.augment,
                            seed=config.seed + state["epoch"])
    val_ds = make_dataset(val_files, batch_size=config.batch_size, training=False) if val_files else None
    tracker = _make_run_tracker(model=model, out=out, state_dir=state_dir, state=state, config=config,
                          planned_steps=planned, steps_per_epoch=steps_per_epoch, data_summary=data_summary,
                          progress=progress, on_epoch=on_epoch, cancel=cancel)
    if state["epoch"] < config.epochs and not tracker.budget_spent():
        with warnings.catch_warnings():
            # Keras warns that tf.data input ignores shuffle=True and that a finite validation
            # set "ran out of data": both expected here.
            warnings.filterwarnings("ignore", message=".*(shuffle=True|ran out of data).*")
            model.fit(train_ds, epochs=config.epochs, initial_epoch=state["epoch"], steps_per_epoch=steps_per_epoch,
                      validation_data=val_ds, callbacks=[tracker], verbose=0)
    if not out.is_file():  # e.g. resumed a finished run whose weights were deleted
        tracker.save_best(tracker.state["history"][-1] if tracker.state["history"] else {})
    if cancel is not None and cancel.is_set():
        raise CancelledError(f"Training stopped at step {int(model.optimizer.iterations.numpy())}; the checkpoint "
                             f"in {state_dir} lets the same command resume.")
    metadata = json.loads((out.with_name(out.name + ".json")).read_text())
    return TrainResult(out, metadata, list(tracker.state["history"]), tracker.stopped_because)


def format_epoch(entry: dict) -> str:
    """One line per epoch for logs and the command line, e.g. "epoch 3  steps 444  loss 0.0712 ..."."""
    def value(key: str) -> str:
        return f"{entry[key]:.4f}" if key in entry else "-"

    return (f"epoch {entry['epoch']}  steps {entry['steps']}  loss {value('loss')}  accuracy {value('accuracy')}  "
            f"val accuracy {value('val_accuracy')} (forged {value('val_accuracy_forged')}, real "
            f"{value('val_accuracy_real')})  lr {entry['lr']:.0e}  {entry['time_s']:.0f} s")


def _check_out_path(out: str | Path) -> Path:
    out = Path(out).expanduser()
    if not out.name.endswith(WEIGHTS_SUFFIX):
        raise TrainingError(f"Output {out} must end with {WEIGHTS_SUFFIX} (Keras weights format), "
                            f"e.g. {out.with_suffix('').name}{WEIGHTS_SUFFIX}.")
    if not out.parent.is_dir():
        raise TrainingError(f"Output folder {out.parent} does not exist; create it first.")
    return out


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


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
            raise TrainingError(f"--init {name} holds {entry.arch} weights but the architecture is {config.arch}; "
                                f"pick {entry.arch} or other starting weights.")
        path = weights_path(name)
    else:
        path = Path(config.init).expanduser()
        if not path.is_file():
            raise TrainingError(f"Starting weights {config.init!r} are neither a catalog name "
                                f"({', '.join(CATALOG)}) nor an existing file.")
    return load_model_with_weights(config.arch, path, variant=config.variant)


def _compile(model, config: TrainConfig) -> None:
    keras = import_keras()
    StepDecay, ClassAccuracy = keras_classes().values()  # noqa: N806
    schedule = StepDecay(config.learning_rate, decay_steps=config.lr_decay_steps, decay=config.lr_decay,
                         floor=config.min_learning_rate)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.999),
        loss="mean_squared_error",  # on the sigmoid output, as in the paper
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.5),
                 ClassAccuracy(LABEL_FORGED, name="accuracy_forged"),
                 ClassAccuracy(LABEL_REAL, name="accuracy_real")],
    )


# ---------------------------------------------------------------------------------------------
# Keras pieces saved in checkpoints, so registered for deserialisation


def _register(cls):
    return import_keras().saving.register_keras_serializable(package="mesonet")(cls)


def _define_keras_classes() -> tuple[type, type]:
    keras = import_keras()
    ops = keras.ops

    class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
        """lr(step) = max(initial * decay ** floor(step / decay_steps), floor)."""

        def __init__(self, initial: float, decay_steps: int, decay: float, floor: float) -> None:
            self.initial, self.decay_steps, self.decay, self.floor = initial, decay_steps, decay, floor

        def __call__(self, step):
            drops = ops.floor(ops.cast(step, "float32") / float(self.decay_steps))
            return ops.maximum(self.initial * ops.power(self.decay, drops), self.floor)

        def get_config(self) -> dict:
            return {"initial": self.initial, "decay_steps": self.decay_steps, "decay": self.decay,
                    "floor": self.floor}

    class ClassAccuracy(keras.metrics.Metric):
        """Accuracy over the samples of one class (label 1 real, 0 forged), at score_real > 0.5."""

        def __init__(self, label: int, name: str | None = None, threshold: float = 0.5, **kwargs) -> None:
            super().__init__(name=name, **kwargs)
            self.label, self.threshold = int(label), float(threshold)
            self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,))
            predicted = ops.cast(ops.reshape(y_pred, (-1,)) > self.threshold, "float32")
            in_class = ops.cast(ops.equal(y_true, float(self.label)), "float32")
            self.correct.assign_add(ops.sum(in_class * ops.cast(ops.equal(predicted, y_true), "float32")))
            self.total.assign_add(ops.sum(in_class))

        def result(self):
            return ops.divide_no_nan(self.correct, self.total)

        def reset_state(self) -> None:
            self.correct.assign(0.0)
            self.total.assign(0.0)

        def get_config(self) -> dict:
            return {"label": self.label, "name": self.name, "threshold": self.threshold}

    StepDecay.__module__ = ClassAccuracy.__module__ = __name__
    return _register(StepDecay), _register(ClassAccuracy)


_classes: dict[str, type] = {}


def keras_classes() -> dict[str, type]:
    """StepDecay (the learning-rate schedule) and ClassAccuracy (a per-class metric).

    They subclass Keras classes, so they are defined on first use: importing this module
    does not import TensorFlow. Defining them also registers them, which loading a
    checkpoint needs.
    """
    if not _classes:
        _classes["StepDecay"], _classes["ClassAccuracy"] = _define_keras_classes()
    return _classes


def dataset_metrics(model, files: Sequence[LabeledFile], *, batch_size: int = 75) -> dict:
    """Frame accuracy of a model on labelled image files, through the training input pipeline.

    Used to report a model's accuracy on a validation split before fine-tuning it.

    Returns:
        {"accuracy", "accuracy_forged", "accuracy_real", "n"}: a face counts as real when
        score_real > 0.5.
    """
    correct = {LABEL_FORGED: 0, LABEL_REAL: 0}
    total = {LABEL_FORGED: 0, LABEL_REAL: 0}
    for faces, labels in make_dataset(files, batch_size=batch_size, training=False):
        predicted = model(faces, training=False).numpy().reshape(-1) > 0.5
        truth = labels.numpy().reshape(-1)
        for label in (LABEL_FORGED, LABEL_REAL):
            in_class = truth == label
            total[label] += int(in_class.sum())
            correct[label] += int((predicted[in_class] == bool(label)).sum())
    n = sum(total.values())
    return {"accuracy": sum(correct.values()) / n if n else float("nan"),
            "accuracy_forged": correct[LABEL_FORGED] / total[LABEL_FORGED] if total[LABEL_FORGED] else float("nan"),
            "accuracy_real": correct[LABEL_REAL] / total[LABEL_REAL] if total[LABEL_REAL] else float("nan"),
            "n": n}


# ---------------------------------------------------------------------------------------------
# Input pipeline


def make_dataset(files: Sequence[LabeledFile], *, batch_size: int, training: bool, augment: bool = True,
                 seed: int = 0):
    """A tf.data pipeline of (faces, labels) batches read from disk as needed.

    Args:
        files: labelled image files.
        batch_size: images per batch.
        training: shuffle, repeat forever and (with `augment`) augment; else one ordered pass.
        augment: apply zoom, rotation, flip, brightness and hue changes (training only).
        seed: shuffle and augmentation seed.

    Returns:
        tf.data.Dataset of float32 faces (B, 256, 256, 3) in [0, 1] and float32 labels (B, 1),
        1 = real. Files that fail to decode are dropped with a warning.
    """
    import_keras()
    import tensorflow as tf

    paths = [str(f.path) for f in files]
    labels = [[float(f.label)] for f in files]
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if training:
        # Only the paths are shuffled in memory; images are decoded after, a batch at a time.
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.map(_decode_and_resize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    ds = ds.ignore_errors(log_warning=True)
    if training and augment:
        ds = ds.map(_augment_colours, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    ds = ds.batch(batch_size, drop_remainder=training)
    if training and augment:
        geometric = _geometric_augmentation(seed)
        ds = ds.map(lambda x, y: (geometric(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=False)
    return ds.prefetch(tf.data.AUTOTUNE)


def _decode_and_resize(path, label):
    import tensorflow as tf

    data = tf.io.read_file(path)
    # INTEGER_ACCURATE is the DCT Pillow uses: training sees the pixels that scoring sees.
    image = tf.cond(tf.io.is_jpeg(data),
                    lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
                    lambda: tf.io.decode_image(data, channels=3, expand_animations=False))
    image = tf.image.resize(image, (INPUT_SIZE, INPUT_SIZE), method="nearest")  # the authors' resize
    image = tf.cast(image, tf.float32) / 255.0
    image.set_shape((INPUT_SIZE, INPUT_SIZE, 3))
    return image, label


def _augment_colours(image, label):
    import tensorflow as tf

    image = tf.image.random_flip_left_right(image)
    image = image * tf.random.uniform((), 0.8, 1.2)  # brightness, as a gain like Keras' brightness_range
    image = tf.image.random_hue(image, 0.05)
    return tf.clip_by_value(image, 0.0, 1.0), label


def _geometric_augmentation(seed: int):
    keras = import_keras()
    return keras.Sequential([
        keras.layers.RandomRotation(15 / 360, fill_mode="reflect", seed=seed),  # +-15 degrees
        keras.layers.RandomZoom((-0.2, 0.2), fill_mode="reflect", seed=seed + 1),
    ], name="augmentation")


# ---------------------------------------------------------------------------------------------
# Per-step and per-epoch bookkeeping


def _make_run_tracker(**kwargs):
    """The Keras callback of a run; its class is defined here so that Keras is imported lazily."""
    keras = import_keras()

    class RunTracker(keras.callbacks.Callback):
        """Progress, time limit, per-epoch history, best weights and the resumable checkpoint."""

        def __init__(self, *, model, out: Path, state_dir: Path, state: dict, config: TrainConfig,
                     planned_steps: int, steps_per_epoch: int, data_summary: dict, progress: Progress | None,
                     on_epoch: EpochCallback | None, cancel: threading.Event | None) -> None:
            super().__init__()
            self.net, self.out, self.state_dir, self.state, self.config = model, out, state_dir, state, config
            self.planned_steps, self.steps_per_epoch = planned_steps, steps_per_epoch
            self.data_summary, self.progress, self.on_epoch, self.cancel = data_summary, progress, on_epoch, cancel
            self.started = time.monotonic()
            self.epoch_started = self.started
            self.last_val_s = 0.0
            self.stopped_because = "epochs"

        def steps_done(self) -> int:
            return int(self.net.optimizer.iterations.numpy())

        def budget_spent(self) -> bool:
            if self.config.max_steps is not None and self.steps_done() >= self.config.max_steps:
                self.stopped_because = "max_steps"
                return True
            # Leave time for the validation that closes the epoch.
            limit = self.config.time_limit_s
            if limit is not None and time.monotonic() - self.started + self.last_val_s >= limit:
                self.stopped_because = "time_limit"
                return True
            if self.cancel is not None and self.cancel.is_set():
                self.stopped_because = "cancelled"
                return True
            return False

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            if self.progress:
                self.progress(min(self.steps_done(), self.planned_steps), self.planned_steps)
            if self.budget_spent():
                self.net.stop_training = True

        def on_test_begin(self, logs=None):
            self.val_started = time.monotonic()

        def on_test_end(self, logs=None):
            self.last_val_s = time.monotonic() - self.val_started

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            steps = self.steps_done()
            entry = {"epoch": epoch + 1, "steps": steps,
                     "lr": float(self.net.optimizer.learning_rate.numpy()),
                     "time_s": round(time.monotonic() - self.epoch_started, 2),
                     "val_time_s": round(self.last_val_s, 2),
                     **{k: round(v, 6) for k, v in logs.items()}}
            self.state["history"].append(entry)
            self.state["epoch"] = epoch + 1
            best = self.state["best_val_accuracy"]
            score = entry.get("val_accuracy", entry.get("accuracy", 0.0))
            if best is None or score > best:
                self.state["best_val_accuracy"] = score
                self.save_best(entry)
            self.state_dir.mkdir(exist_ok=True)
            self.net.save(self.state_dir / "last.keras")
            (self.state_dir / "state.json").write_text(json.dumps(self.state, indent=2))
            if self.on_epoch:
                self.on_epoch(entry)
            if self.budget_spent():
                self.net.stop_training = True

        def save_best(self, entry: dict) -> None:
            self.net.save_weights(self.out)
            metadata = {
                "format": METADATA_FORMAT,
                "arch": self.config.arch,
                "variant": self.config.variant.to_dict(),
                "init": self.config.init,
                "date": _now(),
                "training_data": self.data_summary,
                "recipe": self.config.to_dict(),
                "label_convention": "output = P(real); 1 = real, 0 = forged",
                "metrics": {k: v for k, v in entry.items() if k != "time_s"},
                "history": list(self.state["history"]),
            }
            self.out.with_name(self.out.name + ".json").write_text(json.dumps(metadata, indent=2))

    return RunTracker(**kwargs)
