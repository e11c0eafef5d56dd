"""Reliability notes: when the input is outside what the weights were validated on, say so in plain words.

Three things are measured from the input and checked against the weights' validated range
(`mesonet.models.weights.ValidatedRange`, next to their threshold in the catalog):
- compression: a video's bits per pixel and frame, below the range's floor;
- face size: the width in frame pixels of the face that decided, below the range's floor;
- manipulation: a "real" or "uncertain" verdict only speaks for the forgeries the weights saw.
And two facts of the result itself: no face seen in enough frames to decide, and custom weights
whose range nobody measured. The notes go on the verdict card, in the JSON (`reliability`), in
the command line's output and in the HTML report.
"""

from __future__ import annotations

import numpy as np

from mesonet.analysis.results import Extraction, FaceScore, face_number
from mesonet.models.weights import CATALOG, ENSEMBLES, MANIPULATIONS, WeightsEntry
from mesonet.verdict import VERDICT_WORDS, Summary, frames_to_decide


def catalog_entries(model: str) -> list[WeightsEntry]:
    """The catalog entries behind a model name: one for catalog weights, the members of a named ensemble, else none."""
    if model in CATALOG:
        return [CATALOG[model]]
    return [CATALOG[member] for member in ENSEMBLES.get(model, ())]


def _listing(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def weights_notes(model: str) -> list[str]:
    """What the weights were trained on and are known to get wrong: the notes of a whole evaluation."""
    entries = catalog_entries(model)
    if not entries:
        return [_CUSTOM_NOTE.format(model=model)]
    return [
        f"{entry.title} ({entry.name}) was trained on {entry.trained_on}. Known failures: {entry.known_failures}"
        for entry in entries
    ]


_CUSTOM_NOTE = (
    "These weights ({model}) are not in the catalog: nobody measured where they are reliable, so treat this "
    "verdict as a guess until you evaluate them on data like yours (Evaluate page)."
)


def reliability_notes(extraction: Extraction, faces: list[FaceScore], summary: Summary, model: str) -> list[str]:
    """Plain-words notes on how far to trust this verdict; empty when the input is inside the validated range."""
    if summary.verdict == "no face":
        return []
    entries = catalog_entries(model)
    ranges = [entry.validated for entry in entries if entry.validated is not None]
    if not ranges:
        return [_CUSTOM_NOTE.format(model=model)]
    notes = []
    if not summary.decides:
        notes.append(
            f"No face was seen in enough frames to decide (at least {frames_to_decide(summary.frames_sampled)} of "
            f"{summary.frames_sampled}): face {face_number(summary.track_id)} was seen in {summary.frames_with_face}."
        )
    bits_per_pixel = extraction.info.bits_per_pixel if extraction.info is not None else None
    if bits_per_pixel is not None and bits_per_pixel < max(r.min_bits_per_pixel for r in ranges):
        behaviour = "; ".join(dict.fromkeys(r.heavy_compression for r in ranges))
        notes.append(
            f"This video is heavily compressed (about {bits_per_pixel:.3f} bits per pixel; FaceForensics++ c40 is "
            f"about 0.004): {behaviour} (see the model card)."
        )
    widths = [face.box[1] - face.box[3] for face in faces if face.track_id == summary.track_id]
    min_face_px = max(r.min_face_px for r in ranges)
    if widths and np.median(widths) < min_face_px:
        notes.append(
            f"The face that decided is about {int(np.median(widths))} pixels wide, under the {min_face_px} pixels "
            "these weights were validated on: it was enlarged to the network's 256-pixel input, which blurs the "
            "fine detail the network reads."
        )
    seen = list(dict.fromkeys(m for r in ranges for m in r.manipulations))
    unseen = [m for m in MANIPULATIONS if m not in seen]
    if summary.verdict in ("real", "uncertain") and unseen:
        notes.append(
            f"{VERDICT_WORDS[summary.verdict]} only speaks for {_listing(seen)}: these weights never learned "
            f"{_listing(unseen)}, which they miss (see the model card)."
        )
    return notes
