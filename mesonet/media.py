"""Reading photos as uint8 RGB, and any media file (photo or video) as sampled frames.

Public API:
    IMAGE_EXTENSIONS, VIDEO_EXTENSIONS   lower-case suffixes, with the dot
    is_video(path) -> bool
    load_image(source, *, name=None) -> np.ndarray        uint8 RGB (H, W, 3)
    iter_media_frames(path, sampling=None) -> (VideoInfo | None, Iterator[VideoFrame])

Videos are read by `mesonet.video` (probe_video, FrameSampling, sample_frame_indices,
iter_frames, VideoFrame, VideoInfo); those names are importable from here too, since most
callers want "a media file" rather than one kind.

Every failure to read a user's file raises `MediaError` with a one-line message that says
what is wrong and what to do.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from mesonet.errors import MediaError, first_line
from mesonet.video import (
    VIDEO_EXTENSIONS,
    FrameSampling,
    VideoFrame,
    VideoInfo,
    check_media_file,
    iter_frames,
    probe_video,
    sample_frame_indices,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FrameSampling",
    "VideoFrame",
    "VideoInfo",
    "is_video",
    "iter_frames",
    "iter_media_frames",
    "load_image",
    "probe_video",
    "sample_frame_indices",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
_IMAGE_HINT = "Use a JPEG, PNG, WebP, BMP or TIFF image."
_PILLOW_FLAG_LOCK = threading.Lock()


def is_video(path: str | Path) -> bool:
    """Tells whether a file should be read as a video (True) or as an image (False).

    Decided by the extension; for an unknown extension, a file Pillow can identify is an
    image and anything else is treated as a video.
    """
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    if suffix in IMAGE_EXTENSIONS:
        return False
    try:
        # Image.open only reads the header, so this is cheap even for a large video.
        with Image.open(path):
            return False
    except Exception:
        return True


def load_image(source: str | Path | bytes, *, name: str | None = None) -> np.ndarray:
    """Reads a photo as upright 8-bit RGB.

    EXIF orientation is applied. Transparent pixels are composited on white; 16-bit images
    keep their 8 most significant bits; greyscale and palette images are expanded to RGB.
    Pillow's decompression-bomb guard stays on (images above about 179 megapixels).

    Args:
        source: a file path, or the encoded file's bytes (e.g. an upload).
        name: what to call the file in error messages (default: the file name).

    Returns:
        uint8 RGB array of shape (H, W, 3), writable.

    Raises:
        MediaError: missing, empty, truncated, too large or not an image.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "uploaded image"
        data = bytes(source)
        if not data:
            raise MediaError(f"{label}: the file is empty (0 bytes). Upload the image again.")
        opener: io.BytesIO | Path = io.BytesIO(data)
    else:
        path = Path(source)
        label = name or path.name
        check_media_file(path, label=label, kind="image")
        opener = path
    try:
        with Image.open(opener) as image:
            # load() inside the try: a truncated file only fails when its pixels are decoded.
            with _strict_pillow():
                image.load()
            upright = ImageOps.exif_transpose(image)
            return np.array(_to_rgb(upright), dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise MediaError(
            f"{label}: image is too large to open safely ({first_line(exc)}). "
            "Downscale it below 100 megapixels and try again."
        ) from exc
    except UnidentifiedImageError as exc:
        raise MediaError(f"{label}: not an image Pillow can read. {_IMAGE_HINT}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(
            f"{label}: the image data is damaged or incomplete ({first_line(exc)}). "
            "Re-export or download the image again."
        ) from exc


@contextmanager
def _strict_pillow() -> Iterator[None]:
    """Makes Pillow refuse truncated images for the duration, whatever the global setting.

    Importing face_recognition sets Pillow's process-wide LOAD_TRUNCATED_IMAGES to True, after
    which a truncated JPEG loads silently with a grey bottom half.
    """
    with _PILLOW_FLAG_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _to_rgb(image: Image.Image) -> Image.Image:
    """Converts any Pillow mode to 8-bit RGB (alpha composited on white)."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's convert("RGB") clips 16-bit values at 255 (a white image): scale instead.
        values = np.asarray(image).astype(np.int64)
        eight_bit = np.clip(values >> 8, 0, 255).astype(np.uint8)
        return Image.fromarray(eight_bit).convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255.0 if np.nanmax(values) <= 1.0 else 1.0
        return Image.fromarray(np.nan_to_num(np.clip(values * scale, 0, 255)).astype(np.uint8)).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def iter_media_frames(
    path: str | Path,
    sampling: FrameSampling | None = None,
) -> tuple[VideoInfo | None, Iterator[VideoFrame]]:
    """Opens a photo or a video and returns its sampled frames; a photo is a one-frame video.

    Problems with the file (unreadable, no video stream, empty range) raise here, at the
    call, not during iteration.

    Args:
        path: an image or video file.
        sampling: which video frames (default: FrameSampling(), 30 evenly spaced).

    Returns:
        (info, frames): info is None for a photo, whose single frame is
        VideoFrame(0, 0.0, rgb).

    Raises:
        MediaError: the file cannot be read.
        InvalidSamplingError: the time range selects no frame.
    """
    path = Path(path)
    if not is_video(path):
        return None, iter([VideoFrame(0, 0.0, load_image(path))])
    info = probe_video(path)
    sampling = sampling or FrameSampling()
    indices = sample_frame_indices(info, sampling)
    return info, iter_frames(path, indices, info=info, exact=sampling.exact)
