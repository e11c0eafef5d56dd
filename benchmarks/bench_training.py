"""Training speed: steps per hour at batch 64, per architecture, with and without the input pipeline.

Compares, in one run and on the same compiled model:
- "network only": `train_on_batch` on one preprocessed batch held in memory (the ceiling);
- "pipeline": `model.fit` on `mesonet.training.inputs.training_batches` (balanced draws, flip,
  shift, brightness and colour cast, a background thread two batches ahead), as the Studio
  weights and the Train page train;
- "augment alone": the time to make one augmented batch, without the network.

Faces: the authors' Deepfake training faces from $MESONET_DATA_DIR (decoded once into memory).
Targets (issue 18): Meso4 at least 4,500 steps an hour, MesoInception4 at least 1,900, on a quiet
machine. Reports medians of per-step times after a warm-up.

Run: python benchmarks/bench_training.py [--steps 60] [--faces 1024]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import DATA_DIR, median_seconds, timed_runs

from mesonet.data.datasets import scan_dataset
from mesonet.models.networks import import_keras
from mesonet.training.config import TrainConfig
from mesonet.training.inputs import FaceArrays, augment, training_batches
from mesonet.training.train import compile_model, initial_model

BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per measurement")
    parser.add_argument("--faces", type=int, default=1024, help="faces decoded into memory")
    args = parser.parse_args()

    files = scan_dataset(DATA_DIR / "mesonet_df" / "train", allow_videos=False).files
    chosen = [files[i] for i in np.linspace(0, len(files) - 1, args.faces).round().astype(int)]
    start = time.perf_counter()
    faces = FaceArrays.from_files(chosen)
    print(f"decoded {len(faces)} faces once in {time.perf_counter() - start:.1f} s")
    rng = np.random.default_rng(0)
    sample = faces.faces[:BATCH]
    t_augment = median_seconds(lambda: augment(sample, rng), 20)
    print(f"augment alone: {t_augment * 1000:.0f} ms a batch of {BATCH}")
    keras = import_keras()
    print(f"{'arch':<16}{'method':<16}{'median s/step':>14}{'steps/hour':>12}")
    for arch in ("meso4", "mesoinception4"):
        config = TrainConfig(arch=arch, init=f"{arch}-df", batch_size=BATCH, learning_rate=1e-4, balance=True)
        model = initial_model(config)
        compile_model(model, config)
        batch = next(training_batches(faces, batch_size=BATCH, balance=True))
        network = timed_runs(lambda model=model, batch=batch: model.train_on_batch(*batch), args.steps, warmup=5)
        stream = training_batches(faces, batch_size=BATCH, balance=True, seed=1)
        ends: list[float] = []
        timer = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs, ends=ends: ends.append(time.perf_counter())
        )
        # One fit call, as in training; the first epoch traces the model and is left out.
        model.fit(stream, steps_per_epoch=args.steps, epochs=2, shuffle=False, verbose=0, callbacks=[timer])
        pipeline = list(np.diff(ends[args.steps :]))
        for method, times in (("network only", network), ("pipeline", pipeline)):
            median = statistics.median(times)
            print(f"{arch:<16}{method:<16}{median:>14.3f}{3600 / median:>12.0f}")


if __name__ == "__main__":
    main()
