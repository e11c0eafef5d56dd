"""The Analyse page's annotated video: made on request from the analysis shown, then offered for download.

The video is made from the faces and scores already on the page (no new analysis), or, on
request, from every frame's (the faces of every frame are found in the server's workers).
Its bytes stay in the session until the file, the settings, the model or the threshold change;
they are read from disk only once the file is complete, and the file is deleted at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from studio.error_display import shown_errors
from studio.inputs import ExtractionSettings, MediaInput, temporary_file
from studio.server import annotated_video_limit, worker_pool

RENDERED_KEY = "analyse.annotated_video"


@st.fragment
def section(media: MediaInput, settings: ExtractionSettings, analysis, classifier) -> None:
    """The "Annotated video" part of the Analyse page for a video's analysis.

    A fragment: making the video reruns only this part of the page.
    """
    st.subheader("Annotated video")
    st.caption(
        "The video with each face's box and P(fake), in the verdict's colour, and a strip of the scores along "
        "it: H.264 MP4 with the sound, same length and frame rate. Between sampled frames, each frame shows "
        "the nearest sampled frame's boxes."
    )
    every_frame = st.toggle(
        "Score every frame",
        key="analyse.annotate_every_frame",
        help="Find and score the faces of every frame for the video, instead of carrying the sampled frames' "
        "boxes (slower: several seconds of work per second of video). The verdict above does not change.",
    )
    wanted = (media.sha256, settings, analysis.model, analysis.threshold, every_frame)
    rendered = st.session_state.get(RENDERED_KEY)
    if rendered is not None and rendered[0] != wanted:
        st.session_state.pop(RENDERED_KEY)  # another file, model or threshold: free the old video
        rendered = None
    if rendered is None:
        slot = st.empty()
        if not slot.button("Make the annotated video", icon=":material/movie:", key="analyse.annotate"):
            return
        slot.empty()  # the video takes the button's place
        with shown_errors(stop=False):
            rendered = (wanted, *_make(media, settings, analysis, classifier, every_frame))
            st.session_state[RENDERED_KEY] = rendered
        if rendered is None:
            return
    _, data, video = rendered
    st.caption(
        f"{video.frame_count} frames at {video.fps:.2f} fps, {video.width}x{video.height} pixels, "
        f"{'with' if video.audio else 'no'} sound, {len(data) / 1e6:.1f} MB."
    )
    st.video(data, format="video/mp4")
    st.download_button(
        "Annotated video (MP4)",
        data,
        f"{Path(media.name).stem}_annotated.mp4",
        "video/mp4",
        icon=":material/download:",
        key="analyse.annotated_download",
        on_click="ignore",
    )


def _make(media: MediaInput, settings: ExtractionSettings, analysis, classifier, every_frame: bool):
    """Writes the annotated video with a progress bar; returns its bytes and its AnnotatedVideo (the
    files are deleted)."""
    from mesonet.analysis.annotate import annotate_video, score_every_frame
    from mesonet.analysis.draw import Annotations

    with st.status(f"Making the annotated video of {media.name}...", expanded=True) as status:
        bar = st.progress(0.0, text="Starting...")
        slots = annotated_video_limit()
        while not slots.try_enter():
            # Each pass draws: a user who leaves the page stops this run here (Streamlit raises).
            bar.progress(
                0.0,
                text=f"Waiting for a turn: the server makes {slots.limit} annotated video"
                f"{'s' if slots.limit > 1 else ''} at a time, and others are being made.",
            )
            time.sleep(0.5)
        try:
            with temporary_file(media.data, media.name) as source:
                if every_frame:
                    annotations = score_every_frame(
                        source,
                        classifier,
                        threshold=analysis.threshold,
                        all_faces=settings.all_faces,
                        detector=settings.detector,
                        extract=worker_pool().extract,
                        progress=_shown(bar, "Finding faces in every frame"),
                    )
                else:
                    annotations = Annotations.from_analysis(analysis)
                out = source.with_name(f"{source.stem}.annotated.mp4")
                video = annotate_video(source, out, annotations, progress=_shown(bar, "Drawing and encoding"))
                data = out.read_bytes()
        except Exception:
            status.update(label=f"Could not make the annotated video of {media.name}", state="error", expanded=False)
            raise
        finally:
            slots.leave()
        status.update(label="Annotated video ready", state="complete", expanded=False)
    return data, video


def _shown(bar, what: str):
    """A progress callback that updates the bar only when the shown percentage changes."""
    shown = [-1]

    def progress(done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 0
        if percent != shown[0]:
            shown[0] = percent
            bar.progress(percent / 100, text=f"{what}: frame {done} of {total}")

    return progress
