"""The `mesonet` command line.

Every subcommand prints results on stdout and problems on stderr as one line each; a bad
input file never stops the rest of a batch, and makes the exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence

from mesonet.errors import MesonetError

EXIT_OK, EXIT_INPUT_ERROR, EXIT_INTERRUPTED = 0, 2, 130
MODEL_HELP = ("catalog weights: meso4-df, meso4-f2f, mesoinception4-df, mesoinception4-f2f; "
              "with --weights-file, the architecture: meso4 or mesoinception4")


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

    weights = commands.add_parser("weights", help="list or download the pretrained weights",
                                  description="List or download the four pretrained weight files.")
    weights_commands = weights.add_subparsers(title="weights commands", required=True, metavar="ACTION")
    listing = weights_commands.add_parser("list", help="show the catalog and which files are present",
                                          description="Show the catalog and which files are present.")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(run=_weights_list)
    fetch = weights_commands.add_parser("fetch", help="download weight files (all when no NAME is given)",
                                        description="Download weight files, checking their SHA-256.")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="catalog names; default: all four")
    fetch.set_defaults(run=_weights_fetch)

    predict = commands.add_parser(
        "predict", help="score images that are already face crops",
        description="Score images that are already face crops (like the authors' dataset). "
                    "For photos and videos with faces to find, use `mesonet detect`.")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    _add_model_options(predict)
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table")
    predict.set_defaults(run=_predict)
    return parser


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", default="meso4-df", help=f"{MODEL_HELP} (default: meso4-df)")
    parser.add_argument("--weights-file", metavar="PATH", help="your own weight file (.h5, .weights.h5 or .keras)")
    parser.add_argument("--threshold", type=_probability, default=0.5,
                        help="P(fake) at or above which a face is called fake (default: 0.5)")


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _error(message: str) -> None:
    print(f"mesonet: error: {message}", file=sys.stderr)


def _weights_list(args: argparse.Namespace) -> int:
    from mesonet.weights import find_weights, list_weights

    rows = []
    for entry in list_weights():
        try:
            status = "present" if find_weights(entry.name) else "missing"
        except MesonetError:
            status = "corrupted"
        rows.append({"name": entry.name, "architecture": entry.arch_title, "trained_on": entry.trained_on,
                     "status": status, "file": entry.filename, "sha256": entry.sha256, "url": entry.url})
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows, ["name", "architecture", "trained_on", "status"]))
    return EXIT_OK


def _weights_fetch(args: argparse.Namespace) -> int:
    from mesonet.weights import CATALOG, find_weights, get_weights, weights_path

    failed = False
    for name in args.names or list(CATALOG):
        try:
            entry = get_weights(name)
            if find_weights(entry.name):
                print(f"{entry.name}: already present at {find_weights(entry.name)}")
                continue
            path = weights_path(entry.name, progress=_ProgressBar(f"{entry.name}"))
            print(f"{entry.name}: saved to {path} (SHA-256 verified)")
        except MesonetError as exc:
            _error(str(exc))
            failed = True
    return EXIT_INPUT_ERROR if failed else EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from mesonet.scoring import load_classifier, predict_images

    classifier = load_classifier(args.model, weights_file=args.weights_file)
    results = predict_images(args.images, classifier, threshold=args.threshold)
    rows = [r.to_dict() for r in results if not isinstance(r, Exception)]
    for result in results:
        if isinstance(result, Exception):
            _error(str(result))
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        print(format_csv(rows), end="")
    elif rows:
        shown = [{**r, "score_real": f"{r['score_real']:.5f}", "p_fake": f"{r['p_fake']:.1%}"} for r in rows]
        print(format_table(shown, ["path", "model", "p_fake", "label", "score_real"]))
        print("p_fake = P(fake) = 1 - score_real; score_real is the network's raw output, P(real).")
    return EXIT_INPUT_ERROR if len(rows) < len(results) else EXIT_OK


def format_table(rows: list[dict], columns: list[str]) -> str:
    """Plain aligned text table."""
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def format_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class _ProgressBar:
    """A one-line progress bar on stderr, fed (done, total)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        fraction = done / total if total else 0.0
        bar = "#" * int(30 * fraction)
        end = "\n" if total and done >= total else ""
        print(f"\r{self.label} [{bar:<30}] {done}/{total or '?'}", end=end, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
