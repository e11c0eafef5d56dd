"""Keras pieces of training: the learning-rate schedule, a per-class metric and the run tracker.

They subclass Keras classes, so they are defined on first use: importing this module does
not import TensorFlow. StepDecay and ClassAccuracy are registered for deserialisation,
which loading a checkpoint needs.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mesonet.models.networks import import_keras
from mesonet.training.config import TrainConfig

Progress = Callable[[int, int], None]
EpochCallback = Callable[[dict], None]
METADATA_FORMAT = "mesonet-weights/1"


def now_utc() -> str:
    """The current time for metadata, e.g. "2026-11-27T19:40:00+00:00"."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
            return {"initial": self.initial, "decay_steps": self.decay_steps, "decay": self.decay, "floor": self.floor}

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


def make_run_tracker(**kwargs):
    """The Keras callback of a run; its class is defined here so that Keras is imported lazily."""
    keras = import_keras()

    class RunTracker(keras.callbacks.Callback):
        """Progress, time limit, per-epoch history, best weights and the resumable checkpoint."""

        def __init__(
            self,
            *,
            model,
            out: Path,
            state_dir: Path,
            state: dict,
            config: TrainConfig,
            planned_steps: int,
            steps_per_epoch: int,
            data_summary: dict,
            validate: Callable[[], dict] | None,
            progress: Progress | None,
            on_epoch: EpochCallback | None,
            cancel: threading.Event | None,
        ) -> None:
            super().__init__()
            self.net, self.out, self.state_dir, self.state, self.config = model, out, state_dir, state, config
            self.planned_steps, self.steps_per_epoch = planned_steps, steps_per_epoch
            self.data_summary, self.progress, self.on_epoch, self.cancel = data_summary, progress, on_epoch, cancel
            self.validate = validate
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

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if self.validate is not None:
                val_started = time.monotonic()
                logs.update(self.validate())
                self.last_val_s = time.monotonic() - val_started
            steps = self.steps_done()
            entry = {
                "epoch": epoch + 1,
                "steps": steps,
                "lr": float(self.net.optimizer.learning_rate.numpy()),
                "time_s": round(time.monotonic() - self.epoch_started, 2),
                "val_time_s": round(self.last_val_s, 2),
                **{k: round(v, 6) for k, v in logs.items()},
            }
            self.state["history"].append(entry)
            self.state["epoch"] = epoch + 1
            best = self.state["best_val_accuracy"]
            # The monitored figure on validation, else on training when there is no validation set.
            score = entry.get(f"val_{self.config.monitor}", entry.get(self.config.monitor, 0.0))
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
                "date": now_utc(),
                "training_data": self.data_summary,
                "recipe": self.config.to_dict(),
                "label_convention": "output = P(real); 1 = real, 0 = forged",
                "metrics": {k: v for k, v in entry.items() if k != "time_s"},
                "history": list(self.state["history"]),
            }
            self.out.with_name(self.out.name + ".json").write_text(json.dumps(metadata, indent=2))

    return RunTracker(**kwargs)
