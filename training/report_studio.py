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
    table = markdown(results)
    args.out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
