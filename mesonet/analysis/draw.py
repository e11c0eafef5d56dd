"""Drawing the annotations: face boxes with their P(fake), the timeline strip, and what each frame shows.

The app's frame view (`studio.results.annotated_frame`) and the annotated video
(`mesonet.analysis.annotate`) draw faces with the same `draw_face`, in the verdict's colours
(`mesonet.verdict.VERDICT_COLORS`): red for fake, green for real, at the threshold.

Coordinates: boxes are (top, right, bottom, left) in pixels of the image drawn on, x to the
right and y down, as everywhere in `mesonet.faces.detect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mesonet.analysis.results import Analysis, FaceScore, face_number
from mesonet.errors import AnnotateError
from mesonet.media.ffmpeg import VideoInfo
from mesonet.media.video import FrameSampling, sampling_range
from mesonet.verdict import verdict_color

# The strip's own colours: a dark panel above the video, grey guides and text, a white cursor.
_STRIP_BACKGROUND = (24, 24, 27)
_STRIP_GUIDE = (120, 120, 128)
_STRIP_TEXT = (205, 205, 212)
_STRIP_CURSOR = (255, 255, 255)
# The strip's height, as a share of the video's height (at least STRIP_MIN_PX).
STRIP_SHARE = 0.16
STRIP_MIN_PX = 56


@dataclass(frozen=True)
class ScoredFrame:
    """One analysed frame: its index (from 0) and its scored faces (empty when none was found)."""

    frame_index: int
    faces: tuple[FaceScore, ...] = ()


@dataclass(frozen=True)
class Annotations:
    """What an annotated video shows.

    Attributes:
        frames: the analysed frames, in frame order.
        threshold: P(fake) at or above which a face is fake (red), else real (green).
        first_frame: the first frame the analysis covered (its time range's start).
        stop_frame: the frame after the last one it covered; None for the end of the video.
            Frames outside [first_frame, stop_frame) show no box.
        frame_size: (width, height) of the frames the boxes were found in, if known; checked
            against the video.
    """

    frames: tuple[ScoredFrame, ...]
    threshold: float
    first_frame: int = 0
    stop_frame: int | None = None
    frame_size: tuple[int, int] | None = None

    @classmethod
    def from_analysis(cls, analysis: Analysis) -> Annotations:
        """The faces and scores of a video's analysis, over the time range it covered.

        Raises:
            AnnotateError: the analysis is of a photo.
        """
        extraction = analysis.extraction
        if extraction.kind != "video" or extraction.info is None:
            raise AnnotateError(f"{Path(analysis.path).name}: is a photo; an annotated video is made from a video.")
        first, stop = sampling_range(extraction.info, FrameSampling(**extraction.settings["sampling"]))
        by_frame = analysis.faces_by_frame()
        frames = tuple(ScoredFrame(f.frame_index, tuple(by_frame.get(f.frame_index, ()))) for f in extraction.frames)
        size = extraction.frames[0].frame_size if extraction.frames else None
        return cls(frames, analysis.threshold, first, stop, size)


def label_style(image_width: int) -> tuple[ImageFont.FreeTypeFont, int]:
    """The font and the line width (pixels) of face labels on an image this many pixels wide.

    Sized to the image (the text about a 22nd of its width), so labels stay readable when the
    image is shown small, on a phone.
    """
    return ImageFont.load_default(size=max(14, image_width // 22)), max(3, image_width // 200)


def draw_face(
    image: Image.Image,
    box: Sequence[float],
    label: str,
    color: str,
    *,
    font: ImageFont.FreeTypeFont,
    line: int,
) -> None:
    """Draws one face's box and, in a filled tag of the same colour, its label.

    Args:
        image: the RGB image to draw on, in place.
        box: (top, right, bottom, left) in the image's pixels.
        label: e.g. "face 1: 73%".
        color: "#RRGGBB".
        font: the label's font (see `label_style`).
        line: the box's line width in pixels.
    """
    top, right, bottom, left = box
    draw = ImageDraw.Draw(image)
    draw.rectangle([left, top, right, bottom], outline=color, width=line)
    x0, y0, x1, y1 = draw.textbbox((0, 0), label, font=font)
    tag_width, tag_height = x1 - x0 + 2 * line, y1 - y0 + 2 * line
    y = top - tag_height if top >= tag_height else bottom  # above the box, or below it at the top edge
    x = min(max(0, left), image.width - tag_width)
    draw.rectangle([x, y, x + tag_width, y + tag_height], fill=color)
    draw.text((x + line - x0, y + line - y0), label, fill="white", font=font)


def strip_height(video_height: int) -> int:
    """The timeline strip's height in pixels for a video this tall (even, for yuv420p)."""
    height = max(STRIP_MIN_PX, round(video_height * STRIP_SHARE))
    return height + height % 2


class TimelineStrip:
    """The strip above the video: P(fake) along the whole video, revealed up to the current frame.

    Column x of the strip stands for the frames around time (x + 0.5) / width of the video. Its
    bar rises to that moment's P(fake) (the most suspicious face's, when there are several), in
    the verdict's colour; moments without a face have no bar. A dashed line marks the threshold,
    and a white cursor the current frame.

    Args:
        width: the strip's width in pixels (the video's).
        height: its height in pixels (see `strip_height`).
        p_fake: float array of shape (width,): each column's P(fake), NaN where no face is shown.
        threshold: the threshold on P(fake).
        duration_s: the video's length, for the time shown at the right.
    """

    def __init__(self, width: int, height: int, p_fake: np.ndarray, threshold: float, duration_s: float) -> None:
        self.width, self.height, self.duration_s = width, height, duration_s
        self.font = ImageFont.load_default(size=max(11, height // 4))
        pad = max(3, height // 10)
        self._top, self._bottom = pad + height // 4, height - pad  # the bars' span: P(fake) 0 at the bottom
        empty = Image.new("RGB", (width, height), _STRIP_BACKGROUND)
        full = empty.copy()
        bars = ImageDraw.Draw(full)
        for x, value in enumerate(p_fake):
            if not np.isnan(value):
                color = verdict_color(float(value), threshold)
                # At least a few pixels high, so that a P(fake) of 0% still shows its colour.
                bars.line([(x, min(self._y(float(value)), self._bottom - 3)), (x, self._bottom)], fill=color)
        for image in (empty, full):
            draw = ImageDraw.Draw(image)
            y = self._y(threshold)
            for x in range(0, width, 8):
                draw.line([(x, y), (x + 3, y)], fill=_STRIP_GUIDE)
            draw.line([(0, self._bottom), (width, self._bottom)], fill=_STRIP_GUIDE)
            draw.text((pad, pad // 2), f"P(fake) · threshold {threshold:.0%}", fill=_STRIP_TEXT, font=self.font)
        self._empty, self._full = empty, full

    def _y(self, p_fake: float) -> int:
        return round(self._bottom - p_fake * (self._bottom - self._top))

    def paste(self, image: Image.Image, *, top: int, time_s: float) -> None:
        """Pastes the strip at row `top` of `image`, revealed up to the column of `time_s`."""
        fraction = min(1.0, max(0.0, time_s / self.duration_s)) if self.duration_s > 0 else 1.0
        cursor = min(self.width - 1, int(fraction * self.width))
        image.paste(self._empty, (0, top))
        if cursor > 0:
            image.paste(self._full.crop((0, 0, cursor, self.height)), (0, top))
        draw = ImageDraw.Draw(image)
        draw.line([(cursor, top), (cursor, top + self.height - 1)], fill=_STRIP_CURSOR, width=2)
        clock = f"{time_s:.1f} / {self.duration_s:.1f} s"
        text_width = draw.textlength(clock, font=self.font)
        draw.text((self.width - text_width - 6, top + 1), clock, fill=_STRIP_TEXT, font=self.font)


def nearest_frames(sampled: Sequence[int], frames: np.ndarray, *, first: int, stop: int) -> np.ndarray:
    """For each frame index, the position in `sampled` of the nearest analysed frame. Pure.

    Args:
        sampled: sorted frame indices that were analysed.
        frames: int array of frame indices.
        first, stop: the analysed range [first, stop); frames outside it get -1.

    Returns:
        int array shaped like `frames`: positions in `sampled` (the earlier one on a tie), or -1.
    """
    frames = np.asarray(frames)
    samples = np.asarray(sampled, dtype=np.int64)
    if samples.size == 0:
        return np.full(frames.shape, -1)
    after = np.clip(np.searchsorted(samples, frames), 0, samples.size - 1)
    before = np.clip(after - 1, 0, samples.size - 1)
    take_after = np.abs(samples[after] - frames) < np.abs(frames - samples[before])
    nearest = np.where(take_after, after, before)
    return np.where((frames >= first) & (frames < stop), nearest, -1)


class FramePainter:
    """Draws one output frame's boxes and strip; everything that does not change is prepared once."""

    def __init__(self, annotations: Annotations, info: VideoInfo, size: tuple[int, int]) -> None:
        self.width, self.height = size
        self.fps = info.fps
        self.scale = (self.width / info.width, self.height / info.height)
        self.threshold = annotations.threshold
        self.frames = sorted(annotations.frames, key=lambda f: f.frame_index)
        self.indices = [f.frame_index for f in self.frames]
        self.first = annotations.first_frame
        self.stop = info.frame_count if annotations.stop_frame is None else annotations.stop_frame
        self.several = len({face.track_id for f in self.frames for face in f.faces}) > 1
        self.font, self.line = label_style(self.width)
        # The strip: column x stands for the frame at the middle of its share of the video.
        columns = ((np.arange(self.width) + 0.5) * info.frame_count / self.width).astype(np.int64)
        worst = np.array([max((face.p_fake for face in f.faces), default=np.nan) for f in self.frames] + [np.nan])
        p_fake = worst[self.nearest(columns)]  # -1 (no frame) picks the trailing NaN
        self.strip = TimelineStrip(
            self.width, strip_height(self.height), p_fake, self.threshold, info.frame_count / info.fps
        )
        # The strip goes above the picture: below it, a paused player's controls would cover it.
        self.video_top = self.strip.height

    def nearest(self, frames: np.ndarray) -> np.ndarray:
        return nearest_frames(self.indices, frames, first=self.first, stop=self.stop)

    def paint(self, image: Image.Image, frame_index: int) -> None:
        """Draws on `image` (the strip's rows, then the video frame from row `video_top`) for frame `frame_index`."""
        position = int(self.nearest(np.array([frame_index]))[0])
        for face in self.frames[position].faces if position >= 0 else ():
            top, right, bottom, left = face.box
            sx, sy = self.scale
            label = (
                f"face {face_number(face.track_id)}: {face.p_fake:.0%}"
                if self.several
                else f"P(fake) {face.p_fake:.0%}"
            )
            color = verdict_color(face.p_fake, self.threshold)
            box = (top * sy + self.video_top, right * sx, bottom * sy + self.video_top, left * sx)
            draw_face(image, box, label, color, font=self.font, line=self.line)
        self.strip.paste(image, top=0, time_s=frame_index / self.fps)
