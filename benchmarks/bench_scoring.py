"""Scoring speed: faces per second at batch 32 and latency at batch 1, per architecture.

Compares, in one run, `model.predict`, `model.predict_on_batch` and the core's
`Classifier.score_batch` (one tf.function traced for any batch size). Reports medians over
repeated timed calls after a warm-up; the machine is small and noisy.

Run: python benchmarks/bench_scoring.py [--repeats 30]
Uses the catalog weights shipped in weights/.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import median_seconds

from mesonet.models.scoring import load_classifier, preprocess_faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(32, 256, 256, 3), dtype=np.uint8)
    batch32 = preprocess_faces(faces)
    batch1 = batch32[:1]
    print(f"{'model':<20}{'method':<22}{'batch 32 faces/s':>18}{'batch 1 ms':>12}")
    for name in ("meso4-df", "mesoinception4-df"):
        classifier = load_classifier(name)
        model = classifier.model
        methods = {
            "model.predict": lambda b, model=model: model.predict(b, verbose=0),
            "predict_on_batch": model.predict_on_batch,
            "score_batch (ours)": classifier.score_batch,
        }
        for method, call in methods.items():
            t32 = median_seconds(lambda call=call: call(batch32), args.repeats)
            t1 = median_seconds(lambda call=call: call(batch1), args.repeats)
            print(f"{name:<20}{method:<22}{32 / t32:>18.0f}{t1 * 1000:>12.2f}")
        t_pre = median_seconds(lambda: preprocess_faces(faces), args.repeats)
        print(f"{name:<20}{'preprocess uint8->f32':<22}{32 / t_pre:>18.0f}")


if __name__ == "__main__":
    main()
