"""Compare models: every pretrained network, and your own, on the same faces."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import studio
from mesonet.analysis.compare import compare_models
from mesonet.analysis.results import csv_safe_frame, face_number
from mesonet.models.weights import ENSEMBLE_RULE, ENSEMBLES, get_weights
from mesonet.verdict import VERDICT_WORDS
from studio import results
from studio.results import MODEL_COLORS, MODEL_SYMBOLS

# Every model is compared here, so the sidebar's classifier picker would do nothing: not drawn.
studio.page_setup(model_picker=False)
st.title("Compare models")
st.write(
    "The same faces through every pretrained network (and your own weights, if you added any on the "
    "Weights page). The faces are extracted once; each model only rescores them."
)
st.caption(studio.WEIGHTS_NOTE)

with st.sidebar:
    st.subheader("Decision")
    own_thresholds = (
        st.radio(
            "Threshold",
            ["own", "shared"],
            key="compare.threshold_mode",
            format_func={"own": "each model's own", "shared": "one for every model"}.get,
            help="Trained weights ship with the threshold picked on their validation data; the released "
            "weights use 50%. An ensemble always decides at 50% (see its rule below the table).",
            persist_state="session",
        )
        == "own"
    )
    shared_threshold = studio.threshold_slider(
        help="The same threshold as on the Analyse page: moving one moves both.", disabled=own_thresholds
    )
    st.caption("This page runs every model, so it has no classifier picker.")

analysed = studio.last_analysed()
media = studio.media_input("compare", offer=analysed.media if analysed else None)
if analysed is not None and media is analysed.media:
    settings = analysed.settings  # the faces the Analyse page found, not found again
else:
    settings = studio.extraction_settings("compare")

if media is None:
    st.info("Nothing to compare yet. Upload a photo or a video, or pick a sample.", icon=":material/upload_file:")
    st.stop()


def model_title(choice: studio.ModelChoice) -> str:
    """The catalog's name for people (e.g. "Meso4 · Deepfake"), or the user's own file's label."""
    return f"Custom: {choice.label}" if choice.weights_file is not None else get_weights(choice.model).title


with studio.shown_errors():
    extraction, _ = studio.extraction_for(media, settings)
    scorers = {model_title(choice): studio.classifier_for(choice) for choice in studio.model_choices()}
    for name, members in ENSEMBLES.items():
        scorers[f"Ensemble: {name} ({len(members)} weights)"] = studio.ensemble_for(name)
    comparison = compare_models(extraction, scorers, threshold=None if own_thresholds else shared_threshold)
analyses = comparison.analyses
for analysis in analyses.values():
    analysis.path = media.name
colors = {label: MODEL_COLORS[i % len(MODEL_COLORS)] for i, label in enumerate(analyses)}

first = next(iter(analyses.values()))
if not first.faces:
    st.warning(
        "No face was found, so there is nothing to compare. " + results.no_face_advice(extraction),
        icon=":material/face:",
    )
    st.stop()

st.subheader("Verdicts")
is_video = first.extraction.kind == "video"
# Each model's verdict is that of the face that decided (a video's most-seen face, a photo's most suspicious).
summary_table = pd.DataFrame(
    [
        {
            "model": row["model"],
            "threshold": row["threshold"],
            "verdict": VERDICT_WORDS[row["verdict"]],
            "P(fake)": row["p_fake_mean"],
        }
        | (
            {
                "P(fake) median": row["p_fake_median"],
                "frames voting fake": row["vote_fake"],
                "frames with that face": f"{row['frames_with_face']} / {row['frames_sampled']}",
            }
            if is_video
            else {}
        )
        for row in comparison.verdict_rows()
    ]
)
st.dataframe(
    summary_table,
    hide_index=True,
    column_config={
        column: st.column_config.ProgressColumn(column, format="percent", min_value=0.0, max_value=1.0)
        for column in ("P(fake)", "P(fake) median", "frames voting fake")
        if column in summary_table
    }
    | {"threshold": st.column_config.NumberColumn(format="percent")},
)
st.caption(f"**Ensemble rule**: {ENSEMBLE_RULE}.")

scores = comparison.face_scores()  # one row per face, one column per model

st.subheader("P(fake) per model")
figure = go.Figure()
if first.extraction.kind == "video":
    for i, label in enumerate(scores.columns):
        figure.add_trace(
            go.Scatter(
                x=scores.index.get_level_values("time (s)"),
                y=scores[label],
                name=html.escape(label),
                mode="lines+markers",
                line={"color": colors[label]},
                marker={"symbol": MODEL_SYMBOLS[i % len(MODEL_SYMBOLS)], "size": 8},
                customdata=scores.index.get_level_values("frame"),
                hovertemplate="frame %{customdata}<br>%{x:.2f} s<br>P(fake) %{y:.1%}",
            )
        )
    figure.update_layout(xaxis_title="time (s)")
else:
    # A photo: one group of bars per face (numbered left to right), one colour per model.
    faces = [f"face {number}" for number in scores.index.get_level_values("face")]
    for label in scores.columns:
        figure.add_trace(
            go.Bar(
                x=faces,
                y=scores[label].tolist(),
                name=label,
                marker_color=colors[label],
                hovertemplate="%{x}<br>P(fake) %{y:.1%}<extra>" + label + "</extra>",
            )
        )
    figure.update_layout(barmode="group")
if not own_thresholds:
    figure.add_shape(results.threshold_line("y", shared_threshold))
figure.update_layout(
    yaxis_title="P(fake)",
    yaxis_range=[-0.02, 1.02],
    yaxis_tickformat=".0%",
    height=380,
    margin={"t": 20, "b": 40, "l": 60, "r": 20},
)
st.plotly_chart(figure, key="compare.chart", config={"displaylogo": False})

st.subheader("Where the models disagree")
disagree = comparison.disagreements()
# Never green: models that agree can all be wrong together.
st.info(comparison.agreement_words(), icon=":material/info:")
if not disagree.empty:
    st.dataframe(
        disagree.reset_index(),
        hide_index=True,
        column_config={
            "time (s)": st.column_config.NumberColumn(format="%.2f"),
            **{
                label: st.column_config.ProgressColumn(label, format="percent", min_value=0.0, max_value=1.0)
                for label in scores.columns
            },
        },
    )
    crops = {
        (f.frame_index, face_number(t)): c.crop
        for f in first.extraction.frames
        for c, t in zip(f.faces, f.track_ids, strict=True)
    }
    video = first.extraction.kind == "video"
    with st.container(horizontal=True, key="compare.disagree"):
        for frame_index, time_s, number in disagree.index[:12]:
            st.image(
                crops[(frame_index, number)],
                caption=f"face {number}" + (f" · {time_s:.2f} s" if video else ""),
                width=results.GALLERY_SIDE_PX,
            )

st.caption(studio.LABEL_NOTE)
st.download_button(
    "Scores per face and model (CSV)",
    csv_safe_frame(scores.reset_index()).to_csv(index=False),
    f"{media.name}_compare.csv",
    "text/csv",
    icon=":material/table:",
    on_click="ignore",
)
