"""The Live page's drawing and chart (studio/camera.py), on scored frames as the live core returns them.

The page itself needs a browser's camera: tests/app/test_browser_live.py drives it in Chromium
(streamlit-webrtc does not run under AppTest).
"""

from __future__ import annotations

import numpy as np

from mesonet.serving.live import LiveFace, LiveFrame
from mesonet.verdict import VERDICT_COLORS
from studio import camera


def rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])


def pixels_of(image: np.ndarray, color: str) -> int:
    return int((image == rgb(color)).all(axis=2).sum())


def scored(index: int, time_s: float, faces: dict[int, float], model: str = "meso4-df") -> LiveFrame:
    """A scored frame with faces {track id: P(fake)}, side by side."""
    boxes = {track_id: (100, 200 + 200 * n, 260, 60 + 200 * n) for n, track_id in enumerate(faces)}
    return LiveFrame(
        index,
        time_s,
        tuple(LiveFace(t, boxes[t], 1.0 - p, True) for t, p in faces.items()),
        index % 5 == 0,
        model,
        0.02,
    )


def test_faces_are_boxed_in_their_verdict_colour_at_the_threshold_with_the_rate_drawn():
    image = np.full((480, 640, 3), 90, dtype=np.uint8)
    frame = scored(0, 0.0, {0: 0.30, 1: 0.70})
    drawn = camera.annotate(image, frame, threshold=0.5, status="12.5 scored fps")
    assert drawn.shape == image.shape and (image == 90).all(), "the camera's frame is not written into"
    green, red = pixels_of(drawn, VERDICT_COLORS["real"]), pixels_of(drawn, VERDICT_COLORS["fake"])
    assert green > 1500 and red > 1500  # face 1's box and label in green, face 2's in red
    assert green == pixels_of(drawn[:, :320], VERDICT_COLORS["real"])  # face 1 is the left one
    # The threshold moves the colours: at 0.25 both faces are fake, at 0.75 both are real.
    assert (
        pixels_of(camera.annotate(image, frame, threshold=0.25, status="12.5 scored fps"), VERDICT_COLORS["real"]) == 0
    )
    assert (
        pixels_of(camera.annotate(image, frame, threshold=0.75, status="12.5 scored fps"), VERDICT_COLORS["fake"]) == 0
    )
    # The rate, white on black, top left.
    corner = drawn[:30, :200]
    assert (corner == 255).all(axis=2).sum() > 50 and (corner == 0).all(axis=2).sum() > 500
    assert (
        camera.annotate(image, None, threshold=0.5, status="0.0 scored fps")[100:] == 90
    ).all()  # nothing scored yet


def test_the_chart_shows_each_face_over_the_last_ten_seconds_of_the_current_model():
    history = [scored(i, i * 0.1, {0: 0.2, 3: 0.8}) for i in range(50)]
    history += [scored(50 + i, 5.0 + i * 0.1, {0: 0.3}) for i in range(20)]  # face 4 leaves at 4.9 s
    history += [scored(70 + i, 9.0 + i * 0.1, {0: 0.3, 3: 0.6}) for i in range(40)]  # and is back at 9 s
    history += [scored(110, 13.0, {0: 0.9}, model="mesoinception4-df")]  # another model: not shown
    figure = camera.chart(history, 0.4, model="meso4-df")
    traces = {trace.name: trace for trace in figure.data}
    assert set(traces) == {"face 1", "face 4"}
    assert len([x for x in traces["face 1"].x if x is not None]) == 110
    face4 = list(traces["face 4"].x)
    assert face4.count(None) == 1 and face4.index(None) == 50, "a gap while face 4 was away"
    assert figure.layout.xaxis.range == (12.9 - camera.WINDOW_S, 12.9)
    assert figure.layout.shapes[-1].y0 == 0.4 and figure.layout.annotations[0].text == "threshold 40%"
    empty = camera.chart([], 0.5, model="meso4-df")
    assert len(empty.data) == 0 and empty.layout.xaxis.range == (0.0, camera.WINDOW_S)
