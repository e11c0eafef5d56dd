"""The self-contained HTML report of an evaluation, and the figures it shares with the app.

`roc_figure`, `class_histogram_figure`, `reliability_figure` and the worst mistakes
(`mesonet.evaluation.evaluator.worst_mistakes`) are built here once, for the report and for the app's
Evaluate page alike.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from mesonet.analysis.reliability import weights_notes
from mesonet.data.datasets import CLASS_NAMES, LABEL_FORGED, LABEL_REAL
from mesonet.errors import MesonetError
from mesonet.evaluation.evaluator import Evaluation, ItemScore, worst_mistakes
from mesonet.evaluation.metrics import Metrics, format_metric
from mesonet.models.calibration import Reliability

FORGED_COLOR, REAL_COLOR = "#D32F2F", "#2E7D32"


def write_report(evaluation: Evaluation, path: str | Path, *, worst: int = 12, thumb_px: int = 128) -> Path:
    """Writes `report_html` to the .html file `path`; returns the path."""
    path = Path(path)
    path.write_bytes(report_html(evaluation, worst=worst, thumb_px=thumb_px))
    return path


def report_html(evaluation: Evaluation, *, worst: int = 12, thumb_px: int = 128) -> bytes:
    """A single self-contained HTML page (UTF-8 bytes) with the table, ROC curve, histograms and worst mistakes.

    Made while the dataset's files still exist: the thumbnails of the mistakes are read from them.

    Plotly's JavaScript and the thumbnails are inlined, so the file opens offline and can be
    mailed as is (about 5 MB, mostly plotly.js).

    Args:
        evaluation: the result of `evaluate_dataset`.
        worst: how many mistakes to show per class (the most confident wrong answers).
        thumb_px: thumbnail size in pixels.
    """
    parts = [
        f"<h1>MesoNet evaluation: {html.escape(evaluation.model)}</h1>",
        f"<p>Dataset <code>{html.escape(evaluation.dataset['root'])}</code>; threshold: P(fake) &ge; "
        f"{evaluation.threshold:g} is called forged. P(fake) = 1 &minus; score_real, the network's raw "
        "output P(real). Forged is the positive class of the ROC curve.</p>",
        "<h2>How far to trust these weights</h2><ul>"
        + "".join(f"<li>{html.escape(note)}</li>" for note in weights_notes(evaluation.model))
        + "</ul>",
    ]
    include_js: bool | str = True  # plotly.js once, in the first figure
    for title, items, metrics in (
        ("Frames", evaluation.items, evaluation.metrics),
        ("Videos", evaluation.videos, evaluation.video_metrics),
    ):
        if metrics is None:
            continue
        parts.append(f"<h2>{title}</h2>{_metrics_table_html(metrics)}")
        figures = [roc_figure(items, metrics), class_histogram_figure(items, evaluation.threshold)]
        for figure in figures:
            if figure is not None:
                parts.append(figure.to_html(full_html=False, include_plotlyjs=include_js))
                include_js = False
        if title == "Frames" or any(i.kind == "video" for i in items):
            parts.append(_mistakes_html(items, evaluation.threshold, worst=worst, thumb_px=thumb_px))
    if by_method := evaluation.by_method():
        parts.append("<h2>Per manipulation (each forged folder against all real items)</h2>")
        parts.append(_by_method_table_html(by_method))
    if (curve := evaluation.calibration()) is not None:
        parts.append(
            f"<h2>Calibration</h2><p>Expected calibration error (ECE): {curve.ece:.4f}. A calibrated model's "
            "points lie on the diagonal: of the faces it gives P(fake) 70%, 70% are forged.</p>"
        )
        parts.append(reliability_figure(curve).to_html(full_html=False, include_plotlyjs=include_js))
    if evaluation.skipped:
        rows = "".join(f"<li><code>{html.escape(p)}</code>: {html.escape(r)}</li>" for p, r in evaluation.skipped)
        parts.append(f"<h2>Skipped files ({len(evaluation.skipped)})</h2><ul>{rows}</ul>")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>MesoNet evaluation</title>"
        f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    return page.encode("utf-8")


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
    ".gallery{display:flex;flex-wrap:wrap;gap:8px}.gallery figure{margin:0;width:140px;font-size:11px;"
    "word-break:break-all}"
)


def _metrics_table_html(m: Metrics) -> str:
    (ff, fr), (rf, rr) = m.confusion
    rows = [
        ("Forged accuracy", format_metric(m.accuracy_forged)),
        ("Real accuracy", format_metric(m.accuracy_real)),
        ("Total accuracy", format_metric(m.accuracy_total)),
        ("ROC AUC", format_metric(m.roc_auc)),
        ("EER", format_metric(m.eer)),
        ("Average precision", format_metric(m.average_precision)),
        (
            "Best threshold (balanced accuracy)",
            f"{format_metric(m.best_threshold)} ({format_metric(m.best_balanced_accuracy)})",
        ),
        ("Forged / real items", f"{m.n_forged} / {m.n_real}"),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    confusion = (
        f"<table><tr><th></th><th>called forged</th><th>called real</th></tr>"
        f"<tr><th>forged</th><td>{ff}</td><td>{fr}</td></tr>"
        f"<tr><th>real</th><td>{rf}</td><td>{rr}</td></tr></table>"
    )
    return f"<table>{table}</table><h3>Confusion matrix</h3>{confusion}"


def _by_method_table_html(by_method: dict[str, Metrics]) -> str:
    header = "<tr><th>manipulation</th><th>forged accuracy</th><th>total accuracy</th><th>ROC AUC</th><th>n</th></tr>"
    rows = "".join(
        f"<tr><th>{html.escape(method)}</th><td>{format_metric(m.accuracy_forged)}</td>"
        f"<td>{format_metric(m.accuracy_total)}</td><td>{format_metric(m.roc_auc)}</td>"
        f"<td>{m.n_forged} / {m.n_real}</td></tr>"
        for method, m in by_method.items()
    )
    return f"<table>{header}{rows}</table>"


def reliability_figure(curve: Reliability):
    """The reliability curve: mean P(fake) per bin against the share of forged items, with the diagonal."""
    import plotly.graph_objects as go

    filled = curve.counts > 0
    figure = go.Figure(
        [
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#888"}, name="calibrated"),
            go.Scatter(
                x=curve.mean_p_fake[filled],
                y=curve.share_forged[filled],
                mode="lines+markers",
                marker={"size": 6 + 14 * curve.counts[filled] / curve.counts.max()},
                customdata=curve.counts[filled],
                hovertemplate="mean P(fake) %{x:.1%}<br>forged %{y:.1%}<br>%{customdata} items<extra></extra>",
                name=f"model (ECE {curve.ece:.3f})",
            ),
        ]
    )
    figure.update_layout(
        xaxis={"title": "mean P(fake) in the bin", "range": [0, 1], "tickformat": ".0%"},
        yaxis={"title": "share of forged items", "range": [0, 1], "tickformat": ".0%"},
        height=360,
        margin={"t": 20, "b": 40},
    )
    return figure


def roc_figure(items: Sequence[ItemScore], metrics: Metrics):
    """The ROC curve of P(fake) with forged as the positive class, or None with a single class.

    Returns:
        A plotly Figure, or None when the items hold one class only (no curve exists).
    """
    import plotly.graph_objects as go
    from sklearn.metrics import roc_curve

    if metrics.roc_auc is None:
        return None
    fpr, tpr, _ = roc_curve([i.label == LABEL_FORGED for i in items], [i.p_fake for i in items])
    figure = go.Figure(
        [
            go.Scatter(x=fpr, y=tpr, mode="lines", name=f"ROC (AUC {metrics.roc_auc:.4f})", line_color="#6C3BD1"),
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dash", "color": "#999"}),
        ]
    )
    figure.update_layout(
        title="ROC curve (forged = positive)",
        xaxis_title="false-positive rate (real called forged)",
        yaxis_title="true-positive rate (forged called forged)",
        height=420,
        margin={"t": 40, "b": 40},
    )
    return figure


def class_histogram_figure(items: Sequence[ItemScore], threshold: float):
    """Overlaid histograms of P(fake) for the forged and the real items, with the threshold line."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for label, color in ((LABEL_FORGED, FORGED_COLOR), (LABEL_REAL, REAL_COLOR)):
        values = [i.p_fake for i in items if i.label == label]
        if values:
            figure.add_trace(
                go.Histogram(
                    x=values,
                    name=CLASS_NAMES[label],
                    marker_color=color,
                    opacity=0.6,
                    xbins={"start": 0, "end": 1, "size": 0.025},
                )
            )
    figure.add_vline(x=threshold, line_dash="dash", line_color="#888", annotation_text="threshold")
    figure.update_layout(
        barmode="overlay",
        title="P(fake) per true class",
        xaxis_title="P(fake)",
        yaxis_title="items",
        height=380,
        margin={"t": 40, "b": 40},
    )
    return figure


def _mistakes_html(items: Sequence[ItemScore], threshold: float, *, worst: int, thumb_px: int) -> str:
    blocks = []
    for label in (LABEL_FORGED, LABEL_REAL):
        wrong = worst_mistakes([i for i in items if i.label == label], threshold, limit=None)
        cards = "".join(_thumbnail_card(i, thumb_px) for i in wrong[:worst])
        blocks.append(
            f"<h3>Worst mistakes: {CLASS_NAMES[label]} ({len(wrong)} wrong)</h3>"
            f"<div class='gallery'>{cards or 'none'}</div>"
        )
    return "".join(blocks)


def _thumbnail_card(item: ItemScore, size: int) -> str:
    caption = f"{html.escape(Path(item.path).name)}<br>P(fake) {item.p_fake:.3f}"
    data = _thumbnail_b64(item, size)
    image = f"<img src='data:image/jpeg;base64,{data}' width='{size}'>" if data else "<div>(no preview)</div>"
    return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"


def _thumbnail_b64(item: ItemScore, size: int) -> str | None:
    from PIL import Image

    from mesonet.media.images import iter_media_frames, load_image
    from mesonet.media.video import FrameSampling

    try:
        if item.kind == "video":
            _, frames = iter_media_frames(item.path, FrameSampling(n_frames=1))
            rgb = next(iter(frames)).rgb
        elif item.kind == "image":
            rgb = load_image(item.path)
        else:
            return None
    except (MesonetError, StopIteration):
        return None
    image = Image.fromarray(rgb)
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return base64.b64encode(out.getvalue()).decode("ascii")
