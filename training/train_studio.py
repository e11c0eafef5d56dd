"""Trains a Studio expert: Meso4 fine-tuned from a released file on our own pipeline's faces, at three compressions.

Experts (each starts from the released file that already knows its manipulation):
    df    from meso4-df; Deepfakes of the FF++ videos at c23, QP 32 and QP 40, the re-framed FF++
          Deepfakes crops, and the authors' Deepfake faces, a third of every batch, so that it keeps
          what it knew (their validation accuracy is watched). FaceSwap and DFDC are left out: the
          first run trained on them and lost 0.15 of accuracy on the authors' faces (issue 18).
    f2f   from meso4-f2f; Face2Face of the FF++ videos at the three compressions, and the re-framed FF++
          Face2Face and NeuralTextures crops (reenactment: the identity stays, the expression moves).
    swap  as f2f, with FaceSwap (videos and crops) and the authors' faces added: the released DF weights
          rank FaceSwap below chance, so the ensemble needs a member that has seen it (best started from
          the f2f expert). Without the authors' faces it called 43% of their real faces fake.

Every source is drawn equally, within it real and forged equally (`balance`), with cheap augmentation
per step (mesonet.training.inputs). The best weights by validation ROC AUC are kept; validation is
the held-out identities (training/studio_data.py) at all three compressions. The run checkpoints
after every epoch and resumes when started again with the same settings.

Usage:
    python training/train_studio.py --expert df --faces /work/data/studio_faces \
        --mesonet-df ../shared/data/mesonet_df/train --out /work/runs/studio/meso4-studio-df.weights.h5 [--minutes 30]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from studio_data import crop_arrays, mesonet_arrays, video_arrays, video_faces

from mesonet.training.config import TrainConfig
from mesonet.training.inputs import FaceArrays
from mesonet.training.train import format_epoch, train_on_faces

EXPERTS = {
    "df": dict(init="meso4-df", methods=("deepfakes",), ffpp=("real", "deepfakes"), mesonet=True),
    "f2f": dict(init="meso4-f2f", methods=("face2face",), ffpp=("real", "face2face", "neuraltextures"), mesonet=False),
    "swap": dict(
        init="meso4-f2f",
        methods=("face2face", "faceswap"),
        ffpp=("real", "face2face", "faceswap", "neuraltextures"),
        mesonet=True,
    ),
}


def expert_data(
    expert: str, faces: Path, mesonet_df: Path, *, crops: bool = True, dfdc: int = 0
) -> tuple[FaceArrays, FaceArrays, dict]:
    """(training faces, validation faces, a summary for the metadata) of one expert; `crops=False` leaves
    out the re-framed FF++ crops (so that the videos and the authors' faces are half of every batch each),
    `dfdc` adds that many re-framed DFDC crops of each class (another source: many more identities)."""
    recipe = EXPERTS[expert]
    train_parts = video_arrays(video_faces(faces, recipe["methods"], validation=False))
    val_parts = video_arrays(video_faces(faces, recipe["methods"], validation=True))
    if crops:
        train_parts += crop_arrays(faces, "ffpp_crops", recipe["ffpp"])
    if dfdc:
        train_parts += crop_arrays(faces, "dfdc", ("real", "fake"), limit=dfdc)
    if recipe["mesonet"]:
        mesonet_train, mesonet_val = mesonet_arrays(mesonet_df, faces / "mesonet_df.npz")
        train_parts.append(mesonet_train)
        val_parts.append(mesonet_val)
    train, val = FaceArrays.concat(train_parts), FaceArrays.concat(val_parts)
    summary = {
        "expert": expert,
        "train": train.summary(),
        "val": val.summary(),
        "n_train": len(train),
        "n_val": len(val),
    }
    return train, val, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expert", choices=sorted(EXPERTS), required=True)
    parser.add_argument(
        "--arch",
        choices=("meso4", "mesoinception4"),
        default="meso4",
        help="the network (mesoinception4 starts from its own released file)",
    )
    parser.add_argument("--faces", type=Path, required=True, help="the face caches (training/studio_data.py)")
    parser.add_argument("--mesonet-df", type=Path, required=True, help="the authors' faces, DIR/{df,real}")
    parser.add_argument("--out", type=Path, required=True, help="weights file, ending in .weights.h5")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of this invocation")
    # The features are already trained: 1e-3 erased the DF weights' knowledge (issue 12), and 1e-4
    # cost 0.15 of accuracy on the authors' faces in 3,400 steps (issue 18's first run).
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps-per-epoch", type=int, default=250)
    parser.add_argument("--init", help="starting weights instead of the recipe's (a catalog name or a weight file)")
    parser.add_argument("--no-crops", action="store_true", help="leave out the re-framed FF++ crops")
    parser.add_argument("--dfdc", type=int, default=0, help="add this many re-framed DFDC crops of each class")
    args = parser.parse_args()

    started = time.monotonic()
    train, val, summary = expert_data(args.expert, args.faces, args.mesonet_df, crops=not args.no_crops, dfdc=args.dfdc)
    print(f"data ready in {time.monotonic() - started:.0f} s: {len(train)} training and {len(val)} validation faces")
    for name, count in summary["train"].items():
        print(f"  train {name}: {count}")
    init = args.init or EXPERTS[args.expert]["init"].replace("meso4", args.arch)
    config = TrainConfig(
        arch=args.arch,
        init=init,
        epochs=1000,
        batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.learning_rate,
        lr_decay_steps=5000,
        balance=True,
        monitor="auc",
        time_limit_s=args.minutes * 60,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    curve = args.out.with_name(args.out.name + ".curve.csv")

    def on_epoch(entry: dict) -> None:
        print(
            time.strftime("[%H:%M:%S] ") + format_epoch(entry) + f"  val auc {entry.get('val_auc', float('nan')):.4f}",
            flush=True,
        )
        new = not curve.exists()
        with curve.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=sorted(entry), extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(entry)

    result = train_on_faces(train, val, args.out, config=config, data_summary=summary, on_epoch=on_epoch)
    print(f"stopped because: {result.stopped_because}; best weights: {result.weights_path}", flush=True)


if __name__ == "__main__":
    main()
