"""mesonet.media.images: reading photos as upright 8-bit RGB, and a photo as a one-frame video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mesonet.errors import MediaError
from mesonet.media.images import iter_media_frames, load_image
from tests.helpers import bomb_png


def _save(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


def test_small_rgb_image_loads(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (10, 10), (10, 20, 30)), tmp_path / "small.png")
    array = load_image(path)
    assert array.shape == (10, 10, 3) and array.dtype == np.uint8
    assert tuple(array[5, 5]) == (10, 20, 30)
    assert np.array_equal(load_image(path.read_bytes()), array)


def test_sixteen_bit_png_keeps_its_levels(tmp_path: Path) -> None:
    values = np.full((8, 8), 0x8000, dtype=np.uint16)
    values[0, 0] = 0xFFFF
    path = _save(Image.fromarray(values), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I;16")
    array = load_image(path)
    assert tuple(array[1, 1]) == (128, 128, 128) and tuple(array[0, 0]) == (255, 255, 255)


def test_palette_greyscale_and_alpha_images(tmp_path: Path) -> None:
    palette = Image.new("RGB", (6, 6), (200, 0, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert tuple(load_image(_save(palette, tmp_path / "palette.png"))[0, 0]) == (200, 0, 0)
    grey = Image.new("L", (6, 6), 77)
    assert tuple(load_image(_save(grey, tmp_path / "grey.png"))[0, 0]) == (77, 77, 77)
    rgba = Image.new("RGBA", (6, 6), (0, 0, 255, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent
    array = load_image(_save(rgba, tmp_path / "alpha.png"))
    assert tuple(array[0, 0]) == (255, 255, 255) and tuple(array[3, 3]) == (0, 0, 255)
    webp = load_image(_save(Image.new("RGB", (6, 6), (0, 128, 0)), tmp_path / "a.webp", lossless=True))
    assert tuple(webp[0, 0]) == (0, 128, 0)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # Stored 40 wide x 20 high, left half red; orientation 6 = rotate 90 degrees clockwise to display.
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    array = load_image(_save(stored, tmp_path / "rotated.jpg", exif=exif, quality=95))
    assert array.shape == (40, 20, 3)
    assert array[5, 10, 0] > 200 and array[5, 10, 2] < 60  # top half is red
    assert array[35, 10, 2] > 200 and array[35, 10, 0] < 60  # bottom half is blue


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(20000, 20000))
    assert path.stat().st_size < 200_000
    with pytest.raises(MediaError, match="bomb.png: image is too large"):
        load_image(path)


def test_bad_images_raise_media_error(tmp_path: Path, shared_dir: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture\n")
    truncated = tmp_path / "truncated.jpg"
    data = (shared_dir / "data" / "photos" / "obama.jpg").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    cases = {
        empty: "empty \\(0 bytes\\)",
        text: "not an image",
        truncated: "damaged or incomplete",
        tmp_path / "missing.png": "file not found",
    }
    for path, message in cases.items():
        with pytest.raises(MediaError, match=f"{path.name}: .*{message}"):
            load_image(path)
    with pytest.raises(MediaError, match="upload.jpg: .*not an image"):
        load_image(b"plain text", name="upload.jpg")
    with pytest.raises(MediaError, match="empty"):
        load_image(b"")


def test_truncated_jpeg_fails_even_after_face_recognition_import(tmp_path: Path, shared_dir: Path) -> None:
    # Regression: importing face_recognition sets Pillow's LOAD_TRUNCATED_IMAGES to True, and
    # a half-downloaded photo then loaded silently with its bottom half grey.
    import face_recognition  # noqa: F401
    from PIL import ImageFile

    data = (shared_dir / "data" / "photos" / "obama.jpg").read_bytes()
    truncated = tmp_path / "half.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    flag = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with pytest.raises(MediaError, match="half.jpg: the image data is damaged or incomplete"):
            load_image(truncated)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # put back as it was
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = flag


def test_image_is_a_one_frame_video(shared_dir: Path) -> None:
    info, frames = iter_media_frames(shared_dir / "data" / "photos" / "obama.jpg")
    (frame,) = list(frames)
    assert info is None and frame.frame_index == 0 and frame.time_s == 0.0
    assert frame.rgb.shape == (1137, 910, 3)
