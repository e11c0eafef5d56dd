"""Result views of one analysis: verdict card, P(fake) chart and histogram, frame view, gallery, downloads.

Every colour and word follows the analysis' threshold through `mesonet.verdict`, so moving the
threshold slider moves the chart markers, the frame boxes and the gallery borders with the verdict.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import streamlit as st

from mesonet.analysis.reliability import catalog_entries
from mesonet.analysis.results import crops_zip, face_number
from mesonet.verdict import (
    UNCERTAIN_MARGIN,
    VERDICT_COLORS,
    VERDICT_WORDS,
    frames_to_decide,
    verdict_color,
    verdict_words,
)
from studio.text import LABEL_NOTE, plain

# One colour per model where several models share a chart (Compare): from the Okabe-Ito
# colour-blind-safe palette, leaving out its red, green and pink, which mean fake and real here.
MODEL_COLORS = ["#0072B2", "#E69F00", "#56B4E9", "#6C3BD1", "#555555", "#8C6D31"]
MODEL_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star"]
GALLERY_FIRST = 12  # crops shown before "Show all": 4 rows on a phone, 1-2 on a desktop
GALLERY_SIDE_PX = 104  # three crops side by side on a 390-px-wide phone
_CHART_CONFIG = {"displaylogo": False}


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def no_face_advice(extraction) -> str:
    """What to try after no face was found: the next detector (never the one that just found
    nothing), and the face-crop switch for photos."""
    advice = "Try a clearer, brighter or more frontal face"
    detector = extraction.settings.get("detector")
    if detector == "hog":
        advice += ", or the Automatic face detector (Face extraction settings): it finds small faces too"
    elif detector == "auto":
        advice += ', or the "HOG, then MTCNN" face detector (Face extraction settings): it finds turned faces too'
    if extraction.kind == "image":
        advice += "; for an image that is already a face crop, the face-crop switch"
    return advice + "."


def weights_words(model: str) -> str:
    """Which weights decided and what they were trained on, for the card's caption."""
    entries = catalog_entries(model)
    if not entries:
        return f"Weights **{plain(model)}** (custom: not in the catalog)"
    if len(entries) == 1:
        return f"Weights **{entries[0].title}** ({entries[0].name}), trained on {entries[0].trained_on}"
    return f"Ensemble **{plain(model)}** of {len(entries)} weights: " + ", ".join(e.title for e in entries)


def deciding_words(analysis) -> str:
    """ "Decided by face 2, seen in 27/30 frames: 81.0% fake." (a video, or a photo with several faces)."""
    summary = analysis.summary
    seen = f", seen in {summary.frames_with_face}/{summary.frames_sampled} frames" if summary.frames_sampled > 1 else ""
    lead = "Decided by" if summary.decides else "No face was seen enough to decide; the face seen most is"
    return f"{lead} face {face_number(summary.track_id)}{seen}: {percent(summary.p_fake_mean)} fake."


def verdict_card(analysis, *, seconds: float) -> None:
    """The headline: one verdict, the face that decided, P(fake), the weights, and how far to trust it."""
    summary = analysis.summary
    is_video = analysis.extraction.kind == "video"
    with st.container(border=True):
        left, right = st.columns([1, 2], vertical_alignment="center")
        left.markdown(
            f"<div style='font-size:2.6rem;font-weight:700;color:{VERDICT_COLORS[summary.verdict]};line-height:1.1'>"
            f"{VERDICT_WORDS[summary.verdict]}</div>"
            # The file's name is the uploader's: escaped, it cannot add markup to the card.
            f"<div style='color:#555'>verdict for {html.escape(str(analysis.path))}</div>",
            unsafe_allow_html=True,
        )
        metrics = right.columns(4 if is_video else 3)
        metrics[0].metric(
            "P(fake)",
            percent(summary.p_fake_mean),
            help="Mean P(fake) over the frames of the face that decided (the paper's video score)."
            if is_video
            else "P(fake) of the face that decided (the most suspicious face).",
        )
        if is_video:
            metrics[1].metric(
                "Frames voting fake",
                percent(summary.vote_fake),
                help="Share of that face's frames whose P(fake) reaches the threshold (the authors' released code).",
            )
            metrics[2].metric("Frames with that face", f"{summary.frames_with_face} / {summary.frames_sampled}")
        else:
            metrics[1].metric("Faces found", str(len(analysis.faces)))
        metrics[-1].metric(
            "Time",
            f"{seconds:.2f} s",
            help="From the file reaching the server to this verdict: waiting for a free worker, finding the faces, "
            "loading the weights and scoring. The upload itself comes before.",
        )
        if summary.verdict != "no face" and (is_video or len(analysis.tracks) > 1):
            right.markdown(deciding_words(analysis))
        right.caption(
            f"{weights_words(analysis.model)} · threshold {analysis.threshold:.0%}, uncertain within "
            f"{UNCERTAIN_MARGIN:.0%} of it"
            + (
                f" · video score: {'mean P(fake)' if analysis.aggregate == 'mean' else 'majority of frames'}"
                if is_video
                else ""
            )
        )
    if summary.verdict == "no face":
        st.warning(
            "No face was found, so there is nothing to score. " + no_face_advice(analysis.extraction),
            icon=":material/face:",
        )
    if analysis.reliability:
        st.warning(
            "**How far to trust this verdict**\n\n" + "\n".join(f"- {plain(note)}" for note in analysis.reliability),
            icon=":material/report:",
        )
    if len(analysis.tracks) > 1:
        face_table(analysis)


def face_table(analysis) -> None:
    """Every face with its own verdict and frame count, and whether it was seen enough to decide."""
    import pandas as pd

    rows = [
        {
            "face": face_number(track_id),
            "verdict": verdict_words(track.p_fake_mean, analysis.threshold),
            "frames seen": f"{track.frames_with_face} / {track.frames_sampled}",
            "decides": decides_words(analysis, track_id),
        }
        for track_id, track in analysis.tracks.items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def decides_words(analysis, track_id: int) -> str:
    """Whether a face decides the video: "decided the verdict", "could decide" or why it cannot."""
    track = analysis.tracks[track_id]
    if not track.decides:
        return f"no: seen in fewer than {frames_to_decide(track.frames_sampled)} frames"
    return "decided the verdict" if track_id == analysis.summary.track_id else "could decide"


def track_color(analysis, track_id: int) -> str:
    """The colour of a face in charts with several faces: colours mean faces there, never verdicts."""
    return MODEL_COLORS[list(analysis.tracks).index(track_id) % len(MODEL_COLORS)]


def scores_figure(analysis):
    """P(fake) against time with the threshold line.

    One colour meaning per chart: with one face, the points' colours are verdicts; with several,
    colours are faces (each named with its verdict in the legend), and faces that do not decide
    are dashed.
    """
    import plotly.graph_objects as go

    by_frame = analysis.faces_by_frame()
    times = [frame.time_s for frame in analysis.extraction.frames]
    several = len(analysis.tracks) > 1
    traces = []
    for track_id, track in analysis.tracks.items():
        # One entry per sampled frame, None where this face is missing, so the line breaks at gaps.
        faces = [
            next((f for f in by_frame.get(frame.frame_index, []) if f.track_id == track_id), None)
            for frame in analysis.extraction.frames
        ]
        name = f"face {face_number(track_id)}"
        legend = f"{name}: {verdict_words(track.p_fake_mean, analysis.threshold)}" + (
            "" if track.decides else " (too few frames to decide)"
        )
        colors = (
            track_color(analysis, track_id)
            if several
            else [verdict_color(f.p_fake if f else None, analysis.threshold) for f in faces]
        )
        traces.append(
            {
                "type": "scatter",
                "x": times,
                "y": [f.p_fake if f else None for f in faces],
                "mode": "lines+markers",
                "name": legend,
                "customdata": [f.frame_index if f else None for f in faces],
                "line": {
                    "color": track_color(analysis, track_id) if several else "#9E9E9E",
                    "dash": "solid" if track.decides else "dot",
                },
                # 12 px: big enough to tap on a phone.
                "marker": {"size": 12, "color": colors, "line": {"width": 1, "color": "white"}},
                "hovertemplate": "frame %{customdata}<br>%{x:.2f} s<br>P(fake) %{y:.1%}<extra>" + name + "</extra>",
                # A clicked point grows; the others keep their colour and opacity (Plotly fades them
                # by default, which hid the red and green pattern).
                "selected": {"marker": {"size": 22}},
                "unselected": {"marker": {"opacity": 1.0}},
            }
        )
    layout = {
        "shapes": [threshold_line("y", analysis.threshold)],
        "annotations": [
            {
                "text": f"threshold {analysis.threshold:.2f}",
                "showarrow": False,
                "xref": "x domain",
                "x": 0,
                "xanchor": "left",
                "yref": "y",
                "y": analysis.threshold,
                "yanchor": "bottom",
            }
        ],
        "xaxis": {"title": {"text": "time (s)"}},
        "yaxis": {"title": {"text": "P(fake)"}, "range": [-0.02, 1.02], "tickformat": ".0%"},
        "height": 340,
        "margin": {"t": 30, "b": 40, "l": 60, "r": 20},
        "showlegend": several,
        "legend": {"orientation": "h", "y": -0.25},
        "clickmode": "event+select",
    }
    # The whole figure in one call: Plotly validates each call, and add_hline and update_* cost
    # several times what the figure itself does (10 ms against 2.4 with the chart's JSON).
    return go.Figure(data=traces, layout=layout)


def frame_scores_histogram(analysis):
    """How the frames' P(fake) values spread, with the threshold line."""
    import plotly.graph_objects as go

    histogram = {
        "type": "histogram",
        "x": [f.p_fake for f in analysis.faces],
        "xbins": {"start": 0, "end": 1, "size": 0.05},
        "marker": {"color": "#6C3BD1"},
    }
    layout = {
        "shapes": [threshold_line("x", analysis.threshold)],
        "xaxis": {"title": {"text": "P(fake)"}, "range": [0, 1], "tickformat": ".0%"},
        "yaxis": {"title": {"text": "frames"}},
        "height": 260,
        "margin": {"t": 20, "b": 40, "l": 60, "r": 20},
        "bargap": 0.05,
    }
    return go.Figure(data=[histogram], layout=layout)


def threshold_line(axis: str, threshold: float) -> dict:
    """A layout shape: a dashed grey line across the plot at `threshold` on `axis` ("x": vertical,
    "y": horizontal). As a plain shape, not Plotly's add_hline, which costs several milliseconds
    a chart on every run of a page."""
    across = "y" if axis == "x" else "x"
    return {
        "type": "line",
        f"{axis}ref": axis,
        f"{axis}0": threshold,
        f"{axis}1": threshold,
        f"{across}ref": f"{across} domain",
        f"{across}0": 0,
        f"{across}1": 1,
        "line": {"dash": "dash", "color": "#888"},
    }


def numbered_faces(analysis, frame) -> list:
    """(face crop, score) pairs of one frame, by face number (left to right in a photo)."""
    scores = analysis.faces_by_frame().get(frame.frame_index, [])
    return sorted(zip(frame.faces, scores, strict=True), key=lambda pair: pair[1].track_id)


def annotated_frame(frame, faces, threshold: float):
    """The frame preview with each face's box, number and P(fake) (and landmarks) drawn, as a PIL image.

    The labels are sized to the image (about a 22nd of its width), so they stay readable when the
    frame is shown small, on a phone.
    """
    from PIL import Image, ImageDraw

    from mesonet.analysis.draw import draw_face, label_style

    preview = frame.preview()
    image = Image.fromarray(preview)
    scale = preview.shape[1] / frame.frame_size[0]
    font, line = label_style(image.width)
    draw = ImageDraw.Draw(image)
    for face_crop, score in faces:
        label = f"face {face_number(score.track_id)}: {score.p_fake:.0%}"
        box = [v * scale for v in face_crop.box]
        draw_face(image, box, label, verdict_color(score.p_fake, threshold), font=font, line=line)
        if face_crop.landmarks is not None:
            for x, y in face_crop.landmarks * scale:
                draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill="#00B8D4")
    return image


def frame_view(analysis, frame_index: int) -> None:
    """One sampled frame with its faces drawn, and the crops the network saw."""
    frame = next(f for f in analysis.extraction.frames if f.frame_index == frame_index)
    faces = numbered_faces(analysis, frame)
    is_video = analysis.extraction.kind == "video"
    where = f"**Frame {frame.frame_index}** at {frame.time_s:.2f} s" if is_video else "**Photo**"
    if len(faces) > 1:
        where += f" · {len(faces)} faces, numbered left to right"
    elif faces:
        where += f" · P(fake) {percent(faces[0][1].p_fake)}"
    else:
        where += " · no face found"
    st.markdown(where)
    left, right = st.columns([3, 1])
    if frame.preview_jpeg is not None:
        left.image(annotated_frame(frame, faces, analysis.threshold), width="stretch")
    for face_crop, score in faces:
        right.image(
            face_crop.crop,
            caption=f"face {face_number(score.track_id)}: P(fake) {percent(score.p_fake)}"
            + ("" if face_crop.aligned else " (margin crop)"),
            width="stretch",
        )


def bordered_crop(crop: np.ndarray, color: str) -> np.ndarray:
    """The crop with an 8-pixel frame in `color` ("#RRGGBB")."""
    rgb = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    out = np.array(crop, copy=True)
    out[:8], out[-8:], out[:, :8], out[:, -8:] = rgb, rgb, rgb, rgb
    return out


def spread(items: list, count: int) -> list:
    """`count` of `items` evenly spaced from the first to the last, in order (all of them when fewer)."""
    if len(items) <= count:
        return items
    return [items[round(n * (len(items) - 1) / (count - 1))] for n in range(count)]


def gallery(analysis, key: str) -> None:
    """Every aligned crop in frame order (by face number within a frame), with its time or face
    number and P(fake); the border shows its verdict.

    The crops flow in rows that wrap to the screen's width (three side by side on a phone, where
    Streamlit's columns would stack them one per row), and only `GALLERY_FIRST` of them, spread
    evenly over the whole clip, are shown until the user asks for all of them.
    """
    crops = [
        (frame, face_crop, score)
        for frame in analysis.extraction.frames
        for face_crop, score in numbered_faces(analysis, frame)
    ]
    show_all = st.session_state.get(f"{key}.all") == analysis.extraction.path
    with st.container(horizontal=True, key=key):
        for frame, face_crop, score in crops if show_all else spread(crops, GALLERY_FIRST):
            when = (
                f"{frame.time_s:.2f} s"
                if analysis.extraction.kind == "video"
                else f"face {face_number(score.track_id)}"
            )
            # JPEG: encoding 30 crops as PNG on every rerun costs a noticeable fraction of a second.
            st.image(
                bordered_crop(face_crop.crop, verdict_color(score.p_fake, analysis.threshold)),
                width=GALLERY_SIDE_PX,
                output_format="JPEG",
                caption=f"{when} · {percent(score.p_fake)}",
            )
    if not show_all and len(crops) > GALLERY_FIRST:
        st.button(
            f"Show all {len(crops)} faces",
            key=f"{key}.more",
            icon=":material/expand_more:",
            on_click=st.session_state.__setitem__,
            args=(f"{key}.all", analysis.extraction.path),
        )


def downloads(analysis, key: str) -> None:
    """CSV, JSON and the face crops (ZIP) of one analysis."""
    stem = Path(analysis.path).stem
    st.caption(LABEL_NOTE)  # where the raw numbers leave the app
    columns = st.columns(3)
    columns[0].download_button(
        "Per-frame results (CSV)",
        analysis.to_csv(),
        f"{stem}_frames.csv",
        "text/csv",
        icon=":material/table:",
        key=f"{key}.csv",
        on_click="ignore",
    )
    columns[1].download_button(
        "Results (JSON)",
        analysis.to_json(),
        f"{stem}_results.json",
        "application/json",
        icon=":material/data_object:",
        key=f"{key}.json",
        on_click="ignore",
    )
    # Deferred: the ZIP is built only when asked for, not on every rerun.
    columns[2].download_button(
        "Face crops (ZIP)",
        lambda: crops_zip(analysis.extraction, stem),
        f"{stem}_crops.zip",
        "application/zip",
        icon=":material/folder_zip:",
        key=f"{key}.zip",
        on_click="ignore",
        disabled=not analysis.faces,
    )
