"""The `mesonet` command line.

Every subcommand prints results on stdout and problems on stderr as one line each; a bad
input file never stops the rest of a batch, and makes the exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mesonet.analysis.results import csv_safe_frame
from mesonet.cli.annotate import add_annotate_options, annotate_analysis, check_annotate_options
from mesonet.cli.engines import add_engine_options, detect_files, evaluate_folder, threshold_for
from mesonet.cli.output import ProgressBar as _ProgressBar
from mesonet.cli.output import format_csv, format_table, reliability_lines
from mesonet.cli.output import summary_row as _summary_row
from mesonet.errors import MesonetError
from mesonet.faces.detect import DEFAULT_DETECTOR, DETECTORS
from mesonet.models.networks import ARCHITECTURES
from mesonet.models.weights import DEFAULT_WEIGHTS, ENSEMBLE_RULE, ENSEMBLES, catalog_status, list_weights
from mesonet.verdict import DEFAULT_THRESHOLD, VERDICT_WORDS

EXIT_OK, EXIT_INPUT_ERROR, EXIT_INTERRUPTED = 0, 2, 130


def model_help(*, ensembles: bool = True) -> str:
    """The --model help, from the catalog: its names, its ensembles, then the architectures for --weights-file."""
    ensemble_help = (
        f"; an ensemble: {', '.join(ENSEMBLES)}, or catalog names joined by commas "
        f"(rule: {ENSEMBLE_RULE.replace('%', '%%')})"
        if ensembles
        else ""
    )
    return (
        f"catalog weights: {', '.join(entry.name for entry in list_weights())}{ensemble_help}; with --weights-file, "
        f"the architecture: {' or '.join(ARCHITECTURES)} (default: {DEFAULT_WEIGHTS})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except MesonetError as exc:
        _error(str(exc))
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mesonet",
        description="MesoNet face-forgery detection (Afchar et al., WIFS 2018). Scores are P(fake) = 1 - the "
        "network's raw output, which is P(real).",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    weights = commands.add_parser(
        "weights",
        help="list or download the pretrained weights",
        description="List or download the catalog's pretrained weight files.",
    )
    weights_commands = weights.add_subparsers(title="weights commands", required=True, metavar="ACTION")
    listing = weights_commands.add_parser(
        "list",
        help="show the catalog and which files are present",
        description="Show the catalog and which files are present.",
    )
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(run=_weights_list)
    fetch = weights_commands.add_parser(
        "fetch",
        help="download weight files (all when no NAME is given)",
        description="Download weight files, checking their SHA-256.",
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help="catalog names; default: every entry")
    fetch.set_defaults(run=_weights_fetch)

    predict = commands.add_parser(
        "predict",
        help="score images that are already face crops",
        description="Score images that are already face crops (like the authors' dataset). "
        "For photos and videos with faces to find, use `mesonet detect`.",
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    _add_model_options(predict)
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table")
    predict.set_defaults(run=_predict)

    detect = commands.add_parser(
        "detect",
        help="find faces in photos or videos and score them",
        description="Find and align faces in photos or videos, score each sampled frame and give a verdict per "
        "file. Frames: 30 evenly spaced by default. A FOLDER stands for its photos and videos.",
    )
    detect.add_argument("files", nargs="+", metavar="FILE|FOLDER")
    _add_model_options(detect)
    frames = detect.add_mutually_exclusive_group()
    frames.add_argument("--frames", type=_positive_int, metavar="N", help="N frames evenly spaced (default: 30)")
    frames.add_argument("--every", type=_positive_int, metavar="K", help="every K-th frame")
    frames.add_argument("--all-frames", action="store_true", help="every frame")
    detect.add_argument("--start", type=float, metavar="S", help="start time in seconds")
    detect.add_argument("--end", type=float, metavar="S", help="end time in seconds")
    detect.add_argument("--max-frames", type=_positive_int, metavar="N", help="at most N frames per video")
    exact_help = "decode exactly the sampled frames, never a nearby keyframe or reference picture (slower)"
    detect.add_argument("--exact", action="store_true", help=exact_help)
    _add_jobs_option(detect)
    add_engine_options(detect)
    detect.add_argument("--all-faces", action="store_true", help="follow every face, not only the largest")
    detect.add_argument(
        "--detector",
        choices=DETECTORS,
        default=DEFAULT_DETECTOR,
        help="face detector: auto (HOG, and HOG at twice the resolution on frames where it finds no face; "
        "default), hog (fastest) or mtcnn (HOG, then MTCNN where HOG finds no face: turned faces too)",
    )
    detect.add_argument(
        "--aggregate",
        choices=("mean", "vote"),
        default="mean",
        help="video verdict from the mean P(fake) (the paper, default) or the share of fake frames (the authors' code)",
    )
    detect.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH, or - for stdout")
    detect.add_argument("--csv", metavar="PATH", help="write one row per frame and face to PATH")
    detect.add_argument("--save-crops", metavar="DIR", help="save the aligned 256x256 face crops as PNG files")
    add_annotate_options(detect)
    detect.set_defaults(run=_detect)

    compare = commands.add_parser(
        "compare",
        help="score the same faces with every catalog model and ensemble",
        description="Find faces in one photo or video once, score them with every model of the catalog and "
        "every catalog ensemble, and list each model's verdict and the faces they disagree on. Models that "
        "agree can still all be wrong: each set of weights knows the manipulation it was trained on.",
    )
    compare.add_argument("file", metavar="FILE")
    compare.add_argument("--frames", type=_positive_int, default=30, metavar="N", help="N frames evenly spaced")
    compare.add_argument("--all-faces", action="store_true", help="follow every face, not only the largest")
    compare.add_argument(
        "--threshold",
        type=_probability,
        default=None,
        help="one P(fake) threshold for every model (default: each model's own)",
    )
    compare.add_argument("--json", metavar="PATH", help="write the comparison as JSON to PATH, or - for stdout")
    compare.set_defaults(run=_compare)

    explain = commands.add_parser(
        "explain",
        help="show how a network sees a face: feature maps, saliency, degradation curves",
        description="Write feature-map grids, Grad-CAM and integrated-gradients overlays, and P(fake) curves "
        "under JPEG compression, blur, downscaling and noise, as PNG files plus a JSON of the curves.",
    )
    explain.add_argument("image", metavar="IMAGE", help="a photo with a face, or a face crop with --face-crop")
    _add_model_options(explain, ensembles=False)
    explain.add_argument("--face-crop", action="store_true", help="IMAGE is already an aligned face crop")
    explain.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG and JSON files")
    explain.set_defaults(run=_explain)

    faceswap = commands.add_parser(
        "faceswap",
        help="put the face of a photo onto the face in another photo or a video (the face-swap lesson)",
        description="A classic face swap: 68 landmarks, a triangle mesh, one affine warp per triangle, colour "
        "matching and Poisson blending. SOURCE is a photo of one face seen from the front; TARGET a photo or a "
        "video. Every output carries a visible label saying it was made here.",
    )
    faceswap.add_argument("source", metavar="SOURCE", help="a photo of the face to paste")
    faceswap.add_argument("target", metavar="TARGET", help="a photo or a video whose face is replaced")
    faceswap.add_argument(
        "--out", required=True, metavar="OUT", help="OUT.png or OUT.jpg for a photo TARGET, OUT.mp4 for a video"
    )
    faceswap.add_argument("--max-seconds", type=float, metavar="S", help="swap only a video's first S seconds")
    faceswap.set_defaults(run=_faceswap)
    _add_dataset_commands(commands)
    return parser


def _add_dataset_commands(commands) -> None:
    """`evaluate` and `train`: whole class-folder datasets (df/, fake/, f2f/, deepfake/, forged/ vs real/)."""
    from mesonet.evaluation.evaluator import DEFAULT_VIDEO_PATTERN

    layout = (
        "DIR holds one folder per class: df, fake, f2f, deepfake or forged for forged faces (several may "
        "coexist), real for real faces."
    )
    evaluate = commands.add_parser(
        "evaluate",
        help="score a labelled dataset: accuracy per class, ROC AUC, EER",
        description=f"Score every file of a labelled dataset. {layout} Images are "
        "face crops unless --faces detect; videos get video-level scores.",
    )
    evaluate.add_argument("dir", metavar="DIR")
    _add_model_options(evaluate)
    evaluate.add_argument(
        "--faces",
        choices=("aligned", "detect"),
        default="aligned",
        help="aligned: images are face crops (default); detect: find the largest face first",
    )
    evaluate.add_argument(
        "--group-by-video",
        nargs="?",
        const=DEFAULT_VIDEO_PATTERN,
        metavar="REGEX",
        help=f"per-video accuracy, grouping images by REGEX on the file name without extension "
        f"(default pattern for <video>_<frame>.jpg: {DEFAULT_VIDEO_PATTERN})",
    )
    _add_jobs_option(evaluate)
    add_engine_options(evaluate)
    evaluate.add_argument("--report", metavar="PATH.html", help="write a self-contained HTML report")
    evaluate.add_argument("--json", metavar="PATH", help="write the metrics and skipped files as JSON")
    evaluate.add_argument("--csv", metavar="PATH", help="write one row per file")
    evaluate.set_defaults(run=_evaluate)

    train = commands.add_parser(
        "train",
        help="train or fine-tune a network on a labelled dataset",
        description=f"Train with the paper's recipe (MSE, Adam 1e-3 divided by 10 every "
        f"1000 steps, batch 75, augmentation). {layout} Running the same "
        "command again resumes from the checkpoint beside --out.",
    )
    train.add_argument("dir", metavar="DIR")
    train.add_argument("--arch", choices=ARCHITECTURES, required=True)
    train.add_argument(
        "--init", metavar="NAME|PATH", help="starting weights: catalog name or weight file (default: random)"
    )
    train.add_argument("--epochs", type=_positive_int, default=20, help="default: 20")
    train.add_argument("--batch-size", type=_positive_int, default=75, help="default: 75")
    train.add_argument("--val-split", type=float, default=0.1, help="share kept for validation (default: 0.1)")
    train.add_argument("--steps-per-epoch", type=_positive_int, metavar="N", help="default: one pass over the data")
    train.add_argument("--max-steps", type=_positive_int, metavar="N", help="stop after N steps in total")
    train.add_argument(
        "--dense-units",
        type=_positive_int,
        nargs="+",
        default=[16],
        metavar="N",
        help="hidden dense layers of the head (default: 16, the paper's)",
    )
    train.add_argument(
        "--out",
        metavar="PATH",
        help="weights file, ending .weights.h5 (default: <arch>_trained.weights.h5); metadata goes beside it",
    )
    train.set_defaults(run=_train)

    serve = commands.add_parser(
        "serve",
        help="serve the app to a class on this machine's network",
        description="Start the app for every device on this network and print the addresses to open. With "
        "--https it serves HTTPS with a self-signed certificate made once for this machine, so that students' "
        "browsers let the Live camera page use their cameras (they accept the certificate once).",
    )
    serve.add_argument("--port", type=_positive_int, default=8501, help="default: 8501")
    serve.add_argument("--https", action="store_true", help="serve HTTPS with a self-signed certificate")
    serve.add_argument("--address", default="0.0.0.0", help="the interface to listen on (default: 0.0.0.0, every one)")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    import signal
    import tempfile

    from mesonet.serving.app_server import start_streamlit, stop_streamlit
    from mesonet.serving.tls import certificate, lan_addresses

    tls = certificate() if args.https else None
    log = Path(tempfile.mkdtemp(prefix="mesonet-serve-")) / "server.log"
    try:
        process, local_url, _ = start_streamlit(log, timeout_s=120, address=args.address, port=args.port, tls=tls)
    except RuntimeError as exc:
        _error(str(exc))
        return EXIT_INPUT_ERROR
    scheme = "https" if tls else "http"
    hosts = ["127.0.0.1"] if args.address in ("127.0.0.1", "localhost") else lan_addresses()
    urls = [f"{scheme}://{host}:{args.port}" for host in hosts] or [local_url]
    print(f"MesoNet Studio is running (log: {log}). Open on this machine: {local_url}")
    for url in urls:
        print(f"  on this network: {url}   (a class round: {url}/class_round)")
    if tls:
        print("The certificate is self-signed: each browser asks once to accept it (Advanced, then Proceed).")
    _print_qr(f"{urls[0]}/class_round")
    print("Press Ctrl+C to stop.", flush=True)
    # A stop request (SIGTERM, e.g. from a service manager) stops the app server too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return process.wait()
    finally:
        stop_streamlit(process)


def _print_qr(text: str) -> None:
    """A QR code of `text` in the terminal, for phones to scan off the teacher's screen."""
    import segno

    segno.make(text, error="m").terminal(compact=True)


def _add_model_options(parser: argparse.ArgumentParser, *, ensembles: bool = True) -> None:
    parser.add_argument("--model", "-m", default=DEFAULT_WEIGHTS, help=model_help(ensembles=ensembles))
    parser.add_argument("--weights-file", metavar="PATH", help="your own weight file (.h5, .weights.h5 or .keras)")
    parser.add_argument(
        "--threshold",
        type=_probability,
        default=None,
        help="P(fake) at or above which a face is called fake (default: the weights' own threshold, picked on "
        f"validation data; {DEFAULT_THRESHOLD} for the released weights)",
    )


def _add_jobs_option(parser: argparse.ArgumentParser) -> None:
    from mesonet.config import worker_count

    jobs = worker_count()
    help_text = f"files analysed at once, each in its own worker process (default: {jobs}, the cores)"
    parser.add_argument("--jobs", "-j", type=_positive_int, default=jobs, metavar="N", help=help_text)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _error(message: str) -> None:
    print(f"mesonet: error: {message}", file=sys.stderr)


def _weights_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "name": entry.name,
            "architecture": entry.arch_title,
            "trained_on": entry.trained_on,
            "status": catalog_status(entry.name),
            "file": entry.filename,
            "sha256": entry.sha256,
            "url": entry.url,
        }
        for entry in list_weights()
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows, ["name", "architecture", "trained_on", "status"]))
    return EXIT_OK


def _weights_fetch(args: argparse.Namespace) -> int:
    from mesonet.models.weights import find_weights, get_weights, weights_path

    failed = False
    for name in args.names or [entry.name for entry in list_weights()]:
        try:
            entry = get_weights(name)
            if present := find_weights(entry.name):
                print(f"{entry.name}: already present at {present}")
                continue
            path = weights_path(entry.name, progress=_ProgressBar(f"{entry.name}"))
            print(f"{entry.name}: saved to {path} (SHA-256 verified)")
        except MesonetError as exc:
            _error(str(exc))
            failed = True
    return EXIT_INPUT_ERROR if failed else EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from mesonet.models.ensemble import load_scorer
    from mesonet.models.scoring import predict_images

    classifier = load_scorer(args.model, weights_file=args.weights_file)
    results = predict_images(args.images, classifier, threshold=threshold_for(args, classifier.threshold))
    rows = [r.to_dict() for r in results if not isinstance(r, Exception)]
    for result in results:
        if isinstance(result, Exception):
            _error(str(result))
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        print(format_csv(rows), end="")
    elif rows:
        shown = [
            {
                **r,
                "score_real": f"{r['score_real']:.5f}",
                "p_fake": f"{r['p_fake']:.1%}",
                "label": VERDICT_WORDS[r["label"]],
            }
            for r in rows
        ]
        print(format_table(shown, ["path", "model", "p_fake", "label", "score_real"]))
        print("p_fake = P(fake) = 1 - score_real; score_real is the network's raw output, P(real).")
    return EXIT_INPUT_ERROR if len(rows) < len(results) else EXIT_OK


def _detect(args: argparse.Namespace) -> int:
    from mesonet.analysis.results import save_crops
    from mesonet.data.datasets import media_files
    from mesonet.media.images import check_media
    from mesonet.media.video import FrameSampling

    check_annotate_options(args)
    # Headers first: a hostile or broken file is refused in milliseconds, before TensorFlow loads.
    readable, failed = [], 0
    for path in media_files(args.files):
        try:
            check_media(path)
            readable.append(path)
        except MesonetError as exc:
            _error(str(exc))
            failed += 1
    common = {"start_s": args.start, "end_s": args.end, "max_frames": args.max_frames, "exact": args.exact}
    if args.all_frames:
        sampling = FrameSampling(mode="all", **common)
    elif args.every:
        sampling = FrameSampling(mode="every", every=args.every, **common)
    else:
        sampling = FrameSampling(mode="even", n_frames=args.frames or 30, **common)
    analyses = []
    for result in detect_files(args, readable, sampling):
        if isinstance(result, MesonetError):
            _error(str(result))
            failed += 1
            continue
        analyses.append(result)
        if args.save_crops:
            save_crops(result.extraction, args.save_crops, Path(result.path).stem)
    annotated = None
    if args.annotate and analyses:
        try:
            annotated = annotate_analysis(args, analyses[0])
        except MesonetError as exc:
            _error(str(exc))
            failed += 1
    rows = [_summary_row(a) for a in analyses]
    table_out = sys.stderr if args.json == "-" else sys.stdout
    if rows:
        print(format_table(rows, list(rows[0])), file=table_out)
    for analysis in analyses:
        for line in reliability_lines(analysis):
            print(line, file=table_out)
    if annotated:
        print(annotated, file=table_out)
    if args.json:
        text = json.dumps([a.to_dict() for a in analyses], indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if args.csv:
        import pandas as pd

        frames = [a.to_dataframe().assign(path=a.path, model=a.model) for a in analyses]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        csv_safe_frame(table).to_csv(args.csv, index=False)
    return EXIT_INPUT_ERROR if failed else EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from mesonet.analysis.compare import compare_models
    from mesonet.analysis.pipeline import extract_faces_from_media
    from mesonet.media.images import check_media
    from mesonet.media.video import FrameSampling
    from mesonet.models.ensemble import load_scorer
    from mesonet.models.weights import ENSEMBLES, catalog_status, list_weights

    check_media(args.file)  # a hostile or broken file is refused before TensorFlow loads
    extraction = extract_faces_from_media(
        args.file, sampling=FrameSampling(n_frames=args.frames), all_faces=args.all_faces
    )
    names = [entry.name for entry in list_weights() if catalog_status(entry.name) == "present"] + list(ENSEMBLES)
    comparison = compare_models(extraction, {name: load_scorer(name) for name in names}, threshold=args.threshold)
    if args.json == "-":
        print(json.dumps(comparison.to_dict(), indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(comparison.to_dict(), indent=2) + "\n")
    rows = [
        {
            "model": row["model"],
            "threshold": f"{row['threshold']:.2f}",
            "verdict": VERDICT_WORDS[row["verdict"]],
            "p_fake_mean": "-" if row["p_fake_mean"] is None else f"{row['p_fake_mean']:.1%}",
            "faces_in_frames": f"{row['frames_with_face']}/{row['frames_sampled']}",
        }
        for row in comparison.verdict_rows()
    ]
    out = sys.stderr if args.json == "-" else sys.stdout
    print(format_table(rows, list(rows[0])), file=out)
    if not comparison.first.faces:
        print(f"{Path(args.file).name}: no face found, so there is nothing to compare.", file=out)
        return EXIT_OK
    print(comparison.agreement_words(), file=out)
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from mesonet.errors import NoFaceError
    from mesonet.faces.detect import extract_faces
    from mesonet.media.images import load_image
    from mesonet.models.explain import write_explanation
    from mesonet.models.scoring import load_classifier

    classifier = load_classifier(args.model, weights_file=args.weights_file)
    image = load_image(args.image)
    if args.face_crop:
        crop = image
    else:
        faces = extract_faces(image)
        if not faces:
            raise NoFaceError(
                f"{Path(args.image).name}: no face found. Use a clearer photo, or --face-crop if the "
                f"image is already a face crop."
            )
        crop = faces[0].crop
    summary = write_explanation(classifier, crop, args.out)
    print(
        f"P(fake) {summary['p_fake']:.1%} with {classifier.name}; wrote {len(summary['files']) + 1} files to {args.out}"
    )
    for name in summary["files"] + ["degradation.json"]:
        print(f"  {name}")
    return EXIT_OK


def _faceswap(args: argparse.Namespace) -> int:
    from mesonet.errors import FaceSwapError
    from mesonet.faces.swap import check_swap_output, save_swap_image, swap_faces, swap_video
    from mesonet.media.images import check_media, is_video, load_image
    from mesonet.media.video import VIDEO_EXTENSIONS

    source, target = Path(args.source), Path(args.target)
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise FaceSwapError(f"--max-seconds must be more than 0, got {args.max_seconds}.")
    # Headers and paths first: a wrong file or output name is refused before any face is looked for.
    check_media(source)  # a text file named .mp4 is "a text file", not "a video"
    if source.suffix.lower() in VIDEO_EXTENSIONS:
        raise FaceSwapError(f"{source.name}: is a video; the face to paste comes from a photo (JPEG, PNG, ...).")
    check_media(target)
    out = check_swap_output(args.out, target)
    photo = load_image(source)
    if is_video(target):
        swap_video(
            photo, target, out, max_seconds=args.max_seconds, progress=_ProgressBar("faceswap"), source_name=source.name
        )
    else:
        result = swap_faces(photo, load_image(target), source_name=source.name, target_name=target.name)
        save_swap_image(result.result, out)
    print(out)
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from mesonet.evaluation.report import write_report

    result = evaluate_folder(args)
    for _, reason in result.skipped:
        _error(reason)
    print(result.format_table())
    if args.json:
        result.write_json(args.json)
    if args.csv:
        result.write_csv(args.csv)
    if args.report:
        print(f"report: {write_report(result, args.report)}")
    return EXIT_INPUT_ERROR if result.skipped else EXIT_OK


def _train(args: argparse.Namespace) -> int:
    from mesonet.models.networks import Variant
    from mesonet.training.config import TrainConfig
    from mesonet.training.train import format_epoch, train

    config = TrainConfig(
        arch=args.arch,
        variant=Variant(dense_units=tuple(args.dense_units)),
        init=args.init,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_split=args.val_split,
        steps_per_epoch=args.steps_per_epoch,
        max_steps=args.max_steps,
    )
    result = train(
        args.dir,
        args.out or f"{args.arch}_trained.weights.h5",
        config=config,
        progress=_ProgressBar("train"),
        on_epoch=lambda entry: print(format_epoch(entry), flush=True),
    )
    print(
        f"best weights: {result.weights_path} (metadata in {result.weights_path.name}.json; stopped after "
        f"{result.stopped_because})"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
