"""The settings of one training run (`TrainConfig`): what to train and how."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mesonet.errors import TrainingError
from mesonet.models.networks import Variant, check_architecture

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
            blur, noise, wider zoom and shift); see mesonet.training.inputs.
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
