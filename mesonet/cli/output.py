"""What the command line prints: text tables, CSV and a progress bar on stderr."""

from __future__ import annotations

import csv
import io
import sys

from mesonet.analysis.results import csv_safe_rows, face_number
from mesonet.verdict import VERDICT_WORDS


def summary_row(analysis) -> dict:
    """One file's line: its verdict in the app's words, the face that decided and the weights."""
    summary = analysis.summary
    pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    decided_by = "-" if summary.track_id is None else f"face {face_number(summary.track_id)}"
    return {
        "file": analysis.path,
        "verdict": VERDICT_WORDS[summary.verdict],
        "p_fake": pct(summary.p_fake_mean),
        "vote_fake": pct(summary.vote_fake),
        "decided_by": decided_by,
        "frames": f"{summary.frames_with_face}/{summary.frames_sampled}",
        "model": analysis.model,
    }


def reliability_lines(analysis) -> list[str]:
    """The reliability notes of one file, one "file: note" line each."""
    return [f"{analysis.path}: {note}" for note in analysis.reliability]


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
    writer.writerows(csv_safe_rows(rows))
    return out.getvalue()


class ProgressBar:
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
