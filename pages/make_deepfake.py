"""Make a deepfake: the classic face swap, step by step, then put in front of MesoNet."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import studio
from mesonet.errors import MesonetError
from mesonet.faces.swap import SwapResult, draw_mesh, save_swap_image, swap_faces, swap_video
from mesonet.media.images import load_image
from mesonet.media.samples import list_samples, sample_path
from mesonet.models import explain
from mesonet.verdict import VERDICT_COLORS, VERDICT_WORDS, p_fake_of, verdict_for
from studio.inputs import VIDEO_TYPES, ExtractionSettings, MediaInput
from studio.server import annotated_video_limit

choice = studio.page_setup()
st.title("Make a deepfake")
st.write(
    "The classic face swap, the kind of forgery MesoNet was designed against: find 68 landmarks on both faces, "
    "cut the target's face into triangles, warp the source's triangles onto them, match the skin tone, and blend "
    "the result into the target's photo. Then see what MesoNet says about it, before and after compression."
)
st.info(
    "**Swap only faces whose owners agree**, yours for instance. Nothing is stored beyond this session, and every "
    "result carries a visible *made with MesoNet Studio* label in its corner (and in its file's metadata).",
    icon=":material/handshake:",
)

VIDEO_SECONDS = 10.0  # a target video is swapped over its first 10 seconds at most


def source_face() -> tuple[np.ndarray, str] | None:
    """The face to paste: from the camera, an upload or one of the authors' real crops."""
    kind = st.segmented_control("Source face", ["Camera", "Upload", "Sample"], default="Sample", key="swap.source")
    with studio.shown_errors(stop=False):
        if kind == "Camera":
            shot = st.camera_input("Take a picture of your face", key="swap.camera")
            return (load_image(shot.getvalue(), name="camera.jpg"), "your camera") if shot else None
        if kind == "Upload":
            upload = st.file_uploader("A photo of one face", type=studio.IMAGE_TYPES, key="swap.upload")
            return (load_image(upload.getvalue(), name=upload.name), upload.name) if upload else None
        crops = {s.name: s for s in list_samples() if s.is_face_crop and s.label == "real"}
        name = st.selectbox("Sample", list(crops), format_func=lambda n: crops[n].title, key="swap.sample")
        return load_image(sample_path(name)), crops[name].title
    return None


def target_media() -> tuple[str, bytes | np.ndarray] | None:
    """The photo or video that receives the face: ("photo", image) or ("video", file bytes)."""
    kind = st.segmented_control(
        "Target", ["Astronaut photo", "Astronaut clip", "Upload"], default="Astronaut photo", key="swap.target"
    )
    with studio.shown_errors(stop=False):
        if kind == "Astronaut photo":
            return "photo", load_image(sample_path("astronaut-photo"))
        if kind == "Astronaut clip":
            return "video", sample_path("astronaut-clip").read_bytes()
        upload = st.file_uploader(
            "A photo or a video with one face", type=studio.IMAGE_TYPES + VIDEO_TYPES, key="swap.target_upload"
        )
        if upload is None:
            return None
        if Path(upload.name).suffix.lower().lstrip(".") in VIDEO_TYPES:
            return "video", upload.getvalue()
        return "photo", load_image(upload.getvalue(), name=upload.name)
    return None


def lesson(swap: SwapResult, source: np.ndarray, target: np.ndarray) -> None:
    """Each step of the swap, with a sentence."""
    steps = [
        (draw_mesh(source, swap.source_landmarks, np.empty((0, 3), int)), "1. 68 landmarks on the source face."),
        (draw_mesh(target, swap.target_landmarks, np.empty((0, 3), int)), "1. The same 68 on the target face."),
        (
            draw_mesh(target, swap.target_landmarks, swap.triangles),
            f"2. A triangle mesh over the target's landmarks ({len(swap.triangles)} triangles).",
        ),
        (swap.warped, "3. Each source triangle warped onto its target triangle."),
        (swap.mask, "4. The mask: the face inside the landmarks' outline."),
        (swap.corrected, "5. Skin tone matched to the target's."),
    ]
    # Row by row: on a phone the columns stack, and one set of three columns would stack as 1, 3, 1, 4, 2, 5.
    for row in range(0, len(steps), 3):
        for column, (image, caption) in zip(st.columns(3), steps[row : row + 3], strict=False):
            column.image(image, caption=caption, width="stretch")
    left, right = st.columns(2)
    left.image(target, caption="The original", width="stretch")
    right.image(swap.result, caption="6. Blended in (Poisson blending): the deepfake", width="stretch")


def verdicts(swap: SwapResult) -> None:
    """MesoNet's verdict on the swapped face, and how it moves as the fake is re-encoded as JPEG."""
    from mesonet.faces.detect import extract_faces

    faces = extract_faces(swap.result)
    if not faces:
        st.warning("No face was found in the result, so MesoNet has nothing to score.", icon=":material/face:")
        return
    classifier = studio.classifier_for(choice)
    crop = faces[0].crop
    st.subheader("What MesoNet says")
    quality = st.slider(
        "Re-encode as JPEG at quality",
        10,
        100,
        100,
        5,
        key="swap.quality",
        help="Web video and photos are compressed: the fine traces MesoNet reads fade as quality drops.",
    )
    degraded = explain.degrade(crop, "jpeg", quality)
    p_fake = p_fake_of(float(classifier.score_real([degraded])[0]))
    verdict = verdict_for(p_fake, choice.threshold)
    left, right = st.columns([1, 2], vertical_alignment="center")
    left.image(degraded, caption=f"The swapped face at quality {quality}", width="stretch")
    with right:
        st.markdown(
            f"<div style='font-size:2.2rem;font-weight:700;color:{VERDICT_COLORS[verdict]}'>"
            f"{VERDICT_WORDS[verdict]} · P(fake) {p_fake:.1%}</div>",
            unsafe_allow_html=True,
        )
        st.caption(f"Weights {studio.plain(choice.label)} at threshold {choice.threshold:.0%}.")
        curve = explain.degradation_curve(classifier, crop, "jpeg", [100, 90, 70, 50, 30, 10])
        # Numbers on the axis, not text: text sorted "10", "100", "30"...
        st.line_chart(
            pd.DataFrame({"P(fake)": [value for _, value in curve]}, index=[int(level) for level, _ in curve]),
            x_label="JPEG quality",
        )


def labelled_png(image: np.ndarray) -> bytes:
    """The result as PNG bytes with the "made with MesoNet Studio" text chunks."""
    with tempfile.TemporaryDirectory(prefix="mesonet-swap-") as folder:
        return save_swap_image(image, Path(folder) / "deepfake.png").read_bytes()


def send_to_analyse(data: bytes, name: str) -> None:
    """The labelled result on the Analyse page: verdict card, chart, and Explain for Grad-CAM."""
    media = MediaInput(name, data, studio.sha256_bytes(data))
    st.session_state["swap.made"] = media.sha256  # a class round adds it as a known fake
    settings = ExtractionSettings()
    extraction, _ = studio.extraction_for(media, settings)
    studio.remember_analysed(media, settings, extraction)
    st.switch_page("pages/analyse.py")


def video_swap(source: np.ndarray, data: bytes) -> None:
    """A target video, swapped frame by frame (its first seconds), one at a time on the server."""
    if not st.button("Swap the faces in the video", type="primary", key="swap.video_go", icon=":material/movie:"):
        return
    with st.status("Swapping the video's frames...", expanded=True) as status:
        bar = st.progress(0.0, text="Waiting for a turn...")
        slots = annotated_video_limit()  # a swapped video costs the cores what an annotated video does
        while not slots.try_enter():
            bar.progress(0.0, text="Waiting for a turn: other videos are being made.")
            time.sleep(0.5)
        try:
            with tempfile.TemporaryDirectory(prefix="mesonet-swap-") as folder:
                target = Path(folder) / "target.mp4"
                target.write_bytes(data)
                out = swap_video(
                    source,
                    target,
                    Path(folder) / "deepfake.mp4",
                    max_seconds=VIDEO_SECONDS,
                    progress=lambda done, total: bar.progress(
                        done / total if total else 0.0, text=f"Frame {done} of {total}"
                    ),
                )
                video = out.read_bytes()
        except MesonetError as exc:
            status.update(label="The swap failed", state="error")
            studio.show_error(exc)
            return
        finally:
            slots.leave()
        status.update(label="The swapped video is ready", state="complete")
    st.video(video)
    st.download_button("Download the video (MP4)", video, "deepfake.mp4", "video/mp4", on_click="ignore")


left, right = st.columns(2, gap="large")
with left:
    source = source_face()
with right:
    target = target_media()
if source is None or target is None:
    st.info("Pick a source face and a target to swap it onto.", icon=":material/swap_horiz:")
    st.stop()
source_image, source_name = source
kind, target_value = target
if kind == "video":
    video_swap(source_image, target_value)
    st.stop()

with studio.shown_errors():
    swap = swap_faces(source_image, target_value, source_name=source_name)
lesson(swap, source_image, target_value)
verdicts(swap)
png = labelled_png(swap.result)
buttons = st.container(horizontal=True)
buttons.download_button("Download the deepfake (PNG)", png, "deepfake.png", "image/png", on_click="ignore")
if buttons.button("Analyse it", type="primary", key="swap.analyse", icon=":material/search:"):
    send_to_analyse(png, "deepfake.png")
