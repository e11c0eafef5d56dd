"""Validation report for the Studio weights against the released ones, and the threshold they ship with.

For each weights, on the validation faces that `stage_studio_data.py` kept apart (split by
video) and on their c40-like H.264 copies, per source and manipulation:
frame accuracy at 0.5 and at the weights' own threshold, and ROC AUC. FaceForensics++ crops are
one frame per video, so there a frame is a video. Then, through the whole pipeline (face
detection, alignment, 30 frames), the shared FF++ clips of id 183 as a sanity check.

The threshold of each weights is picked on validation (clean and c40-like together) by balanced
accuracy (mesonet.calibration.pick_threshold). With `--write-threshold`, it is stored in the
metadata JSON beside each Studio weights file, where the app and CLI read it.

Usage:
    python training/report_studio.py --data /work/data/studio --clips ../shared/data/videos \
        --weights meso4-df meso4-f2f mesoinception4-df mesoinception4-f2f \
        --studio meso4=/work/runs/studio_meso4.weights.h5 --out /work/runs/report.json [--write-threshold]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from mesonet.analysis import analyze_media
from mesonet.calibration import pick_threshold, reliability
from mesonet.datasets import iter_face_batches, scan_dataset
from mesonet.scoring import load_classifier
from mesonet.training_data import source_of

CLIPS = {
    "real": "real/ff_youtube_183.mp4",
    "deepfakes": "deepfakes/ff_c40_183_253.mp4",
    "face2face": "face2face/ff_c40_183_253.mp4",
}


def score_folder(classifier, folder: Path) -> dict[tuple[str, str], np.ndarray]:
    """P(fake) of every face in a class-folder dataset, grouped by (source, class folder)."""
    files = scan_dataset(folder, allow_videos=False).files
    p_fake = np.empty(len(files))
    for batch in iter_face_batches([f.path for f in files], batch_size=64):
        p_fake[batch.indices] = 1.0 - classifier.score_real(batch.faces)
    groups: dict[tuple[str, str], list[float]] = {}
    for f, score in zip(files, p_fake, strict=True):
        groups.setdefault((source_of(f), f.class_folder.lower()), []).append(float(score))
    return {key: np.asarray(values) for key, values in groups.items()}


def manipulation_metrics(real: np.ndarray, forged: np.ndarray, threshold: float) -> dict:
    is_forged = np.r_[np.zeros(len(real)), np.ones(len(forged))]
    p_fake = np.r_[real, forged]
    return {
        "n_real": len(real),
        "n_forged": len(forged),
        "accuracy_at_0.5": round(float(((p_fake >= 0.5) == is_forged).mean()), 4),
        "accuracy": round(float(((p_fake >= threshold) == is_forged).mean()), 4),
        "accuracy_forged": round(float((forged >= threshold).mean()), 4),
        "accuracy_real": round(float((real < threshold).mean()), 4),
        "roc_auc": round(float(roc_auc_score(is_forged, p_fake)), 4),
    }


def report_for(classifier, data: Path, clips: Path | None) -> dict:
    scores = {split: score_folder(classifier, data / split) for split in ("val", "val_c40")}
    pooled = [(key[1], values) for split in scores.values() for key, values in split.items()]
    labels = np.concatenate([np.full(len(v), cls != "real") for cls, v in pooled])
    threshold = pick_threshold(labels, np.concatenate([v for _, v in pooled]))
    out: dict = {"threshold": threshold, "splits": {}}
    for split, groups in scores.items():
        table = {}
        for (source, cls), values in sorted(groups.items()):
            if cls != "real":
                table[f"{source}/{cls}"] = manipulation_metrics(groups[(source, "real")], values, threshold)
        all_labels = np.concatenate([np.full(len(v), k[1] != "real") for k, v in groups.items()])
        all_scores = np.concatenate(list(groups.values()))
        table["all"] = {
            "accuracy": round(float(((all_scores >= threshold) == all_labels).mean()), 4),
            "roc_auc": round(float(roc_auc_score(all_labels, all_scores)), 4),
            "ece": round(reliability(all_labels, all_scores).ece, 4),
        }
        out["splits"][split] = table
    if clips is not None:
        out["clips"] = {}
        for name, relpath in CLIPS.items():
            analysis = analyze_media(clips / relpath, classifier, threshold=threshold)
            out["clips"][name] = {
                "p_fake_mean": round(float(analysis.summary.p_fake_mean), 4),
                "verdict": analysis.summary.verdict,
                "frames_with_face": analysis.summary.frames_with_face,
            }
    return out


def markdown(results: dict) -> str:
    """The side-by-side tables for the closing note and the model cards."""
    lines = []
    for split in ("val", "val_c40"):
        rows = sorted({row for r in results.values() for row in r["splits"][split]})
        lines += [
            f"\n{split}: accuracy at the weights' threshold (at 0.5) / ROC AUC\n",
            "| weights | threshold | " + " | ".join(rows) + " |",
            "|---" * (len(rows) + 2) + "|",
        ]
        for name, r in results.items():
            cells = []
            for row in rows:
                m = r["splits"][split][row]
                at_half = f" ({m['accuracy_at_0.5']:.3f})" if "accuracy_at_0.5" in m else ""
                cells.append(f"{m['accuracy']:.3f}{at_half} / {m['roc_auc']:.3f}")
            lines.append(f"| {name} | {r['threshold']:.3f} | " + " | ".join(cells) + " |")
    if all("clips" in r for r in results.values()):
        lines += [
            "\nFF++ clip 183 through the pipeline: mean P(fake), verdict at the weights' threshold\n",
            "| weights | " + " | ".join(CLIPS) + " |",
            "|---" * (len(CLIPS) + 1) + "|",
        ]
        for name, r in results.items():
            lines.append(
                f"| {name} | "
                + " | ".join(f"{r['clips'][c]['p_fake_mean']:.3f} {r['clips'][c]['verdict']}" for c in CLIPS)
                + " |"
            )
    return "\n".join(lines)


def model_card(name: str, label: str, results: dict, metadata: dict) -> str:
    """The model card shipped beside a Studio weights file: data, recipe, validation, threshold, terms."""
    data, recipe, mine = metadata["training_data"], metadata["recipe"], results[label]
    best = metadata["metrics"]
    folders = ", ".join(f"{k} {v}" for k, v in sorted(data["folders"].items()))
    return f"""# {name}: model card

{metadata["arch"]} ({"Meso4" if metadata["arch"] == "meso4" else "MesoInception4"}, the published architecture and
head), trained by MesoNet Studio for compressed web video. Output: P(real), like the released weights; the app and
the command line show P(fake) = 1 - P(real).

## Decision threshold
P(fake) >= **{mine["threshold"]:.3f}** is called fake. It was picked on the validation faces below (clean and c40-like
copies together) by balanced accuracy; the app's slider and `mesonet ... --threshold` start there.

## Training data
- The authors' aligned Deepfake faces (MesoNet dataset, df/ and real/), split by video: consecutive file numbers are
  consecutive frames, so whole runs of similar frames were kept together and one block in ten went to validation.
- FaceForensics++ face crops (299x299, one frame per video; real YouTube videos and the Deepfakes, Face2Face,
  FaceSwap and NeuralTextures manipulations), keeping the collection's own train/test split (test = validation).
- Every training face also as an H.264 copy (face downscaled to 96-192 px, x264 CRF 28-40, upscaled back).
- Training files per class folder: {folders} (n = {data["n_train"]}).

## Recipe
Fine-tuned from `{recipe["init"]}`. Mean squared error on the sigmoid output, Adam at {recipe["learning_rate"]:g}
divided by 10 every {recipe["lr_decay_steps"]} steps, batches of {recipe["batch_size"]}. Sampling balanced by
collection, then class, then manipulation. Augmentation: the paper's (flip, brightness, hue, rotation, zoom) plus JPEG
re-encoding at quality 15-95, downscaling, blur, noise, and a wider zoom and shift (tight boxes and aligned crops
alike). Best weights by validation ROC AUC: epoch {best.get("epoch")}, step {best.get("steps")}.
Reproduce: `training/stage_studio_data.py`, then `training/train_studio.py --arch {metadata["arch"]}`, then
`training/report_studio.py --write-threshold`.

## Validation (faces kept apart; accuracy at the threshold, accuracy at 0.5 in brackets, ROC AUC)
{markdown({label: mine, **{k: v for k, v in results.items() if k != label}})}

## Terms
The FaceForensics++ data is for non-commercial research use only (FaceForensics++ terms of use): these weights
inherit that restriction. The authors' MesoNet dataset and released weights are Apache-2.0.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clips", type=Path, default=None, help="the shared videos/ folder (FF++ clip 183)")
    parser.add_argument("--weights", nargs="*", default=[], help="catalog names")
    parser.add_argument("--studio", nargs="*", default=[], help="ARCH=PATH of weights trained here")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--write-threshold", action="store_true", help="store each studio weights' threshold in its metadata JSON"
    )
    parser.add_argument(
        "--card", nargs="*", default=[], help="NAME=PATH.md: the model card of each --studio entry, in order"
    )
    args = parser.parse_args()

    results = {}
    for name in args.weights:
        results[name] = report_for(load_classifier(name), args.data, args.clips)
        print(name, json.dumps(results[name]["splits"]["val"]["all"]), flush=True)
    for spec in args.studio:
        arch, path = spec.split("=", 1)
        label = f"studio {arch} ({Path(path).name})"
        results[label] = report_for(load_classifier(arch, weights_file=path), args.data, args.clips)
        print(label, json.dumps(results[label]["splits"]["val"]["all"]), flush=True)
        if args.write_threshold:
            metadata_path = Path(path + ".json")
            metadata = json.loads(metadata_path.read_text())
            metadata["threshold"] = results[label]["threshold"]
            metadata["validation"] = results[label]["splits"]
            metadata_path.write_text(json.dumps(metadata, indent=2))
    args.out.write_text(json.dumps(results, indent=1))
    for spec, card in zip(args.studio, args.card, strict=False):
        arch, path = spec.split("=", 1)
        name, card_path = card.split("=", 1)
        metadata = json.loads(Path(path + ".json").read_text())
        Path(card_path).write_text(model_card(name, f"studio {arch} ({Path(path).name})", results, metadata))
    table = markdown(results)
    args.out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
