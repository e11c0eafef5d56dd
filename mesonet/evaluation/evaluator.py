"""Evaluating a classifier on a labelled class-folder dataset (see mesonet.data.datasets).

Images are scored in fixed-size batches while a thread pool decodes the next ones, so memory
does not grow with the dataset (only one small record per file is kept). Images are face
crops by default (like the authors' dataset), resized with nearest-neighbour exactly as
`mesonet.models.scoring.preprocess_faces` does, so every score equals the single-image predict path.
With `faces="detect"`, the largest face of each image is found and aligned first. Video files
get one video-level score each through `mesonet.analysis.pipeline.analyze_media` (mean P(fake) of the
sampled frames, as in the paper).

Convention: the forged class is the positive class of the ROC curve, average precision and
EER, with P(fake) = 1 - score_real as the score. A file is called forged when its P(fake)
reaches the threshold (`mesonet.verdict`). The HTML report and its figures are in `mesonet.evaluation.report`.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np

from mesonet.analysis.pipeline import extract_faces_from_media, score_extraction
from mesonet.analysis.results import Extraction
from mesonet.analysis.workers import WorkerPool
from mesonet.data import datasets
from mesonet.data.datasets import CLASS_NAMES, LABEL_FORGED, Dataset, LabeledFile, iter_face_batches, scan_dataset
from mesonet.errors import CancelledError, MesonetError, NoFaceError
from mesonet.evaluation.metrics import Metrics, compute_metrics, format_metric
from mesonet.faces.detect import DEFAULT_DETECTOR
from mesonet.models.calibration import Reliability, reliability
from mesonet.models.scoring import Classifier, preprocess_faces
from mesonet.verdict import DEFAULT_THRESHOLD, called_fake, p_fake_of, score_real_of

Progress = Callable[[int, int], None]
FaceMode = Literal["aligned", "detect"]
# `<video>_<frame>.jpg`: everything before the last underscore followed by digits is the video.
DEFAULT_VIDEO_PATTERN = r"^(?P<video>.+)_(?P<frame>\d+)$"


@dataclass(frozen=True)
class ItemScore:
    """The score of one scored unit: an image, a video file, or a group of frames.

    Attributes:
        path: the file (for a group of frames: the video key).
        label: 1 real, 0 forged (from the class folder).
        class_folder: the class folder, e.g. "df".
        kind: "image", "video" (a video file) or "frames" (images grouped by video).
        score_real: the network's output, P(real) (for videos and groups: 1 - mean P(fake)).
        video: the video key when images are grouped by video, else None.
        n_frames: frames the score comes from (1 for an image).
    """

    path: str
    label: int
    class_folder: str
    kind: str
    score_real: float
    video: str | None = None
    n_frames: int = 1

    @property
    def p_fake(self) -> float:
        return p_fake_of(self.score_real)


def group_frames_by_video(
    items: Sequence[ItemScore], pattern: str = DEFAULT_VIDEO_PATTERN
) -> tuple[list[ItemScore], list[str]]:
    """Groups image scores into videos by a regular expression on the file stem.

    The video key is the named group "video" if the pattern has one, else group 1, else the
    whole match; frames of the same key in different class folders stay separate videos. A
    video's score is the mean P(fake) of its frames (the paper's aggregation).

    Args:
        items: image scores.
        pattern: regular expression matched (re.search) against the file name without extension.

    Returns:
        (one ItemScore of kind "frames" per video, paths of images the pattern did not match).
    """
    regex = compile_video_pattern(pattern)
    groups: dict[tuple[str, str], list[ItemScore]] = {}
    unmatched: list[str] = []
    for item in items:
        if item.kind != "image":
            continue
        match = regex.search(Path(item.path).stem)
        if match is None:
            unmatched.append(item.path)
            continue
        key = match.groupdict().get("video") or (match.group(1) if regex.groups else match.group(0))
        groups.setdefault((item.class_folder, key), []).append(item)
    videos = []
    for (folder, key), frames in groups.items():
        p_fake = float(np.mean([f.p_fake for f in frames]))
        videos.append(
            ItemScore(f"{folder}/{key}", frames[0].label, folder, "frames", score_real_of(p_fake), key, len(frames))
        )
    return videos, unmatched


def worst_mistakes(items: Sequence[ItemScore], threshold: float, *, limit: int | None = 12) -> list[ItemScore]:
    """The items called wrong at the threshold, the most confident mistakes first.

    Forged items come with the lowest P(fake) first, real ones with the highest: the further a
    score is from its item's label, the worse the mistake.

    Args:
        items: scored items (frames, videos or groups).
        threshold: P(fake) at or above which an item is called forged.
        limit: how many to return at most (None: all).
    """
    wrong = [item for item in items if called_fake(item.p_fake, threshold) != (item.label == LABEL_FORGED)]
    wrong.sort(key=lambda item: abs(item.label - item.score_real), reverse=True)
    return wrong if limit is None else wrong[:limit]


def compile_video_pattern(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise MesonetError(
            f"--group-by-video pattern {pattern!r} is not a valid regular expression ({exc}); "
            f"the default is {DEFAULT_VIDEO_PATTERN!r}."
        ) from None


@dataclass
class Evaluation:
    """The outcome of `evaluate_dataset`.

    Attributes:
        model: the classifier's name.
        dataset: `Dataset.summary()` of the evaluated folder.
        threshold: P(fake) at or above which an item is called forged.
        faces: "aligned" (images are face crops) or "detect" (faces found first).
        items: one score per image that could be read (frame level), in dataset order.
        videos: one score per video file, and per group of frames when grouping by video.
        skipped: (path, reason) for each file that could not be read or had no face.
        metrics: frame-level metrics over `items` (None when there are no images).
        video_metrics: video-level metrics over `videos` (None when there are none).
        unmatched_frames: images the grouping pattern did not match.
        timings_s: wall-clock seconds per stage, and "images_per_s".
        engine: what scored the files: "local" (this machine) or "ray" (`mesonet.serving.ray_engine`).
    """

    model: str
    dataset: dict
    threshold: float
    faces: str
    items: list[ItemScore]
    videos: list[ItemScore]
    skipped: list[tuple[str, str]]
    metrics: Metrics | None
    video_metrics: Metrics | None
    group_pattern: str | None = None
    unmatched_frames: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    engine: str = "local"

    @property
    def headline(self) -> Metrics:
        """Frame-level metrics when there are images, else video-level ones."""
        return self.metrics or self.video_metrics

    def headline_items(self) -> list[ItemScore]:
        """The items behind the headline metrics: images, else videos."""
        return self.items if self.metrics else self.videos

    def by_method(self) -> dict[str, Metrics]:
        """Headline-level metrics per forged class folder (e.g. "deepfakes", "face2face"), each
        against all the real items; empty when the dataset has a single forged folder."""
        items = self.headline_items()
        real = [i for i in items if i.label != LABEL_FORGED]
        methods = sorted({i.class_folder.lower() for i in items if i.label == LABEL_FORGED})
        if len(methods) < 2 or not real:
            return {}
        out = {}
        for method in methods:
            chosen = [i for i in items if i.label == LABEL_FORGED and i.class_folder.lower() == method] + real
            out[method] = compute_metrics(
                [i.label for i in chosen], [i.score_real for i in chosen], threshold=self.threshold
            )
        return out

    def calibration(self) -> Reliability | None:
        """Reliability curve and expected calibration error of P(fake) on the headline items."""
        items = self.headline_items()
        if not items:
            return None
        return reliability([i.label == LABEL_FORGED for i in items], [i.p_fake for i in items])

    def to_dict(self) -> dict:
        """JSON-ready: the headline metrics at top level, then every detail."""
        head = self.headline
        return {
            **head.to_dict(),
            "level": "frame" if self.metrics else "video",
            "model": self.model,
            "faces": self.faces,
            "dataset": self.dataset,
            "frame_metrics": self.metrics and self.metrics.to_dict(),
            "by_method": {method: m.to_dict() for method, m in self.by_method().items()},
            "calibration": (curve := self.calibration()) and curve.to_dict(),
            "video_metrics": self.video_metrics and self.video_metrics.to_dict(),
            "group_by_video": self.group_pattern,
            "n_unmatched_frames": len(self.unmatched_frames),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "timings_s": self.timings_s,
            "engine": self.engine,
            "label_convention": "score_real is the network output P(real); p_fake = 1 - score_real; "
            "forged is the positive class",
        }

    def rows(self) -> list[dict]:
        """One row per image or video file (and per skipped file, with its reason), for CSV."""
        rows = []
        for item in [*self.items, *(v for v in self.videos if v.kind == "video")]:
            rows.append(
                {
                    "path": item.path,
                    "class": CLASS_NAMES[item.label],
                    "class_folder": item.class_folder,
                    "kind": item.kind,
                    "video": item.video or "",
                    "score_real": item.score_real,
                    "p_fake": item.p_fake,
                    "called": "forged" if item.p_fake >= self.threshold else "real",
                    "correct": (item.p_fake >= self.threshold) == (item.label == LABEL_FORGED),
                    "error": "",
                }
            )
        rows += [
            {
                "path": p,
                "class": "",
                "class_folder": "",
                "kind": "",
                "video": "",
                "score_real": "",
                "p_fake": "",
                "called": "",
                "correct": "",
                "error": reason,
            }
            for p, reason in self.skipped
        ]
        return rows

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def write_csv(self, path: str | Path) -> None:
        import csv

        from mesonet.analysis.results import csv_safe_rows  # file names and errors may start like a formula

        rows = csv_safe_rows(self.rows())
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["path"])
            writer.writeheader()
            writer.writerows(rows)

    def format_table(self) -> str:
        """The paper's table (forged / real / total at the threshold) and the other metrics, as text."""
        lines = [f"model {self.model} on {self.dataset['root']} (threshold P(fake) >= {self.threshold:g})"]
        for title, m in (("frames", self.metrics), ("videos", self.video_metrics)):
            if m is None:
                continue
            lines.append(f"{title}: {m.n_forged} forged, {m.n_real} real")
            lines.append(
                f"  accuracy  forged {format_metric(m.accuracy_forged)}  "
                f"real {format_metric(m.accuracy_real)}  total {format_metric(m.accuracy_total)}"
            )
            lines.append(
                f"  ROC AUC {format_metric(m.roc_auc)}  EER {format_metric(m.eer)}  average precision "
                f"{format_metric(m.average_precision)}  best threshold {format_metric(m.best_threshold)} "
                f"(balanced accuracy {format_metric(m.best_balanced_accuracy)})"
            )
            (ff, fr), (rf, rr) = m.confusion
            lines.append(
                f"  confusion (rows: true forged, true real; columns: called forged, called real): "
                f"[[{ff}, {fr}], [{rf}, {rr}]]"
            )
        for method, m in self.by_method().items():
            lines.append(
                f"  {method} against real: accuracy {format_metric(m.accuracy_total)} (forged "
                f"{format_metric(m.accuracy_forged)})  ROC AUC {format_metric(m.roc_auc)}"
            )
        if (curve := self.calibration()) is not None:
            lines.append(f"  calibration: expected calibration error (ECE) {curve.ece:.4f} over 10 bins of P(fake)")
        if self.unmatched_frames:
            lines.append(
                f"{len(self.unmatched_frames)} image(s) did not match the video pattern and count only at frame level."
            )
        if self.skipped:
            lines.append(f"{len(self.skipped)} file(s) skipped (listed on stderr and in --json/--csv).")
        rate = self.timings_s.get("images_per_s")
        if rate:
            lines.append(f"{len(self.items)} images in {self.timings_s['images']:.1f} s ({rate:.0f} images/s)")
        lines.append("Scores: P(fake) = 1 - score_real, the network's raw output P(real).")
        return "\n".join(lines)


def evaluate_dataset(
    root: str | Path | Dataset,
    classifier: Classifier,
    *,
    faces: FaceMode = "aligned",
    threshold: float = DEFAULT_THRESHOLD,
    group_by_video: str | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    resize: str = "nearest",
    detector: str = DEFAULT_DETECTOR,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    pool: WorkerPool | None = None,
) -> Evaluation:
    """Scores every file of a class-folder dataset and computes the metrics.

    Args:
        root: the dataset folder, or an already scanned Dataset.
        classifier: the loaded classifier.
        faces: "aligned" takes each image as a face crop; "detect" finds and aligns the
            largest face of each image first (images without a face are skipped).
        threshold: P(fake) at or above which an item is called forged.
        group_by_video: a regular expression on file stems (see `group_frames_by_video`) to
            add per-video accuracy over images; None for none.
        batch_size: images per model call (memory holds a few such batches).
        workers: decoding threads (default: the number of CPUs, at least 2).
        resize: resize of the crops to 256x256 ("nearest", as the networks were trained).
        detector: face detector for `faces="detect"` and for videos: one of mesonet.faces.detect.DETECTORS.
        progress: called with (files done, files total).
        cancel: set it from another thread to stop between batches (raises CancelledError).
        pool: worker processes that find the faces (`faces="detect"`) and read the videos, one
            file per worker at once; None does it in this process.

    Returns:
        An Evaluation; unreadable files are in `skipped`, not fatal.

    Raises:
        DatasetError: the folder layout is wrong.
        MesonetError: nothing at all could be scored, or a bad grouping pattern.
    """
    if faces not in ("aligned", "detect"):
        raise ValueError(f"faces must be 'aligned' or 'detect', got {faces!r}.")
    if group_by_video is not None:
        compile_video_pattern(group_by_video)  # fail before the long part
    dataset = root if isinstance(root, Dataset) else scan_dataset(root)
    images, video_files = dataset.images(), dataset.videos()
    total = len(dataset.files)
    done = 0
    report = progress or (lambda d, t: None)
    report(0, total)

    started = time.perf_counter()
    items: list[ItemScore] = []
    skipped: list[tuple[str, str]] = []
    loader = datasets.face_loader(faces, resize=resize, detector=detector, pool=pool)
    threads = workers or (pool.size + 1 if pool else max(2, os.cpu_count() or 2))  # +1 keeps every worker fed
    for batch in iter_face_batches([f.path for f in images], batch_size=batch_size, workers=threads, loader=loader):
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"Evaluation cancelled after {done} of {total} files.")
        scores = score_face_batch(classifier, batch.faces)
        for position, score in zip(batch.indices, scores):
            f = images[position]
            items.append(ItemScore(str(f.path), f.label, f.class_folder, "image", float(score)))
        skipped += [(str(images[position].path), str(error)) for position, error in batch.errors]
        done += len(batch.indices) + len(batch.errors)
        report(done, total)
    image_s = time.perf_counter() - started

    videos: list[ItemScore] = []
    # With a pool every video is queued at once, so the workers read them side by side.
    extract = partial(pool.submit, detector=detector) if pool else partial(extract_faces_from_media, detector=detector)
    extracts = [extract(f.path).result if pool else partial(extract, f.path) for f in video_files]
    for f, extract in zip(video_files, extracts):
        score = _score_video(f, classifier, extract, threshold=threshold, skipped=skipped)
        if score is not None:
            videos.append(score)
        done += 1
        report(done, total)

    return finish_evaluation(
        dataset,
        classifier.name,
        items,
        videos,
        skipped,
        faces=faces,
        threshold=threshold,
        group_by_video=group_by_video,
        timings={"images": image_s},
        started=started,
    )


def finish_evaluation(
    dataset: Dataset,
    model: str,
    items: list[ItemScore],
    videos: list[ItemScore],
    skipped: list[tuple[str, str]],
    *,
    faces: FaceMode,
    threshold: float,
    group_by_video: str | None,
    timings: dict[str, float],
    started: float,
    engine: str = "local",
) -> Evaluation:
    """The metrics and the Evaluation from every file's score, whichever engine (`engine`) made them.

    `items` (images) and `videos` are in dataset order, `skipped` images first; `timings` are the
    engine's stages in seconds ("images" gives "images_per_s"); `started` is the perf_counter at the start.

    Raises:
        MesonetError: nothing at all could be scored.
    """
    unmatched: list[str] = []
    if group_by_video is not None:
        groups, unmatched = group_frames_by_video(items, group_by_video)
        videos = videos + groups
    if not items and not videos:
        raise MesonetError(
            f"No file of {dataset.root} could be scored ({len(skipped)} skipped, e.g. "
            f"{skipped[0][1] if skipped else 'none'}). Check the files are images or videos of faces."
        )
    metrics = (
        compute_metrics([i.label for i in items], [i.score_real for i in items], threshold=threshold) if items else None
    )
    video_metrics = (
        compute_metrics([v.label for v in videos], [v.score_real for v in videos], threshold=threshold)
        if videos
        else None
    )
    image_s = timings.get("images", 0.0)
    timings = {name: round(seconds, 3) for name, seconds in timings.items()}
    timings["total"] = round(time.perf_counter() - started, 3)
    if items and image_s > 0:
        timings["images_per_s"] = round(len(items) / image_s, 1)
    return Evaluation(
        model,
        dataset.summary(),
        threshold,
        faces,
        items,
        videos,
        skipped,
        metrics,
        video_metrics,
        group_by_video,
        unmatched,
        timings,
        engine,
    )


def score_face_batch(classifier: Classifier, faces: np.ndarray) -> np.ndarray:
    """P(real) of decoded 256x256 crops, uint8 RGB of shape (N, 256, 256, 3), as one model call; shape (N,)."""
    return classifier.score_batch(preprocess_faces(faces))


def score_video(extraction: Extraction, classifier: Classifier, *, threshold: float) -> tuple[float, int]:
    """The video-level score of one video's extracted faces, as the paper aggregates it.

    Returns:
        (score_real = 1 - the mean P(fake) of the frames with a face, the number of those frames).

    Raises:
        NoFaceError: no sampled frame has a face.
    """
    summary = score_extraction(extraction, classifier, threshold=threshold).summary
    if summary.p_fake_mean is None:
        raise NoFaceError(f"{Path(extraction.path).name}: no face found in {summary.frames_sampled} sampled frames.")
    return score_real_of(summary.p_fake_mean), summary.frames_with_face


def _score_video(
    f: LabeledFile, classifier: Classifier, extract: Callable, *, threshold: float, skipped: list[tuple[str, str]]
) -> ItemScore | None:
    """Scores one video; `extract()` gives its Extraction (a worker's result, or one made here)."""
    try:
        score_real, n_frames = score_video(extract(), classifier, threshold=threshold)
    except MesonetError as exc:
        skipped.append((str(f.path), str(exc)))
        return None
    return ItemScore(str(f.path), f.label, f.class_folder, "video", score_real, f.path.stem, n_frames)
