"""Reading photos as uint8 RGB, and any media file (photo or video) as sampled frames.

Public API:
    IMAGE_EXTENSIONS, VIDEO_EXTENSIONS   lower-case suffixes, with the dot
    is_video(path) -> bool
    load_image(source, *, name=None) -> np.ndarray        uint8 RGB (H, W, 3)
    fits_pixel_budget(path) -> bool                        header check, for datasets
    check_media(path)                                      header checks before a model is loaded
    iter_media_frames(path, sampling=None) -> (VideoInfo | None, Iterator[VideoFrame])
    resized(image, scale) -> np.ndarray                    a frame scaled for detection or a preview
    opencv() -> the cv2 module, on one thread

Videos are read by `mesonet.media.video` (probe_video, FrameSampling, sample_frame_indices,
iter_frames, VideoFrame, VideoInfo); those names are importable from here too, since most
callers want "a media file" rather than one kind.

Every failure to read a user's file raises `MediaError` with a one-line message that says
what is wrong and what to do.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from mesonet import config
from mesonet.errors import MediaError, first_line
from mesonet.media.ffmpeg import VideoFrame, VideoInfo, check_media_file, check_pixel_budget, probe_video
from mesonet.media.video import VIDEO_EXTENSIONS, FrameSampling, iter_frames, sample_frame_indices

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FrameSampling",
    "VideoFrame",
    "check_media",
    "VideoInfo",
    "fits_pixel_budget",
    "is_video",
    "iter_frames",
    "iter_media_frames",
    "load_image",
    "probe_video",
    "sample_frame_indices",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
_IMAGE_HINT = "Use a JPEG, PNG, WebP, BMP or TIFF image."
# The only decoders Pillow may use on a user's file: the formats of IMAGE_EXTENSIONS (JPEG also
# opens phone photos stored as MPO). Never EPS (Ghostscript), PSD, ICNS or the other rarely used ones.
PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
_PILLOW_FLAG_LOCK = threading.Lock()
# Wide conversions (16-bit and float images) go through bands of this many rows, so they never
# hold a whole-image int64 or float64 copy.
_BAND_ROWS = 256


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
        with _open_image(path):
            return False
    except Exception:
        return True


def load_image(source: str | Path | bytes, *, name: str | None = None) -> np.ndarray:
    """Reads a photo as upright 8-bit RGB.

    EXIF orientation is applied. Transparent pixels are composited on white; 16-bit images
    keep their 8 most significant bits; greyscale and palette images are expanded to RGB.
    Images over the pixel budget (`mesonet.config.max_pixels`, 24 megapixels by default) are
    refused from their header, before any pixel is decoded; Pillow's decompression-bomb guard
    stays on too.

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
        with _open_image(opener) as image:
            width, height = image.size
            check_pixel_budget(width, height, label=label)
            # load() inside the try: a truncated file only fails when its pixels are decoded.
            with _strict_pillow():
                image.load()
            upright = ImageOps.exif_transpose(image)
            return np.array(to_rgb(upright), dtype=np.uint8)
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


def _open_image(source: Path | io.BytesIO) -> Image.Image:
    """Pillow's lazy open (the header only), with no decoder outside PILLOW_FORMATS."""
    Image.init()  # registers every plugin once, so that formats= can name WebP and TIFF
    return Image.open(source, formats=PILLOW_FORMATS)


def check_media(path: str | Path) -> None:
    """Cheap checks of a photo or video before any model is loaded: the header, not the pixels.

    A video is probed (container, stream, frame size); an image must be a file of a known format
    within the pixel budget. Lets a command refuse a hostile file in milliseconds.

    Raises:
        MediaError: the file would be refused when read; the message says why.
    """
    path = Path(path)
    if is_video(path):
        probe_video(path)
        return
    check_media_file(path, label=path.name, kind="image")
    try:
        with _open_image(path) as image:
            width, height = image.size
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        load_image(path)  # raises the same message as reading it would
        return
    check_pixel_budget(width, height, label=path.name)


def fits_pixel_budget(path: str | Path) -> bool:
    """Tells from the header whether an image is within the pixel budget (True for non-images).

    For dataset files that another decoder (TensorFlow) reads without Pillow's limits: a file that
    is not an image Pillow knows is left to that decoder.
    """
    try:
        with _open_image(path) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        return False
    except Exception:
        return True
    return width * height <= config.max_pixels()


@functools.cache
def opencv() -> ModuleType:
    """OpenCV, set to one thread: on these frame-sized images its threads cost more CPU than they
    save (a face's warp and shrink took 1.6 ms of CPU on one thread, 2.8 ms on two), and the
    worker processes already keep every core busy."""
    import cv2

    cv2.setNumThreads(1)
    return cv2


def resized(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` (uint8, H x W x C) scaled by `scale`: bilinear, or area averaging below half size
    (where bilinear would skip pixels and alias).

    OpenCV's resize: a 720p frame to 640 px took 0.3 ms of CPU against Pillow's 6.1 ms, and a 720p
    clip's analysis made three resizes per frame (detection, the search near the last face, the
    preview): a third of its CPU time with Pillow. OpenCV's area averaging costs 1-4 ms at other
    ratios, so it is kept for the large reductions.
    """
    if scale == 1.0:
        return image
    cv2 = opencv()
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR)


def to_rgb(image: Image.Image) -> Image.Image:
    """Converts any Pillow mode to 8-bit RGB (alpha composited on white).

    16-bit and float images are converted a band of rows at a time: at most one extra 4-byte copy
    of the image (Pillow's own array export) plus the 8-bit result.
    """
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image)
        eight_bit = np.empty(values.shape, dtype=np.uint8)
        if image.mode == "F":
            # Floats in [0, 1] are scaled to [0, 255]; larger ones are taken as 0-255 already.
            scale = 255.0 if not values.size or np.nanmax(values) <= 1.0 else 1.0
        for top in range(0, values.shape[0], _BAND_ROWS):
            band = values[top : top + _BAND_ROWS]
            if image.mode == "F":
                band = np.nan_to_num(np.clip(band * np.float32(scale), 0, 255))
            else:
                # Pillow's convert("RGB") clips 16-bit values at 255 (a white image): keep the top 8 bits.
                band = np.clip(band >> 8, 0, 255)
            eight_bit[top : top + _BAND_ROWS] = band
        del values
        return Image.fromarray(eight_bit).convert("RGB")
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
