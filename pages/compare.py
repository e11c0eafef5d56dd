"""Compare models: every pretrained network, and your own, on the same faces."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import studio
from mesonet.analysis import score_extraction
from mesonet.export import csv_safe_frame
from mesonet.verdict import called_fake

studio.page_setup()
st.title("Compare models")
st.write(
    "The same faces through every pretrained network (and your own weights, if you added any on the "
    "Weights page). The faces are extracted once; each model only rescores them."
)
st.caption(studio.LABEL_NOTE + " " + studio.WEIGHTS_NOTE)

media = studio.media_input("compare")
settings = studio.extraction_settings("compare")
threshold = studio.threshold_slider("compare.threshold")

if media is None:
    st.info("Nothing to compare yet. Upload a photo or a video, or pick a sample.", icon=":material/upload_file:")
    st.stop()

with studio.shown_errors():
    extraction, _ = studio.get_extraction(media, settings)
    analyses = {}
    for choice in studio.model_choices():
        analysis = score_extraction(extraction, studio.classifier_for(choice), threshold=threshold)
        analysis.path = media.name
        analyses[choice.label] = analysis

first = next(iter(analyses.values()))
if not first.faces:
    st.warning(
        "No face was found, so there is nothing to compare. Try another file or the CNN detector.",
        icon=":material/face:",
    )
    st.stop()

st.subheader("Verdicts")
summary_table = pd.DataFrame(
    [
        {
            "model": label,
            "verdict": a.summary.verdict,
            "P(fake) mean": a.summary.p_fake_mean,
            "P(fake) median": a.summary.p_fake_median,
            "frames voting fake": a.summary.vote_fake,
            "frames with a face": f"{a.summary.frames_with_face} / {a.summary.frames_sampled}",
        }
        for label, a in analyses.items()
    ]
)
st.dataframe(
    summary_table,
    hide_index=True,
    column_config={
        column: st.column_config.ProgressColumn(column, format="percent", min_value=0.0, max_value=1.0)
        for column in ("P(fake) mean", "P(fake) median", "frames voting fake")
    },
)

# One row per face, one column per model.
scores = pd.DataFrame(
    {label: [f.p_fake for f in a.faces] for label, a in analyses.items()},
    index=pd.MultiIndex.from_tuples(
        [(f.frame_index, f.time_s, f.track_id) for f in first.faces], names=["frame", "time (s)", "face"]
    ),
)

st.subheader("P(fake) per model")
figure = go.Figure()
if first.extraction.kind == "video":
    for label in scores.columns:
        figure.add_trace(
            go.Scatter(
                x=scores.index.get_level_values("time (s)"),
                y=scores[label],
                name=html.escape(label),
                mode="lines+markers",
                customdata=scores.index.get_level_values("frame"),
                hovertemplate="frame %{customdata}<br>%{x:.2f} s<br>P(fake) %{y:.1%}",
            )
        )
    figure.update_layout(xaxis_title="time (s)")
else:
    figure.add_trace(
        go.Bar(
            x=list(scores.columns),
            y=scores.iloc[0].tolist(),
            marker_color="#6C3BD1",
            hovertemplate="%{x}<br>P(fake) %{y:.1%}<extra></extra>",
        )
    )
figure.add_hline(y=threshold, line_dash="dash", line_color="#888")
figure.update_layout(
    yaxis_title="P(fake)",
    yaxis_range=[-0.02, 1.02],
    yaxis_tickformat=".0%",
    height=380,
    margin={"t": 20, "b": 40, "l": 60, "r": 20},
)
st.plotly_chart(figure, key="compare.chart", config={"displaylogo": False})

st.subheader("Where the models disagree")
is_fake = scores.apply(lambda column: called_fake(column.to_numpy(), threshold))
disagree = scores[is_fake.any(axis=1) & ~is_fake.all(axis=1)]
if disagree.empty:
    st.success("All models agree on every face at this threshold.", icon=":material/check_circle:")
else:
    st.write(f"{len(disagree)} of {len(scores)} faces get different verdicts from different models.")
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
    crops = {(f.frame_index, t): c.crop for f in first.extraction.frames for c, t in zip(f.faces, f.track_ids)}
    shown = disagree.index[:12]
    columns = st.columns(6)
    for i, (frame_index, time_s, track_id) in enumerate(shown):
        columns[i % 6].image(
            crops[(frame_index, track_id)], caption=f"frame {frame_index} · {time_s:.2f} s", width="stretch"
        )

st.download_button(
    "Scores per face and model (CSV)",
    csv_safe_frame(scores.reset_index()).to_csv(index=False),
    f"{media.name}_compare.csv",
    "text/csv",
    icon=":material/table:",
    on_click="ignore",
)
