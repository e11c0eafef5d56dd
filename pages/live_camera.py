"""Live: the browser's camera streams to the app; faces are found, followed and scored as they come."""

from __future__ import annotations

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

import studio
from mesonet import config
from mesonet.analysis.results import face_number
from studio import camera
from studio.results import percent
from studio.server import live_stream_limit

choice = studio.page_setup()
st.session_state.setdefault("live.status", "idle")  # idle, then playing, then stopped

st.title("Live camera")
st.write(
    "Your camera's video streams to MesoNet Studio, which finds the faces, follows them and scores each one "
    "several times a second. Each face gets a box coloured by its verdict, with its P(fake) beside it; the chart "
    "shows the last 10 seconds. The classifier in the sidebar and the threshold apply while the camera runs."
)
with st.sidebar:
    st.subheader("Decision")
    threshold = studio.threshold_slider(
        start=choice.threshold, help="A face counts as fake at or above it; boxes and chart follow it live."
    )

with studio.shown_errors():
    classifier = studio.classifier_for(choice)
    ice_servers = config.ice_servers()
session = camera.live_session(classifier, threshold)

notice = st.empty()  # filled once the camera component has said whether it plays
try:
    streamer = webrtc_streamer(
        # A refused connection leaves its component waiting for an answer: the next one is a new component.
        key=f"live.camera.{st.session_state.setdefault('live.connection', 0)}",
        mode=WebRtcMode.SENDRECV,
        # No public STUN server: the browser and the server connect directly, as on one machine or
        # network; a deployment adds its TURN server with MESONET_ICE_SERVERS (see the README).
        rtc_configuration={"iceServers": ice_servers},
        media_stream_constraints=camera.MEDIA_CONSTRAINTS,
        video_processor_factory=session.processor,
        async_processing=True,
        video_html_attrs=camera.VIDEO_ATTRIBUTES,
    )
except camera.CamerasFull as full:
    st.session_state["live.refused"] = full.limit
    st.session_state["live.connection"] += 1
    st.rerun()
playing = streamer.state.playing
if playing:
    st.session_state["live.status"] = "playing"
    st.session_state.pop("live.refused", None)
elif st.session_state["live.status"] == "playing":
    st.session_state["live.status"] = "stopped"

if st.session_state.get("live.refused"):
    notice.warning(
        f"The server has {st.session_state['live.refused']} cameras connected, as many as it takes at once, so "
        "that everyone's analyses stay quick. Press **START** again in a minute, when one has stopped; a "
        "recorded video can be analysed on the **Analyse** page meanwhile.",
        icon=":material/hourglass_top:",
    )
elif playing:
    notice.empty()  # the video and the scores below say it all
elif streamer.state.signalling:
    notice.info("Connecting to the camera...", icon=":material/videocam:")
elif st.session_state["live.status"] == "stopped":
    notice.warning(
        "The camera stream stopped. Press **START** to score again; the chart below keeps its last seconds.",
        icon=":material/videocam_off:",
    )
else:
    notice.info(
        "Press **START** and allow the camera when the browser asks. Nothing is recorded: frames are scored "
        "in memory and dropped. Browsers give a camera only to pages on `localhost` or served over HTTPS.",
        icon=":material/videocam:",
    )
if not playing:
    # The browser's refusal shows only inside the component (streamlit-webrtc does not report it).
    st.caption(camera.CAMERA_TROUBLE)


@st.fragment(run_every=1.0 if playing else None)
def scores(model: str, threshold: float, playing: bool) -> None:
    """Scoring rate, faces and the rolling chart; refreshed every second while the camera plays."""
    stats = session.stream.stats()
    if stats.error:
        studio.show_error(f"Scoring failed: {studio.plain(stats.error)}")
    if playing and stats.since_last_frame_s is not None and stats.since_last_frame_s > camera.STALLED_AFTER_S:
        st.warning(
            f"No frame from the camera for {stats.since_last_frame_s:.0f} s: it may have been unplugged or taken "
            "by another application, or the connection dropped. Press **STOP**, then **START**.",
            icon=":material/videocam_off:",
        )
    if playing and stats.waiting_for_slot:
        limit = live_stream_limit().limit
        st.warning(
            f"The server is busy: it already scores {limit} other camera{'s' if limit > 1 else ''}, as many as it "
            "takes at once, so that everyone's analyses stay quick. Your video plays without boxes and is scored as "
            "soon as another camera stops or has had its 30-second turn. A recorded video can be analysed on the "
            "**Analyse** page meanwhile.",
            icon=":material/hourglass_top:",
        )
    if not stats.received:
        return
    history = session.stream.history()
    faces = history[-1].faces if history else ()
    columns = st.columns(4)
    if playing:
        columns[0].metric("Scored frames per second", f"{stats.fps:.1f}", help="Over the last 3 seconds.")
    else:
        average = stats.scored / stats.duration_s if stats.duration_s else 0.0
        columns[0].metric("Scored frames per second", f"{average:.1f}", help="Average over the last run.")
    columns[1].metric("Faces in view", len(faces))
    suspect = max(faces, key=lambda f: f.p_fake, default=None)
    columns[2].metric(
        "Highest P(fake)",
        f"face {face_number(suspect.track_id)}: {percent(suspect.p_fake)}" if suspect else "–",
        help="The most suspicious face of the last scored frame.",
    )
    columns[3].metric(
        "Frames dropped",
        percent(stats.dropped / stats.received),
        help="Frames that arrived while the previous one was being scored: skipped, so the scores never lag.",
    )
    st.plotly_chart(camera.chart(history, threshold, model=model), key="live.chart", config={"displaylogo": False})
    st.caption(f"P(fake) of each face by {studio.plain(model)}. Faces are numbered in the order they appear.")


scores(classifier.name, threshold, playing)
