"""Evaluate: a labelled dataset through the chosen model, with the paper's table and a ROC curve."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from mesonet.datasets import LABEL_FORGED, Dataset, scan_dataset
from mesonet.errors import MesonetError
from mesonet.evaluate import evaluate_dataset, write_report
from mesonet.media import load_image
from pages import ui

choice = ui.sidebar_model_picker()
st.title("Evaluate on a labelled dataset")
st.write("Score every face of a dataset with the chosen model and get the paper's table (accuracy on forged, real "
         "and all faces), ROC AUC, equal error rate, the confusion matrix and the worst mistakes.")
st.caption(ui.LABEL_NOTE)

data = ui.dataset_input("evaluate")
columns = st.columns(3)
threshold = columns[0].slider("Threshold on P(fake)", 0.05, 0.95, 0.5, 0.05, key="evaluate.threshold")
per_class = columns[1].number_input("Faces per class (0 = all)", 0, 100_000, 500, 100, key="evaluate.cap",
                                    help="A random sample per class keeps classroom runs short; 0 evaluates everything.")
faces = columns[2].radio("Images are", ["aligned", "detect"], key="evaluate.faces",
                         format_func={"aligned": "face crops", "detect": "photos (find the face first)"}.get)
run = st.button("Evaluate", type="primary", icon=":material/play_arrow:", disabled=data is None)

if data is None:
    st.info("Upload a ZIP of class folders" + (" or pick a server folder" if ui.server_datasets() else "") +
            " to evaluate.", icon=":material/folder_zip:")
    st.stop()


def sampled(dataset: Dataset, per_class: int) -> Dataset:
    if not per_class:
        return dataset
    rng = random.Random(0)
    files = []
    for label in sorted({f.label for f in dataset.files}):
        group = [f for f in dataset.files if f.label == label]
        files += sorted(rng.sample(group, min(per_class, len(group))), key=lambda f: str(f.path))
    return Dataset(dataset.root, files, dataset.ignored)


if run:
    bar = st.progress(0.0, text="Reading the dataset...")
    try:
        with data.open() as folder:
            dataset = sampled(scan_dataset(folder), int(per_class))
            evaluation = evaluate_dataset(
                dataset, ui.classifier_for(choice), faces=faces, threshold=threshold,
                progress=lambda done, total: bar.progress(done / total if total else 0.0,
                                                          text=f"Scored {done} of {total} files"))
            # Thumbnails of the worst mistakes and the report need the files: make them now.
            report_path = Path(tempfile.mkdtemp(prefix="mesonet-report-")) / "report.html"
            write_report(evaluation, report_path)
            report = report_path.read_bytes()
            report_path.unlink()
            report_path.parent.rmdir()
            ranked = sorted(evaluation.items, key=lambda i: abs(i.label - i.score_real), reverse=True)
            mistakes = [(item, load_image(item.path)) for item in ranked[:12]
                        if (item.p_fake >= threshold) != (item.label == LABEL_FORGED)]
    except MesonetError as exc:
        bar.empty()
        ui.show_error(exc)
        st.stop()
    bar.empty()
    st.session_state["evaluate.result"] = (data.name, choice.label, evaluation, report, mistakes)

if "evaluate.result" not in st.session_state:
    st.stop()

name, model_label, evaluation, report, mistakes = st.session_state["evaluate.result"]
metrics = evaluation.headline
st.subheader(f"{model_label} on {name}")
if evaluation.skipped:
    with st.expander(f"{len(evaluation.skipped)} file(s) skipped", icon=":material/warning:"):
        st.dataframe(pd.DataFrame(evaluation.skipped, columns=["file", "reason"]), hide_index=True)

table = pd.DataFrame([{"": "accuracy", "forged": metrics.accuracy_forged, "real": metrics.accuracy_real,
                       "total": metrics.accuracy_total},
                      {"": "faces", "forged": metrics.n_forged, "real": metrics.n_real,
                       "total": metrics.n_forged + metrics.n_real}])
st.dataframe(table, hide_index=True)
cards = st.columns(4)
cards[0].metric("ROC AUC", "–" if metrics.roc_auc is None else f"{metrics.roc_auc:.3f}")
cards[1].metric("Equal error rate", ui.percent(metrics.eer))
cards[2].metric("Average precision", "–" if metrics.average_precision is None else f"{metrics.average_precision:.3f}")
cards[3].metric("Best threshold", "–" if metrics.best_threshold is None else f"{metrics.best_threshold:.2f}",
                help="The P(fake) threshold with the best balanced accuracy "
                     f"({ui.percent(metrics.best_balanced_accuracy)}).")

labels = np.array([i.label for i in evaluation.items])
p_fake = np.array([i.p_fake for i in evaluation.items])
left, right = st.columns(2)
with left:
    from sklearn.metrics import roc_curve

    if metrics.roc_auc is not None:
        fpr, tpr, _ = roc_curve(labels == LABEL_FORGED, p_fake)
        roc = go.Figure(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"AUC {metrics.roc_auc:.3f}",
                                   line_color="#6C3BD1"))
        roc.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#999"},
                                 showlegend=False))
        roc.update_layout(title="ROC curve (forged = positive)", xaxis_title="false positive rate",
                          yaxis_title="true positive rate", height=360, margin={"t": 40, "b": 40})
        st.plotly_chart(roc, key="evaluate.roc")
with right:
    confusion = go.Figure(go.Heatmap(z=metrics.confusion, x=["called forged", "called real"],
                                     y=["forged", "real"], text=metrics.confusion, texttemplate="%{text}",
                                     colorscale="Purples", showscale=False))
    confusion.update_layout(title="Confusion matrix", height=360, margin={"t": 40, "b": 40},
                            yaxis_autorange="reversed")
    st.plotly_chart(confusion, key="evaluate.confusion")

histogram = go.Figure()
for label, title, color in ((LABEL_FORGED, "forged", "#D32F2F"), (1 - LABEL_FORGED, "real", "#2E7D32")):
    histogram.add_trace(go.Histogram(x=p_fake[labels == label], name=title, marker_color=color, opacity=0.6,
                                     xbins={"start": 0, "end": 1, "size": 0.05}))
histogram.add_vline(x=evaluation.threshold, line_dash="dash", line_color="#888")
histogram.update_layout(barmode="overlay", title="P(fake) per class", xaxis_title="P(fake)", yaxis_title="faces",
                        height=320, margin={"t": 40, "b": 40})
st.plotly_chart(histogram, key="evaluate.histogram")

st.subheader("Worst mistakes")
if not mistakes:
    st.success("No mistakes at this threshold.", icon=":material/check_circle:")
else:
    grid = st.columns(6)
    for i, (item, image) in enumerate(mistakes):
        grid[i % 6].image(image, width="stretch", caption=f"{item.class_folder}/{Path(item.path).name}: "
                                                          f"P(fake) {item.p_fake:.0%}")

downloads = st.columns(3)
stem = f"{Path(name).stem}_{model_label}"
downloads[0].download_button("Report (HTML)", report, f"{stem}_report.html", "text/html", on_click="ignore",
                             icon=":material/description:")
downloads[1].download_button("Metrics (JSON)", json.dumps(evaluation.to_dict(), indent=2), f"{stem}.json",
                             "application/json", on_click="ignore", icon=":material/data_object:")
downloads[2].download_button("Scores per face (CSV)", pd.DataFrame(evaluation.rows()).to_csv(index=False),
                             f"{stem}.csv", "text/csv", on_click="ignore", icon=":material/table:")
