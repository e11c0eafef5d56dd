"""Training benchmark: Meso4 from scratch, and meso4-f2f fine-tuned, on a fixed 90/10 split.

Targets (issue 6): from scratch, at least 0.88 frame accuracy on the held-out 10% of
../shared/data/mesonet_df/train within 60 minutes of wall-clock time on the 2-core machine;
fine-tuning meso4-f2f on the same split improves its accuracy on the 10%.

The split is `mesonet.data.datasets.split_files(val_fraction=0.1, seed=0)`, stratified by class.
Results go outside the repository (default /tmp/mesonet_train_bench/): one JSON per run with
the configuration, time per epoch and the curve, and a CSV of the curve.

Usage:
    python benchmarks/train_meso4.py [--mode finetune|scratch|both] [--minutes 60]
        [--finetune-steps 150] [--results DIR] [--data DIR]

Mode "both" runs the short fine-tune first, then the 60-minute run from scratch.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MESONET_WEIGHTS_DIR", str(REPO.parent / "shared" / "weights"))

from mesonet.data.datasets import scan_dataset, split_files  # noqa: E402
from mesonet.training.config import TrainConfig  # noqa: E402
from mesonet.training.inputs import FaceArrays, dataset_metrics  # noqa: E402
from mesonet.training.train import train  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "mesonet_df" / "train"
SPLIT_SEED = 0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_curve(history: list[dict], path: Path) -> None:
    if not history:
        return
    columns = sorted({key for entry in history for key in entry}, key=lambda k: (k != "epoch", k))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def run_scratch(data: Path, results: Path, minutes: float) -> dict:
    config = TrainConfig(arch="meso4", epochs=1000, val_split=0.1, seed=SPLIT_SEED, time_limit_s=minutes * 60)
    out = results / "meso4_scratch.weights.h5"
    history: list[dict] = []
    started = time.monotonic()

    def on_epoch(entry: dict) -> None:
        history.append({**entry, "elapsed_s": round(time.monotonic() - started, 1)})
        log(
            f"scratch epoch {entry['epoch']:3d}  steps {entry['steps']:5d}  {entry['time_s']:6.1f} s  "
            f"loss {entry.get('loss', float('nan')):.4f}  train acc {entry.get('accuracy', float('nan')):.4f}  "
            f"val acc {entry.get('val_accuracy', float('nan')):.4f} "
            f"(forged {entry.get('val_accuracy_forged', 0):.4f}, "
            f"real {entry.get('val_accuracy_real', 0):.4f})  lr {entry['lr']:.0e}  "
            f"elapsed {history[-1]['elapsed_s']:.0f} s"
        )
        write_curve(history, results / "meso4_scratch_curve.csv")

    log(f"scratch: Meso4 from random weights, {minutes:.0f} min budget, results in {results}")
    result = train(data, out, config=config, on_epoch=on_epoch, resume=False)
    best = max(history, key=lambda e: e.get("val_accuracy", 0.0)) if history else {}
    reached = next((e for e in history if e.get("val_accuracy", 0.0) >= 0.88), None)
    summary = {
        "run": "scratch",
        "config": config.to_dict(),
        "weights": str(result.weights_path),
        "stopped_because": result.stopped_because,
        "wall_clock_s": round(time.monotonic() - started, 1),
        "best_val_accuracy": best.get("val_accuracy"),
        "best_epoch": best.get("epoch"),
        "first_epoch_at_or_above_0.88": reached and {"epoch": reached["epoch"], "elapsed_s": reached["elapsed_s"]},
        "mean_epoch_time_s": round(sum(e["time_s"] for e in history) / len(history), 1) if history else None,
        "history": history,
    }
    log(
        f"scratch done: best val accuracy {summary['best_val_accuracy']} at epoch {summary['best_epoch']}; "
        f"0.88 reached: {summary['first_epoch_at_or_above_0.88']}; stopped by {result.stopped_because}"
    )
    return summary


def run_finetune(data: Path, results: Path, steps: int, steps_per_epoch: int) -> dict:
    from mesonet.models.weights import load_model_with_weights, weights_path

    dataset = scan_dataset(data)
    _, val_files = split_files(dataset.files, val_fraction=0.1, seed=SPLIT_SEED)
    val_faces = FaceArrays.from_files(val_files)
    before = dataset_metrics(load_model_with_weights("meso4", weights_path("meso4-f2f")), val_faces)
    log(f"fine-tune: meso4-f2f on the 10% before: {before}")
    # A tenth of the paper's learning rate: the features are already trained.
    config = TrainConfig(
        arch="meso4",
        init="meso4-f2f",
        epochs=max(1, steps // steps_per_epoch),
        steps_per_epoch=steps_per_epoch,
        learning_rate=1e-4,
        val_split=0.1,
        seed=SPLIT_SEED,
    )
    started = time.monotonic()
    result = train(
        data,
        results / "meso4_f2f_finetuned.weights.h5",
        config=config,
        resume=False,
        on_epoch=lambda e: log(f"fine-tune epoch {e['epoch']}: {e['time_s']} s, val acc {e.get('val_accuracy'):.4f}"),
    )
    after = dataset_metrics(load_model_with_weights("meso4", result.weights_path), val_faces)
    log(f"fine-tune: after {config.epochs * steps_per_epoch} steps: {after}")
    return {
        "run": "finetune",
        "config": config.to_dict(),
        "before": before,
        "after": after,
        "wall_clock_s": round(time.monotonic() - started, 1),
        "history": result.history,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("finetune", "scratch", "both"), default="both")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--finetune-steps", type=int, default=150)
    parser.add_argument("--finetune-steps-per-epoch", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--results", type=Path, default=Path("/tmp/mesonet_train_bench"))
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()}
    log(f"machine: {machine} (other work may share these cores)")
    if args.mode in ("finetune", "both"):
        summary = run_finetune(args.data, args.results, args.finetune_steps, args.finetune_steps_per_epoch)
        (args.results / "finetune.json").write_text(json.dumps({**summary, "machine": machine}, indent=2))
    if args.mode in ("scratch", "both"):
        summary = run_scratch(args.data, args.results, args.minutes)
        summary["machine"] = {**machine, "load_average_end": os.getloadavg()}
        (args.results / "scratch.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
