"""Evaluate: a labelled dataset through the chosen model, with the paper's table and a ROC curve."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import studio
from mesonet.analysis.results import csv_safe_frame
from mesonet.data.datasets import sample_per_class, scan_dataset
from mesonet.evaluation.evaluator import evaluate_dataset, worst_mistakes
from mesonet.evaluation.report import class_histogram_figure, report_html, roc_figure
from mesonet.media.images import load_image
from mesonet.models.weights import get_weights, training_overlap
from studio.results import percent

choice = studio.page_setup()
st.title("Evaluate on a labelled dataset")
st.write(
    "Score every face of a dataset with the chosen model and get the paper's table (accuracy on forged, real "
    "and all faces), ROC AUC, equal error rate, the confusion matrix and the worst mistakes."
)

data = studio.dataset_input("evaluate")
columns = st.columns(3)
with columns[0]:
    threshold = studio.threshold_slider(start=choice.threshold)
per_class = columns[1].number_input(
    "Faces per class (0 = all)",
    0,
    100_000,
    500,
    100,
    key="evaluate.cap",
    help="A random sample per class keeps classroom runs short; 0 evaluates everything.",
)
faces = columns[2].radio(
    "Images are",
    ["aligned", "detect"],
    key="evaluate.faces",
    format_func={"aligned": "face crops", "detect": "photos (find the face first)"}.get,
)
run = st.button("Evaluate", type="primary", icon=":material/play_arrow:", disabled=data is None)

if data is None:
    st.info(
        "Upload a ZIP of class folders"
        + (" or pick a server folder" if studio.server_datasets() else "")
        + " to evaluate.",
        icon=":material/folder_zip:",
    )
    st.stop()


def public_text(text: str, folder: Path, name: str) -> str:
    """`text` with the dataset's folder on the server replaced by the dataset's name."""
    return text.replace(str(folder), name)


if run:
    bar = st.progress(0.0, text="Reading the dataset...")
    try:
        with studio.shown_errors(), data.open() as folder:
            dataset = sample_per_class(scan_dataset(folder), int(per_class))
            evaluation = evaluate_dataset(
                dataset,
                studio.classifier_for(choice),
                faces=faces,
                threshold=threshold,
                progress=lambda done, total: bar.progress(
                    done / total if total else 0.0, text=f"Scored {done} of {total} files"
                ),
            )
            # Downloads name files from the dataset's name, never by their place on the server.
            downloads = {
                "report": public_text(report_html(evaluation).decode(), folder, html.escape(data.name)).encode(),
                "json": public_text(json.dumps(evaluation.to_dict(), indent=2), folder, data.name),
                "csv": public_text(
                    csv_safe_frame(pd.DataFrame(evaluation.rows())).to_csv(index=False), folder, data.name
                ),
                "skipped": [(public_text(p, folder, data.name), reason) for p, reason in evaluation.skipped],
            }
            # Thumbnails of the worst mistakes need the files too: load them now.
            mistakes = [(item, load_image(item.path)) for item in worst_mistakes(evaluation.items, threshold)]
    finally:
        bar.empty()
    # The catalog knows how the training images of some weights are named: say when these match.
    overlap = (
        training_overlap(choice.model, [item.path for item in evaluation.items]) if not choice.weights_file else []
    )
    st.session_state["evaluate.result"] = (data.name, choice, evaluation, downloads, mistakes, overlap)

if "evaluate.result" not in st.session_state:
    st.stop()

name, evaluated, evaluation, downloads, mistakes, overlap = st.session_state["evaluate.result"]
model_label = studio.plain(evaluated.label)
metrics = evaluation.headline
st.subheader(f"{model_label} on {studio.plain(name)}")
if overlap:
    st.warning(
        f"{len(overlap)} of {len(evaluation.items)} files are named like the images {model_label} was trained on "
        f"({get_weights(evaluated.model).training_files_note}). If they come from that training set, these "
        "accuracies overstate how the weights do on faces they have never seen. (Rule: the catalog's file-name "
        "pattern for these weights' training images; a match is a warning sign, not proof.)",
        icon=":material/warning:",
    )
if downloads["skipped"]:
    with st.expander(f"{len(downloads['skipped'])} file(s) skipped", icon=":material/warning:"):
        st.dataframe(pd.DataFrame(downloads["skipped"], columns=["file", "reason"]), hide_index=True)

table = pd.DataFrame(
    [
        {
            "": "accuracy",
            "forged": percent(metrics.accuracy_forged),
            "real": percent(metrics.accuracy_real),
            "total": percent(metrics.accuracy_total),
        },
        # Text, like the accuracies above, so that the column shows "97.5%" and "40" alike.
        {
            "": "faces",
            "forged": f"{metrics.n_forged:,}",
            "real": f"{metrics.n_real:,}",
            "total": f"{metrics.n_forged + metrics.n_real:,}",
        },
    ]
)
st.dataframe(table, hide_index=True)
cards = st.columns(4)
cards[0].metric("ROC AUC", "–" if metrics.roc_auc is None else f"{metrics.roc_auc:.3f}")
cards[1].metric("Equal error rate", percent(metrics.eer))
cards[2].metric("Average precision", "–" if metrics.average_precision is None else f"{metrics.average_precision:.3f}")
cards[3].metric(
    "Best threshold",
    "–" if metrics.best_threshold is None else f"{metrics.best_threshold:.2f}",
    help=f"The P(fake) threshold with the best balanced accuracy ({percent(metrics.best_balanced_accuracy)}).",
)

left, right = st.columns(2)
with left:
    roc = roc_figure(evaluation.items, metrics)
    if roc is not None:
        st.plotly_chart(roc, key="evaluate.roc")
with right:
    confusion = go.Figure(
        go.Heatmap(
            z=metrics.confusion,
            x=["called forged", "called real"],
            y=["forged", "real"],
            text=metrics.confusion,
            texttemplate="%{text}",
            colorscale="Purples",
            showscale=False,
        )
    )
    confusion.update_layout(title="Confusion matrix", height=360, margin={"t": 40, "b": 40}, yaxis_autorange="reversed")
    st.plotly_chart(confusion, key="evaluate.confusion")

st.plotly_chart(class_histogram_figure(evaluation.items, evaluation.threshold), key="evaluate.histogram")

st.subheader("Worst mistakes")
if not mistakes:
    st.success("No mistakes at this threshold.", icon=":material/check_circle:")
else:
    grid = st.columns(6)
    for i, (item, image) in enumerate(mistakes):
        grid[i % 6].image(
            image,
            width="stretch",
            caption=studio.plain(f"{item.class_folder}/{Path(item.path).name}") + f": P(fake) {item.p_fake:.0%}",
        )

st.caption(studio.LABEL_NOTE)
buttons = st.columns(3)
stem = f"{Path(name).stem}_{model_label}"
for button, (label, key, suffix, mime, icon) in zip(
    buttons,
    [
        ("Report (HTML)", "report", "_report.html", "text/html", "description"),
        ("Metrics (JSON)", "json", ".json", "application/json", "data_object"),
        ("Scores per face (CSV)", "csv", ".csv", "text/csv", "table"),
    ],
):
    button.download_button(label, downloads[key], f"{stem}{suffix}", mime, on_click="ignore", icon=f":material/{icon}:")
