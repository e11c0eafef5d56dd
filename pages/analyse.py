"""Analyse: a photo or a video in; aligned faces, per-frame scores and a verdict out."""

from __future__ import annotations

import time

import streamlit as st

import studio
from mesonet.analysis.pipeline import score_extraction
from mesonet.analysis.results import face_number
from mesonet.verdict import UNCERTAIN_MARGIN
from studio import annotated_video, results

run_started = time.perf_counter()  # the user's wait: from the file's arrival on the server to the verdict
studio.page_setup(model_picker=False)  # the classifier is drawn on this page, under the file
st.session_state.setdefault("analyse.selected_frame", None)

st.title("Analyse a photo or a video")
st.write(
    "Upload a photo or a video, take a picture, or pick a sample. MesoNet Studio finds and aligns the faces "
    "as the authors did, scores each one, and gives a verdict for the whole file."
)

studio.worker_pool()  # the server's workers start (loading dlib) while the user picks a file
# Coming back from another page shows the file analysed last (the uploader itself forgets it).
analysed = studio.last_analysed()
media = studio.media_input("analyse", kept=analysed.media if analysed else None, on_removed=studio.forget_analysed)
settings = studio.extraction_settings("analyse")
# On the page, not in the sidebar: a phone shows it right above the verdict without opening the sidebar.
with st.expander(f"Classifier and threshold: {studio.kept_weights_label()}", icon=":material/neurology:"):
    choice = studio.weights_picker(st.container())
    threshold = studio.threshold_slider(
        start=choice.threshold, help="A frame, and the video's mean, count as fake at or above it."
    )
    aggregate = st.radio(
        "Video verdict from",
        ["mean", "vote"],
        key="analyse.aggregate",
        format_func={"mean": "mean P(fake) (paper)", "vote": "majority of frames (authors' code)"}.get,
        persist_state="session",
        horizontal=True,
    )

if media is None:
    st.info(
        "Nothing to analyse yet. Drop a photo or a video above, or choose **Sample** to try the astronaut "
        "portrait (works offline) or the authors' Deepfake crops.",
        icon=":material/upload_file:",
    )
    st.stop()

with studio.shown_errors():
    classifier = studio.classifier_for(choice)
    extraction, extract_s = studio.extraction_for(media, settings)
    start = time.perf_counter()
    analysis = score_extraction(extraction, classifier, threshold=threshold, aggregate=aggregate)
    analysis.path = media.name
    # Faces from the server's cache count what they took when made: a quick answer must not tell a user
    # that someone else analysed the same file.
    elapsed = max(time.perf_counter() - run_started, extract_s + time.perf_counter() - start)

studio.remember_analysed(media, settings, extraction)  # for coming back, and for Compare and Learn
results.verdict_card(analysis, seconds=elapsed)


@st.fragment
def explore(analysis) -> None:
    """Chart, frame view and gallery: clicking a point reruns only this part, not the analysis."""
    if analysis.extraction.kind == "video" and analysis.faces:
        st.subheader("P(fake) over time")
        event = st.plotly_chart(
            results.scores_figure(analysis),
            on_select="rerun",
            selection_mode="points",
            key="analyse.chart",
            config={"displaylogo": False},
        )
        points = event.selection.points if event and event.selection else []
        if points and points[0].get("customdata") is not None:
            st.session_state["analyse.selected_frame"] = int(points[0]["customdata"])
        st.caption("Click a point to see that frame and its face.")
    frames = {f.frame_index for f in analysis.extraction.frames}
    selected = st.session_state["analyse.selected_frame"]
    if selected not in frames:
        # Until a point is clicked, show the most suspicious frame.
        selected = max(analysis.faces, key=lambda f: f.p_fake).frame_index if analysis.faces else min(frames)
    with st.container(border=True, key="analyse.frame_view"):
        results.frame_view(analysis, selected)
        frame = next(f for f in analysis.extraction.frames if f.frame_index == selected)
        explain_face(results.numbered_faces(analysis, frame))
    if analysis.extraction.kind == "video" and analysis.faces:
        st.subheader("Distribution of frame scores")
        st.plotly_chart(
            results.frame_scores_histogram(analysis), key="analyse.histogram", config={"displaylogo": False}
        )
    if analysis.faces:
        st.subheader(f"Aligned faces ({len(analysis.faces)})")
        st.caption(
            f"What the network sees: 256x256 crops in frame order, each with its P(fake). Green: real, red: fake, "
            f"amber: uncertain (within {UNCERTAIN_MARGIN:.0%} of the threshold, {analysis.threshold:.2f})."
        )
        results.gallery(analysis, "analyse.gallery")


def explain_face(faces: list) -> None:
    """Sends one face of the frame to the Learn page; with several faces, the user picks which."""
    if not faces:
        return
    numbers = {face_number(score.track_id): crop for crop, score in faces}
    number = next(iter(numbers))
    if len(numbers) > 1:
        number = (
            st.segmented_control(
                "Face to explain",
                list(numbers),
                default=number,
                format_func=lambda n: f"face {n}",
                key="analyse.explain_face",
            )
            or number
        )
    label = "Explain this face" if len(numbers) == 1 else f"Explain face {number}"
    if st.button(f"{label} (saliency, feature maps)", icon=":material/school:", key="analyse.explain"):
        st.session_state["learn.crop"] = numbers[number].crop
        st.session_state["learn.crop_name"] = f"Face {number}" if len(numbers) > 1 else "The face"
        st.session_state["learn.open_tab"] = "Saliency"  # not the Architecture tab, where Learn opens by default
        st.switch_page("pages/learn.py")


explore(analysis)
st.subheader("Downloads")
results.downloads(analysis, "analyse")
if analysis.extraction.kind == "video":
    annotated_video.section(media, settings, analysis, classifier)
