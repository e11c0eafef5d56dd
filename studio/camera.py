"""The Live page's parts: the camera's frame processor, the boxes drawn on the video, the rolling chart.

streamlit-webrtc (checked on 0.79) runs `LiveProcessor` in a thread of its own for every frame
the browser sends. The processor hands the newest frame to the session's `mesonet.serving.live.LiveStream`,
which scores in its own thread and drops what it cannot keep up with, and sends the frame back with
the latest scored faces drawn on it, so the video plays at the camera's rate while the boxes follow
at the scoring rate. The page writes the classifier and the threshold into the session's
`LiveSession` on every run, and the processor reads them for every frame: both apply live.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections import defaultdict

import av
import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit_webrtc import VideoProcessorBase

from mesonet.analysis.draw import draw_face, label_style
from mesonet.analysis.results import face_number
from mesonet.serving.limits import ConcurrencyLimit
from mesonet.serving.live import LiveFrame, LiveScorer, LiveStats, LiveStream
from mesonet.verdict import DEFAULT_THRESHOLD, VERDICT_COLORS, verdict_color
from studio.results import MODEL_COLORS, threshold_line
from studio.server import live_camera_limit, live_stream_limit

SESSION_KEY = "live.session"
WINDOW_S = 10.0  # the chart's width, and the seconds of results kept
# A playing stream that has sent no frame for this long has stopped sending (camera unplugged,
# taken by another app, connection lost).
STALLED_AFTER_S = 3.0
# The camera the page asks for: 640 x 480, as the scoring speed is measured (benchmarks/bench_live.py).
MEDIA_CONSTRAINTS = {
    "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30}},
    "audio": False,
}
VIDEO_ATTRIBUTES = {"autoPlay": True, "controls": False, "muted": True, "style": {"width": "100%"}}
# What the camera component's red box says when the browser gives no camera, and what to do.
CAMERA_TROUBLE = """A red message on the camera above means the browser gave it no camera:
- **NotAllowedError**: the camera was refused. Allow it for this site (the camera icon in the address
  bar, or the browser's site settings), then press **START** again.
- **NotFoundError**: the browser finds no camera. Connect one, or allow the browser to use it in the
  system's privacy settings, then reload the page.
- **NotReadableError**: another application is using the camera. Close it and press **START** again.
- **navigator.mediaDevices is undefined**: the page is neither on `localhost` nor on HTTPS, where
  browsers give no camera at all (see "Live camera" in the README)."""


class CamerasFull(Exception):
    """The server has `limit` cameras connected already."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The server has {limit} cameras connected, as many as it takes at once.")
        self.limit = limit


class LiveSession:
    """One browser session's live scoring: its stream of results and the current threshold.

    Kept in `st.session_state`; the page updates it on every run, the processor thread reads it.
    Attribute writes are atomic in Python, so no lock is needed for `threshold` and the classifier.
    """

    def __init__(self, classifier) -> None:
        self.stream = LiveStream(LiveScorer(classifier), slots=live_stream_limit(), history_s=WINDOW_S)
        self.threshold = DEFAULT_THRESHOLD
        self._warm_up(classifier)

    def configure(self, classifier, threshold: float) -> None:
        """The picker's classifier and the threshold, for the next frames."""
        if classifier is not self.stream.scorer.classifier:
            self._warm_up(classifier)
        self.stream.scorer.classifier = classifier
        self.threshold = threshold

    def _warm_up(self, classifier) -> None:
        """Loads dlib's models and makes the classifier's first call while the user reads the page,
        so that the first frames after START are scored at once."""
        scorer = LiveScorer(classifier)
        threading.Thread(target=scorer.warm_up, name="mesonet-live-warm-up", daemon=True).start()

    def processor(self) -> LiveProcessor:
        """A new processor for a new camera stream (streamlit-webrtc's `video_processor_factory`).

        Raises:
            CamerasFull: the server has as many cameras connected as it takes (the connection is
                refused before it costs anything; the page says so).
        """
        places = live_camera_limit()
        if not places.try_enter():
            raise CamerasFull(places.limit)
        return LiveProcessor(self, places)


def live_session(classifier, threshold: float) -> LiveSession:
    """This session's LiveSession, made on first use, with the picker's classifier and the threshold."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = LiveSession(classifier)
    live: LiveSession = st.session_state[SESSION_KEY]
    live.configure(classifier, threshold)
    return live


class LiveProcessor(VideoProcessorBase):
    """Scores (through the session's LiveStream) and annotates the frames of one camera stream."""

    def __init__(self, live: LiveSession, place: ConcurrencyLimit) -> None:
        self.live = live
        # The camera connection this stream holds: given back when the stream ends, or when
        # streamlit-webrtc drops the processor without ending it (a connection that failed).
        self._give_back = weakref.finalize(self, place.leave)
        live.stream.restart()  # a new stream: counts, chart and face numbers start again

    async def recv_queued(self, frames: list) -> list:
        # Frames queued while the last one was drawn are skipped here already; only the newest counts.
        try:
            image = frames[-1].to_ndarray(format="rgb24")
            self.live.stream.offer(image, dropped_before=len(frames) - 1)
            status = status_line(self.live.stream.stats())
            annotated = annotate(image, self.live.stream.latest(), self.live.threshold, status)
            return [av.VideoFrame.from_ndarray(annotated, format="rgb24")]
        except Exception:
            # An exception here would end streamlit-webrtc's thread and freeze the video: show the frame as it is.
            logging.getLogger(__name__).exception("Drawing a live frame failed")
            return [frames[-1]]

    def on_ended(self) -> None:
        self.live.stream.stop()
        self._give_back()  # once only, however often it is called


def status_line(stats: LiveStats) -> str:
    """What the video's top-left corner says: the scoring rate, or that the server is busy."""
    return "server busy: not scored" if stats.waiting_for_slot else f"{stats.fps:.1f} scored fps"


def annotate(image: np.ndarray, result: LiveFrame | None, threshold: float, status: str) -> np.ndarray:
    """The frame with each face's box and P(fake) coloured by its verdict, and a status line.

    Args:
        image: uint8 RGB array of shape (H, W, 3); not modified.
        result: the latest scored frame (its boxes are drawn on this newer frame), or None.
        threshold: the P(fake) threshold for the colours.
        status: shown in the top-left corner (`status_line`).

    Returns:
        uint8 RGB array of shape (H, W, 3).
    """
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    font, line = _label_style(picture.width)  # as on the Analyse page's frame view and annotated video
    for face in result.faces if result is not None else ():
        label = f"face {face_number(face.track_id)}: {face.p_fake:.0%}"
        draw_face(picture, face.box, label, verdict_color(face.p_fake, threshold), font=font, line=line)
    draw = ImageDraw.Draw(picture)
    small = _font(max(12, picture.width // 40))
    x0, y0, x1, y1 = draw.textbbox((0, 0), status, font=small)
    draw.rectangle([0, 0, x1 - x0 + 2 * line, y1 - y0 + 2 * line], fill="#000000")
    draw.text((line - x0, line - y0), status, fill="white", font=small)
    return np.asarray(picture)


# Loading a font costs more than drawing a frame's boxes: once per image width.
_label_style = functools.cache(label_style)


@functools.cache
def _font(size: int):
    """Pillow's default font at `size` pixels (loading it costs more than drawing a frame's boxes)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def chart(history: list[LiveFrame], threshold: float, *, model: str) -> go.Figure:
    """P(fake) of each face over the last WINDOW_S seconds of the stream, one line per face.

    Args:
        history: scored frames, oldest first (frames scored by another model are left out).
        threshold: drawn as a dashed line; the band above it is tinted as "fake".
        model: the classifier whose scores are shown.
    """
    frames = [f for f in history if f.model == model]
    end = max(WINDOW_S, frames[-1].time_s if frames else 0.0)
    series: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    last_seen: dict[int, float] = {}
    for frame in frames:
        for face in frame.faces:
            times, values = series[face.track_id]
            if face.track_id in last_seen and frame.time_s - last_seen[face.track_id] > 1.0:
                times.append(None)  # the face was away: a gap, not a line across it
                values.append(None)
            times.append(frame.time_s)
            values.append(face.p_fake)
            last_seen[face.track_id] = frame.time_s
    traces = []
    for n, track_id in enumerate(sorted(series)):
        times, values = series[track_id]
        traces.append(
            {
                "type": "scatter",
                "x": times,
                "y": values,
                "mode": "lines+markers",  # markers: a face scored once is a dot, not nothing
                "name": f"face {face_number(track_id)}",
                "line": {"color": MODEL_COLORS[n % len(MODEL_COLORS)], "width": 3},
                "marker": {"size": 5},
                "hovertemplate": "%{y:.0%} at %{x:.1f} s<extra>face " + str(face_number(track_id)) + "</extra>",
            }
        )
    fake_band = {
        "type": "rect",
        "xref": "x domain",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": threshold,
        "y1": 1.0,
        "fillcolor": VERDICT_COLORS["fake"],
        "opacity": 0.07,
        "line": {"width": 0},
    }
    label = {
        "text": f"threshold {threshold:.0%}",
        "showarrow": False,
        "xref": "x domain",
        "x": 1,
        "xanchor": "right",
        "yref": "y",
        "y": threshold,
        "yanchor": "top",
    }
    layout = {
        "shapes": [fake_band, threshold_line("y", threshold)],
        "annotations": [label],
        "height": 300,
        "margin": {"t": 40, "b": 40, "l": 60, "r": 20},
        "xaxis": {"title": {"text": "seconds since START"}, "range": [end - WINDOW_S, end]},
        "yaxis": {"title": {"text": "P(fake)"}, "range": [0, 1], "tickformat": ".0%"},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "showlegend": True,
    }
    # In one call, as studio.results.scores_figure: redrawn every second while the camera runs.
    return go.Figure(data=traces, layout=layout)
