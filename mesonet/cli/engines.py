"""Where `mesonet detect` and `mesonet evaluate` do their work: `--engine local` (this machine's
worker processes, `mesonet.analysis.workers`) or `--engine ray` (a Ray cluster, `mesonet.serving.ray_engine`).

Both engines give the same results, file for file; the command line prints them the same way.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from mesonet.cli.output import ProgressBar
from mesonet.errors import MesonetError


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this machine's worker processes (default); ray: Ray Data reads the files and an actor pool "
        'scores them, on a Ray cluster (needs pip install "mesonet-studio[ray]")',
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="with --engine ray: the cluster's address, as `ray start --head` prints it (default: RAY_ADDRESS, "
        "else a Ray instance started on this machine for the run)",
    )


def threshold_for(args: argparse.Namespace, weights_threshold: float) -> float:
    """--threshold, else the threshold the weights ship with."""
    return weights_threshold if args.threshold is None else args.threshold


def detect_files(args: argparse.Namespace, paths: list, sampling) -> list:
    """Per path, in order, its Analysis or the MesonetError that stopped it."""
    if not paths:
        return []
    return _detect_on_ray(args, paths, sampling) if args.engine == "ray" else _detect_locally(args, paths, sampling)


def evaluate_folder(args: argparse.Namespace):
    """The Evaluation of the dataset folder `args.dir`."""
    return _evaluate_on_ray(args) if args.engine == "ray" else _evaluate_locally(args)


def _detect_locally(args: argparse.Namespace, paths: list, sampling) -> list:
    from mesonet.analysis.pipeline import score_extraction
    from mesonet.analysis.workers import WorkerPool, follow
    from mesonet.models.ensemble import load_scorer

    results = []
    # The workers start (loading dlib) while this process loads the classifier.
    with WorkerPool(max(1, min(args.jobs, len(paths)))) as pool:
        jobs = [
            pool.submit(path, sampling=sampling, all_faces=args.all_faces, detector=args.detector) for path in paths
        ]
        try:
            classifier = load_scorer(args.model, weights_file=args.weights_file)
            threshold = threshold_for(args, classifier.threshold)
            for path, job in zip(paths, jobs):
                try:
                    # One bar per file only when files are analysed one after another.
                    bar = ProgressBar(Path(path).name) if pool.size == 1 else None
                    extraction = follow(job, progress=bar)
                except MesonetError as exc:
                    results.append(exc)
                    continue
                results.append(score_extraction(extraction, classifier, threshold=threshold, aggregate=args.aggregate))
        finally:
            for job in jobs:
                job.cancel()
    return results


def _detect_on_ray(args: argparse.Namespace, paths: list, sampling) -> list:
    from mesonet.models.ensemble import describe_scorer
    from mesonet.serving.ray_engine import detect_on_ray, import_ray, ray_cluster
    from mesonet.serving.ray_stages import ScorerSpec

    import_ray()  # says how to install Ray before anything else
    # The actors load the model; this process only checks the name and reads the threshold (no TensorFlow).
    _, weights_threshold = describe_scorer(args.model, weights_file=args.weights_file)
    with ray_cluster(args.address) as cluster:
        return detect_on_ray(
            paths,
            ScorerSpec(args.model, args.weights_file),
            threshold=threshold_for(args, weights_threshold),
            cluster=cluster,
            sampling=sampling,
            all_faces=args.all_faces,
            detector=args.detector,
            aggregate=args.aggregate,
            progress=ProgressBar("detect"),
        )


def _evaluate_locally(args: argparse.Namespace):
    from mesonet.analysis.workers import WorkerPool
    from mesonet.evaluation.evaluator import evaluate_dataset
    from mesonet.models.ensemble import load_scorer

    # Finding faces (in images and videos) runs in worker processes; aligned crops need none.
    with WorkerPool(args.jobs) if args.faces == "detect" else contextlib.nullcontext() as pool:
        classifier = load_scorer(args.model, weights_file=args.weights_file)
        return evaluate_dataset(
            args.dir,
            classifier,
            faces=args.faces,
            threshold=threshold_for(args, classifier.threshold),
            group_by_video=args.group_by_video,
            progress=ProgressBar("evaluate"),
            pool=pool,
        )


def _evaluate_on_ray(args: argparse.Namespace):
    from mesonet.models.ensemble import describe_scorer
    from mesonet.serving.ray_engine import evaluate_on_ray, import_ray, ray_cluster
    from mesonet.serving.ray_stages import ScorerSpec

    import_ray()  # says how to install Ray before anything else
    # The actors load the model; this process only checks the name and reads the threshold (no TensorFlow).
    name, weights_threshold = describe_scorer(args.model, weights_file=args.weights_file)
    with ray_cluster(args.address) as cluster:
        return evaluate_on_ray(
            args.dir,
            ScorerSpec(args.model, args.weights_file),
            model_name=name,
            threshold=threshold_for(args, weights_threshold),
            cluster=cluster,
            faces=args.faces,
            group_by_video=args.group_by_video,
            progress=ProgressBar("evaluate"),
        )
