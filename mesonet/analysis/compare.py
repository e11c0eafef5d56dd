"""The same faces through several models: one verdict per model, scores per face, and where they disagree.

The faces are extracted once (`Extraction`); each model only rescores them. Used by the app's
Compare page and by `mesonet compare FILE`. Agreement between models is not correctness: models
trained on one manipulation can all miss another one together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesonet.analysis.pipeline import score_extraction
from mesonet.analysis.results import Analysis, Extraction, face_number
from mesonet.verdict import VERDICT_WORDS, verdict_for

AGREEMENT_NOTE = "Agreement is not correctness: weights trained on one manipulation can all miss another together."


@dataclass
class Comparison:
    """Analyses of the same faces by several models, keyed by a label for people (e.g. "Meso4 · Deepfake")."""

    analyses: dict[str, Analysis]

    @property
    def first(self) -> Analysis:
        return next(iter(self.analyses.values()))

    def verdict_rows(self) -> list[dict]:
        """One row per model: threshold, verdict, mean and median P(fake), share of fake frames, frames with a face."""
        return [
            {
                "model": label,
                "threshold": a.threshold,
                "verdict": a.summary.verdict,
                "p_fake_mean": a.summary.p_fake_mean,
                "p_fake_median": a.summary.p_fake_median,
                "vote_fake": a.summary.vote_fake,
                "frames_with_face": a.summary.frames_with_face,
                "frames_sampled": a.summary.frames_sampled,
            }
            for label, a in self.analyses.items()
        ]

    def face_scores(self):
        """P(fake) per face (rows: frame, time in seconds, face number from 1) and model (columns): a DataFrame."""
        import pandas as pd

        first = self.first
        index = pd.MultiIndex.from_tuples(
            [(f.frame_index, f.time_s, face_number(f.track_id)) for f in first.faces],
            names=["frame", "time (s)", "face"],
        )
        scores = {label: [f.p_fake for f in a.faces] for label, a in self.analyses.items()}
        return pd.DataFrame(scores, index=index).sort_index()  # within a frame, by face number

    def face_verdicts(self):
        """The verdict of each face (rows as in `face_scores`) by each model (columns), each at its own threshold."""
        scores = self.face_scores()
        return scores.apply(
            lambda column: [verdict_for(p, self.analyses[column.name].threshold) for p in column.to_numpy(np.float64)]
        )

    def disagreements(self):
        """The rows of `face_scores` that get different verdicts (fake, real, uncertain) from different models."""
        scores = self.face_scores()
        return scores[self.face_verdicts().nunique(axis=1) > 1]

    def agreement_words(self) -> str:
        """Whether the models agree, in one sentence that never takes agreement for correctness."""
        scores, disagree = self.face_scores(), self.disagreements()
        if len(disagree):
            return f"The models give different verdicts on {len(disagree)} of {len(scores)} faces. {AGREEMENT_NOTE}"
        verdicts = {a.summary.verdict for a in self.analyses.values()}
        said = f", {VERDICT_WORDS[verdicts.pop()]}" if len(verdicts) == 1 else ""
        return f"The models give the same verdict on all {len(scores)} faces{said}. {AGREEMENT_NOTE}"

    def to_dict(self) -> dict:
        """JSON-ready: the models' verdicts, and the faces they disagree on (frame, time, face number)."""
        scores, disagree = self.face_scores(), self.disagreements()
        return {
            "path": self.first.path,
            "models": self.verdict_rows(),
            "faces": len(scores),
            "disagreements": [
                {"frame": int(frame), "time_s": float(time_s), "face": int(face), "p_fake": row.to_dict()}
                for (frame, time_s, face), row in disagree.iterrows()
            ],
        }


def compare_models(extraction: Extraction, scorers: dict, *, threshold: float | None = None) -> Comparison:
    """Scores one extraction with every scorer (a Classifier or an Ensemble).

    Args:
        extraction: the faces, found once.
        scorers: {label for people: scorer}, in the order to show them.
        threshold: one threshold for every model, or None for each model's own.
    """
    analyses = {}
    for label, scorer in scorers.items():
        analyses[label] = score_extraction(
            extraction, scorer, threshold=scorer.threshold if threshold is None else threshold
        )
    return Comparison(analyses)
