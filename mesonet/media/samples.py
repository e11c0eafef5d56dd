"""Sample media to try the detector with, as a catalog like the weights.

- The authors' four sample face crops (two Deepfake, two real, Apache-2.0), shipped in
  `mesonet/sample_data/` and checked against their SHA-256; MESONET_SAMPLES_DIR may name
  another folder holding them (`df/…`, `real/…`). A missing or damaged copy is downloaded
  again from the authors' repository.
- A public-domain face photo that needs no download (NASA's portrait of astronaut Eileen
  Collins, shipped with scikit-image) and a short clip made from it on first use.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mesonet import config
from mesonet.downloads import Progress, download_verified, sha256_of
from mesonet.errors import ChecksumError, DownloadError, SampleError

AUTHORS_RAW = (
    "https://raw.githubusercontent.com/DariusAf/MesoNet/2144d56a30e48cdcac1976ff13a1c5cdc86376c6/test_images/{}"
)
_AUTHORS_SOURCE = "DariusAf/MesoNet on GitHub (test_images/), Apache-2.0"
_NASA = "NASA portrait of astronaut Eileen Collins, public domain; shipped with scikit-image"


@dataclass(frozen=True)
class Sample:
    """One sample file.

    Attributes:
        name: stable identifier, e.g. "authors-df00204".
        kind: "image" or "video".
        label: "real" or "fake": what the file really is.
        is_face_crop: an aligned face crop already (score it directly) rather than a scene.
        made_by_swap: made on first use by the face-swap lesson (`mesonet.faces.swap.sample_deepfake`),
            which sits above this module: `sample_path` only finds it once made.
        relpath: where the file sits inside a samples folder (see `mesonet.config.samples_dirs`).
        sha256: the published file's hash (None for files made here).
    """

    name: str
    title: str
    kind: Literal["image", "video"]
    label: Literal["real", "fake"]
    description: str
    source: str
    relpath: str
    is_face_crop: bool = False
    sha256: str | None = None
    made_by_swap: bool = False

    @property
    def url(self) -> str | None:
        return AUTHORS_RAW.format(self.relpath) if self.sha256 else None

    @property
    def needs_download(self) -> bool:
        return self.sha256 is not None


def _authors(stem: str, label: Literal["real", "fake"], sha256: str) -> Sample:
    folder = "df" if label == "fake" else "real"
    what = "a Deepfake face" if label == "fake" else "a real face"
    return Sample(
        f"authors-{stem}",
        f"Authors' crop {stem} ({label})",
        "image",
        label,
        f"An aligned face crop from the authors' test images: {what}.",
        _AUTHORS_SOURCE,
        f"{folder}/{stem}.jpg",
        is_face_crop=True,
        sha256=sha256,
    )


CATALOG: dict[str, Sample] = {
    sample.name: sample
    for sample in (
        Sample(
            "astronaut-photo",
            "Astronaut portrait (real photo)",
            "image",
            "real",
            "A real studio portrait; works offline.",
            _NASA,
            "astronaut.png",
        ),
        Sample(
            "astronaut-clip",
            "Astronaut clip (3 s, made from the photo)",
            "video",
            "real",
            "A 3-second 640x360 clip panning over the real portrait; made locally on first use.",
            _NASA,
            "astronaut_clip.mp4",
        ),
        Sample(
            "astronaut-deepfake",
            "Astronaut clip, face-swapped (a deepfake made here)",
            "video",
            "fake",
            "The astronaut clip with the face of the authors' real crop real00240 swapped in by the face-swap "
            "lesson (landmarks, triangle mesh, warps, Poisson blending); made locally on first use, labelled as "
            "made here.",
            f"{_NASA}; face from {_AUTHORS_SOURCE}",
            "astronaut_deepfake_clip.mp4",
            made_by_swap=True,
        ),
        _authors("df00204", "fake", "ab1e881cd875b295e0c33e46ca464bd34ab5bf8e7629e0d0621a84159020832d"),
        _authors("df01254", "fake", "825cfdefc02c917df65cae3b91883d3fa0eb080cedc87e9619866a603543ce17"),
        _authors("real00240", "real", "cde8c693fbc0dd5366e64013c571cfd5da7a2927eab2b204b2fb0af18e122644"),
        _authors("real00772", "real", "05ec7cf7d3df30b1c21c30128bf73dd6236d176a04dbf77af7560c7fd9435641"),
    )
}


def list_samples() -> list[Sample]:
    return list(CATALOG.values())


def get_sample(name: str) -> Sample:
    try:
        return CATALOG[name]
    except KeyError:
        raise SampleError(f"Unknown sample {name!r}: choose one of {', '.join(CATALOG)}.") from None


def sample_path(name: str, *, download: bool = True, progress: Progress | None = None) -> Path:
    """A local path to the sample, from the shipped copies, or downloaded or made when needed.

    Raises:
        SampleError: no verified copy and none could be downloaded, or the clip cannot be made.
            The message never shows a URL or a network error: it says what to do.
    """
    sample = get_sample(name)
    if name == "astronaut-photo":
        return _astronaut_png()
    if name == "astronaut-clip":
        return _astronaut_clip(config.samples_cache_dir() / sample.relpath)
    if sample.made_by_swap:
        made = config.samples_cache_dir() / sample.relpath
        if not made.is_file():
            raise SampleError(f"Sample {sample.title} is made on first use: open it from the app or the Analyse page.")
        return made
    for folder in config.samples_dirs():
        path = folder / sample.relpath
        if path.is_file() and sha256_of(path) == sample.sha256:
            return path
    remedy = (
        f"Reinstall MesoNet Studio, or put the authors' file in a folder as {sample.relpath} and set "
        f"{config.SAMPLES_DIR_ENV} to that folder."
    )
    if not download:
        raise SampleError(f"Sample {sample.title} is missing from this installation. {remedy}")
    try:
        return download_verified(
            sample.url, config.samples_cache_dir() / sample.relpath, sample.sha256, progress=progress
        )
    except (DownloadError, ChecksumError):
        raise SampleError(
            f"Sample {sample.title} is missing from this installation and could not be downloaded. {remedy}"
        ) from None


def _astronaut_png() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / "astronaut.png"


def _astronaut_clip(target: Path) -> Path:
    """A 3-s, 25-fps, 640x360 H.264 clip panning slowly over the astronaut portrait."""
    if target.is_file():
        return target
    import imageio_ffmpeg

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}.part.mp4")
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-loop",
        "1",
        "-i",
        str(_astronaut_png()),
        "-t",
        "3",
        "-r",
        "25",
        "-vf",
        "scale=720:720,crop=640:360:x='40+20*t':y='10+8*t'",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "20",
        "-pix_fmt",
        "yuv420p",
        str(part),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not part.is_file():
        part.unlink(missing_ok=True)
        raise SampleError(f"Could not make the astronaut clip with ffmpeg: {result.stderr.strip()[:200]}")
    part.replace(target)
    return target
