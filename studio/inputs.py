"""What users give the app: a photo or video (upload, camera, sample), extraction settings, a labelled dataset."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from mesonet import config
from mesonet.faces.detect import DEFAULT_DETECTOR, DETECTORS
from mesonet.media.images import IMAGE_EXTENSIONS
from studio.error_display import shown_errors

IMAGE_TYPES = sorted(extension.lstrip(".") for extension in IMAGE_EXTENSIONS)
VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "webm", "m4v"]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def temporary_file(data: bytes, name: str) -> Iterator[Path]:
    """Writes uploaded bytes to a temporary file that exists only inside the `with` block.

    The file keeps the upload's name (in a private temporary folder), so that error
    messages name the user's file.
    """
    folder = Path(tempfile.mkdtemp(prefix="mesonet-upload-"))
    path = folder / (Path(name).name or "upload")
    try:
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class MediaInput:
    """A file to analyse, held in memory as uploaded (the temporary file exists only during extraction)."""

    name: str
    data: bytes
    sha256: str
    is_face_crop: bool = False


@dataclass(frozen=True)
class ExtractionSettings:
    n_frames: int = 30
    all_faces: bool = False
    detector: str = DEFAULT_DETECTOR


FROM_ANALYSE = "Analysed file"


def media_input(
    key: str,
    *,
    kept: MediaInput | None = None,
    on_removed: Callable[[], None] | None = None,
    offer: MediaInput | None = None,
) -> MediaInput | None:
    """Upload, camera or sample picker. `key` prefixes the widgets' keys (one set per page).

    The choices survive page switches (`persist_state`); an uploaded file or a photo cannot be
    handed back to its widget, so the page keeps it itself and passes it as `kept`.

    Args:
        key: the page's prefix for the widgets' keys.
        kept: the file this page showed before its user went to another page: shown again while
            the uploader (or the camera) is empty.
        on_removed: called when the user removes the uploaded file or clears the photo, so the
            page can stop keeping it.
        offer: a file analysed on the Analyse page, offered as the first source (Compare).
    """
    sources = ["Upload", "Camera", "Sample"]
    if offer is not None:
        sources.insert(0, FROM_ANALYSE)
    source = st.segmented_control(
        "Source",
        sources,
        default=sources[0],
        key=f"{key}.source",
        label_visibility="collapsed",
        persist_state="session",
    )
    if source == FROM_ANALYSE and offer is not None:
        st.caption(f"**{offer.name}**, the file analysed on the Analyse page, with its face extraction settings.")
        return offer
    if source == "Sample":
        return _sample_input(key)
    given = _camera_input(key, on_removed) if source == "Camera" else _upload_input(key, on_removed)
    if given is None and kept is not None:
        st.caption(
            f"Showing **{kept.name}**, analysed earlier in this session. Upload, take or pick another file "
            "to replace it."
        )
        return kept
    return given


def _removed(widget: str, on_removed: Callable[[], None] | None) -> None:
    if on_removed is not None and st.session_state.get(widget) is None:
        on_removed()


def _camera_input(key: str, on_removed: Callable[[], None] | None) -> MediaInput | None:
    shot = st.camera_input("Take a photo", key=f"{key}.camera", on_change=_removed, args=(f"{key}.camera", on_removed))
    return None if shot is None else MediaInput("camera.jpg", shot.getvalue(), sha256_bytes(shot.getvalue()))


def _upload_input(key: str, on_removed: Callable[[], None] | None) -> MediaInput | None:
    upload = st.file_uploader(
        "Upload a photo or a video",
        type=IMAGE_TYPES + VIDEO_TYPES,
        key=f"{key}.upload",
        help="Photos: JPEG, PNG, WebP, BMP, TIFF. Videos: MP4, MOV, AVI, MKV, WebM. Up to 500 MB.",
        on_change=_removed,
        args=(f"{key}.upload", on_removed),
    )
    if upload is None:
        return None
    is_image = Path(upload.name).suffix.lower() in IMAGE_EXTENSIONS
    is_crop = is_image and st.toggle(
        "This image is already an aligned face crop (skip face detection)",
        key=f"{key}.is_crop",
        help="Like the authors' dataset: the whole image is the face, resized to 256x256.",
        persist_state="session",
    )
    data = upload.getvalue()
    return MediaInput(upload.name, data, sha256_bytes(data), is_crop)


def _sample_input(key: str) -> MediaInput | None:
    from mesonet.media.samples import get_sample, list_samples, sample_path

    samples = {s.name: s for s in list_samples()}
    name = st.selectbox(
        "Sample",
        list(samples),
        format_func=lambda n: samples[n].title,
        key=f"{key}.sample",
        index=None,
        placeholder="Choose a sample...",
        persist_state="session",
    )
    if name is None:
        return None
    sample = get_sample(name)
    st.caption(f"{sample.description} Source: {sample.source}. Truth: **{sample.label}**.")
    with shown_errors(stop=False):
        with st.spinner(f"Preparing {sample.title}..."):
            if sample.made_by_swap:
                from mesonet.faces.swap import sample_deepfake  # made on first use (OpenCV, dlib)

                data = sample_deepfake().read_bytes()
            else:
                data = sample_path(name).read_bytes()
        return MediaInput(Path(sample.relpath).name, data, sha256_bytes(data), sample.is_face_crop)
    return None


@st.cache_data(show_spinner="Preparing the sample faces...", max_entries=1)
def sample_faces() -> list[tuple[np.ndarray, str, str]]:
    """The quizzes' built-in faces, as (aligned crop, "real" or "fake", title): the authors' four crops and
    the face of the sample deepfake (made here, on first use)."""
    from mesonet.faces.swap import sample_deepfake_face
    from mesonet.media.images import load_image
    from mesonet.media.samples import list_samples, sample_path

    faces = [(load_image(sample_path(s.name)), s.label, s.title) for s in list_samples() if s.is_face_crop]
    return [*faces, (sample_deepfake_face(), "fake", "The sample deepfake's face (made here)")]


DETECTOR_LABELS = {
    "auto": "Automatic (HOG; twice the resolution where it finds none)",
    "hog": "HOG only (fastest)",
    "mtcnn": "HOG, then MTCNN (turned faces too; loads TensorFlow)",
}


def extraction_settings(key: str) -> ExtractionSettings:
    with st.expander("Face extraction settings", icon=":material/tune:"):
        columns = st.columns(3)
        n_frames = columns[0].slider(
            "Frames to sample (videos)",
            1,
            120,
            30,
            key=f"{key}.frames",
            help="Evenly spaced over the video, as the authors did (30).",
            persist_state="session",
        )
        faces = columns[1].radio(
            "Faces",
            ["Largest face", "All faces"],
            key=f"{key}.faces",
            help="All faces: each person is followed as a track with its own scores.",
            persist_state="session",
        )
        detector = columns[2].radio(
            "Face detector",
            list(DETECTORS),
            key=f"{key}.detector",
            format_func=DETECTOR_LABELS.get,
            help="Automatic looks again at twice the resolution where HOG found no face: small faces, down to about "
            "60 pixels in a 1080p video. HOG, then MTCNN also finds faces turned away, at about 0.15 s per frame "
            "HOG missed.",
            persist_state="session",
        )
    return ExtractionSettings(n_frames, faces == "All faces", detector)


THRESHOLD_KEY = "decision.threshold"
_THRESHOLD_START_KEY = "decision.threshold_start"


def threshold_slider(*, start: float | None = None, help: str | None = None, disabled: bool = False) -> float:
    """The P(fake) threshold: every verdict, colour and vote follows it. One value per session,
    shared by every page (one key, kept across page switches), so Analyse and Compare agree.

    Args:
        start: the chosen weights' own threshold (picked on validation for trained weights).
            The slider starts there, and goes back there when the weights change; None keeps
            whatever the user set (pages without a classifier picker).
    """
    from mesonet.verdict import DEFAULT_THRESHOLD

    if start is not None and st.session_state.get(_THRESHOLD_START_KEY) != start:
        st.session_state[_THRESHOLD_START_KEY] = start
        st.session_state[THRESHOLD_KEY] = start
    value = st.slider(
        "Threshold on P(fake)",
        0.01,
        0.99,
        DEFAULT_THRESHOLD,
        0.01,
        key=THRESHOLD_KEY,
        help=help,
        disabled=disabled,
        persist_state="session",
    )
    if start is not None and abs(value - start) > 1e-9:
        st.caption(f"These weights' own threshold is {start:.2f}.")
    return value


# Labelled datasets (Evaluate and Train) ------------------------------------------------------


def server_datasets() -> dict[str, Path]:
    """Dataset folders offered on the server: the subfolders of MESONET_DATASETS_DIR."""
    root = config.datasets_dir()
    if root is None:
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}


@dataclass(frozen=True)
class DatasetChoice:
    """A labelled dataset: an uploaded ZIP (bytes) or a folder on the server."""

    name: str
    zip_data: bytes | None = None
    folder: Path | None = None

    @contextlib.contextmanager
    def open(self) -> Iterator[Path]:
        """The dataset's folder, for the `with` block (an uploaded ZIP is unpacked safely, then deleted)."""
        from mesonet.data.archives import unpacked_zip

        if self.folder is not None:
            yield self.folder
        else:
            with unpacked_zip(self.zip_data, self.name) as folder:
                yield folder


def dataset_input(key: str) -> DatasetChoice | None:
    """A ZIP upload of class folders, or one of the server's dataset folders."""
    folders = server_datasets()
    sources = ["Upload a ZIP"] + (["Server folder"] if folders else [])
    source = st.segmented_control("Data", sources, default=sources[-1], key=f"{key}.data_source")
    st.caption(
        "One folder per class: `df`, `fake`, `f2f`, `deepfake` or `forged` hold forged faces, `real` holds "
        "real ones. Images are aligned face crops, like the authors' dataset."
    )
    if source == "Server folder":
        name = st.selectbox("Dataset folder", list(folders), key=f"{key}.folder")
        return DatasetChoice(name, folder=folders[name])
    upload = st.file_uploader("ZIP of class folders", type=["zip"], key=f"{key}.zip")
    return None if upload is None else DatasetChoice(upload.name, zip_data=upload.getvalue())
