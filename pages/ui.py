"""Helpers shared by the app's pages: model picker, caches, uploads and result views.

Caches: models are loaded once per server (`st.cache_resource`) and shared by every user,
so nothing here ever modifies a model. Face extractions are kept in a small server-wide
LRU keyed by the file's SHA-256 and the extraction settings: the same file with the same
settings always gives the same faces, so users can share them, while scored results live in
each user's session state.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from mesonet.errors import MesonetError
from mesonet.models import ARCHITECTURE_TITLES
from mesonet.weights import list_weights

LABEL_NOTE = ("MesoNet's networks output **P(real)**. MesoNet Studio shows **P(fake) = 1 − P(real)**; "
              "the raw output is kept as `score_real` in the downloads.")
WEIGHTS_NOTE = ("**DF** weights were trained on Deepfake face swaps, **F2F** weights on Face2Face reenactment. "
                "Weights only know the manipulation they were trained on: F2F weights call many Deepfake "
                "faces real, and the other way round.")
# The app's pages, in menu order: (file, title, icon). streamlit_app.py routes to them.
PAGE_SPECS = [
    ("pages/analyse.py", "Analyse", ":material/search:"),
    ("pages/compare.py", "Compare models", ":material/compare:"),
    ("pages/learn.py", "Learn", ":material/school:"),
    ("pages/evaluate.py", "Evaluate", ":material/fact_check:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/weights.py", "Weights", ":material/database:"),
]
CUSTOM_KEY = "weights.custom"  # {label: {"arch": str, "path": str}} for this user's accepted files


@dataclass(frozen=True)
class ModelChoice:
    """What the sidebar picked: a catalog name, or an architecture with a custom weight file."""

    label: str
    model: str
    arch: str
    weights_file: str | None = None


def model_choices() -> list[ModelChoice]:
    """The four catalog models, then this user's accepted custom weight files."""
    choices = [ModelChoice(entry.name, entry.name, entry.arch) for entry in list_weights()]
    for label, custom in st.session_state.get(CUSTOM_KEY, {}).items():
        choices.append(ModelChoice(label, custom["arch"], custom["arch"], custom["path"]))
    return choices


def menu() -> None:
    """The app's menu, at the top of the sidebar."""
    with st.sidebar:
        st.markdown("### MesoNet Studio")
        for path, title, icon in PAGE_SPECS:
            st.page_link(path, label=title, icon=icon)
        st.divider()


def _leave_pages_folder_mode() -> None:
    """Makes every later run go through streamlit_app.py's navigation.

    Streamlit treats an app with a `pages/` folder as an old-style multipage app until some run
    calls `st.navigation`: on a fresh server, a visitor who lands directly on a page's URL gets
    that page's file run alone, without the router, and so would everyone after them until
    someone opened the home page. Switching the mode off here limits that to the run already
    under way, which draws the menu itself. (Private Streamlit API, checked on 1.67.)
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        menu()


def sidebar_model_picker() -> ModelChoice:
    """Architecture and weights in the sidebar, shared by every page for this user."""
    _leave_pages_folder_mode()
    st.session_state.setdefault("model.arch", "meso4")
    with st.sidebar:
        st.subheader("Classifier")
        arch = st.radio("Architecture", list(ARCHITECTURE_TITLES), format_func=ARCHITECTURE_TITLES.get,
                        key="model.arch", horizontal=True)
        options = [c for c in model_choices() if c.arch == arch]
        labels = [c.label for c in options]
        if st.session_state.get("model.weights") not in labels:
            st.session_state["model.weights"] = labels[0]
        label = st.radio("Weights", labels, key="model.weights", format_func=_weights_label)
        st.caption(WEIGHTS_NOTE)
    return next(c for c in options if c.label == label)


def _weights_label(label: str) -> str:
    if label.endswith("-df"):
        return "DF: Deepfake face swaps"
    if label.endswith("-f2f"):
        return "F2F: Face2Face reenactment"
    return f"Custom: {label}"


@st.cache_resource(show_spinner="Loading the model...")
def load_classifier(model: str, weights_file: str | None = None):
    """One classifier per (model, weights file) for the whole server."""
    from mesonet.scoring import load_classifier as load

    return load(model, weights_file=weights_file)


def classifier_for(choice: ModelChoice):
    return load_classifier(choice.model, choice.weights_file)


class _LRU:
    """A small thread-safe least-recently-used map, shared by all sessions."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


@st.cache_resource
def extraction_cache() -> _LRU:
    return _LRU(max_entries=16)


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


def custom_weights_dir() -> Path:
    """Where accepted custom weight files are kept (by content hash) while the server runs."""
    folder = Path(tempfile.gettempdir()) / "mesonet-custom-weights"
    folder.mkdir(exist_ok=True)
    return folder


def show_error(error: Exception) -> None:
    """The core's message for a user's bad input; anything else is a bug worth a traceback."""
    if isinstance(error, MesonetError):
        st.error(str(error), icon=":material/error:")
    else:
        raise error


def p_fake_color(p_fake: float | None) -> str:
    """Green for real, red for fake, grey for no face."""
    if p_fake is None:
        return "#9E9E9E"
    if p_fake >= 0.5:
        return "#D32F2F"
    return "#2E7D32"


# ---------------------------------------------------------------------------------------------
# Media input and face extraction

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]
VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "webm", "m4v"]


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
    detector: str = "hog"


def media_input(key: str) -> MediaInput | None:
    """Upload, camera or sample picker. `key` prefixes the widgets' keys (one set per page)."""
    from mesonet.samples import get_sample, list_samples, sample_path

    source = st.segmented_control("Source", ["Upload", "Camera", "Sample"], default="Upload",
                                  key=f"{key}.source", label_visibility="collapsed")
    if source == "Camera":
        shot = st.camera_input("Take a photo", key=f"{key}.camera")
        return None if shot is None else MediaInput("camera.jpg", shot.getvalue(), sha256_bytes(shot.getvalue()))
    if source == "Sample":
        samples = {s.name: s for s in list_samples()}
        name = st.selectbox("Sample", list(samples), format_func=lambda n: samples[n].title, key=f"{key}.sample",
                            index=None, placeholder="Choose a sample...")
        if name is None:
            return None
        sample = get_sample(name)
        st.caption(f"{sample.description} Source: {sample.source}. Truth: **{sample.label}**.")
        try:
            with st.spinner(f"Fetching {sample.title}..."):
                data = sample_path(name).read_bytes()
        except MesonetError as exc:
            show_error(exc)
            return None
        return MediaInput(Path(sample.relpath).name, data, sha256_bytes(data), sample.is_face_crop)
    upload = st.file_uploader("Upload a photo or a video", type=IMAGE_TYPES + VIDEO_TYPES, key=f"{key}.upload",
                              help="Photos: JPEG, PNG, WebP, BMP, TIFF. Videos: MP4, MOV, AVI, MKV, WebM. Up to 500 MB.")
    if upload is None:
        return None
    is_crop = st.toggle("This image is already an aligned face crop (skip face detection)", key=f"{key}.is_crop",
                        help="Like the authors' dataset: the whole image is the face, resized to 256x256.")
    data = upload.getvalue()
    return MediaInput(upload.name, data, sha256_bytes(data), is_crop)


def extraction_settings(key: str) -> ExtractionSettings:
    with st.expander("Face extraction settings", icon=":material/tune:"):
        columns = st.columns(3)
        n_frames = columns[0].slider("Frames to sample (videos)", 1, 120, 30, key=f"{key}.frames",
                                     help="Evenly spaced over the video, as the authors did (30).")
        faces = columns[1].radio("Faces", ["Largest face", "All faces"], key=f"{key}.faces",
                                 help="All faces: each person is followed as a track with its own scores.")
        detector = columns[2].radio("Face detector", ["hog", "cnn"], key=f"{key}.detector",
                                    format_func={"hog": "HOG (fast)", "cnn": "CNN (accurate, ~50x slower)"}.get)
    return ExtractionSettings(n_frames, faces == "All faces", detector)


def get_extraction(media: MediaInput, settings: ExtractionSettings):
    """Faces of `media`, from the shared cache or extracted now with a progress bar.

    Returns:
        (extraction, seconds spent now; 0.0 when the faces came from the cache).
    """
    import time

    from mesonet.analysis import extract_faces_from_media, extraction_from_face_crop
    from mesonet.media import FrameSampling

    cache_key = (media.sha256, media.is_face_crop, settings)
    cached = extraction_cache().get(cache_key)
    if cached is not None:
        return cached, 0.0
    start = time.perf_counter()
    with st.status(f"Analysing {media.name}...", expanded=True) as status:
        bar = st.progress(0.0, text="Reading the file...")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 0.0, text=f"Finding faces: frame {done} of {total}")

        try:
            with temporary_file(media.data, media.name) as path:
                if media.is_face_crop:
                    extraction = extraction_from_face_crop(path)
                else:
                    extraction = extract_faces_from_media(
                        path, sampling=FrameSampling(n_frames=settings.n_frames), all_faces=settings.all_faces,
                        detector=settings.detector, preview_side=640, progress=progress)
        except Exception:
            status.update(label=f"Could not analyse {media.name}", state="error", expanded=False)
            raise
        elapsed = time.perf_counter() - start
        status.update(label=f"Found {extraction.n_faces} face(s) in {len(extraction.frames)} frame(s)",
                      state="complete", expanded=False)
    extraction_cache().put(cache_key, extraction)
    return extraction, elapsed


# ---------------------------------------------------------------------------------------------
# Result views

UNCERTAIN_MARGIN = 0.05  # a verdict this close to the threshold is flagged as uncertain
VERDICT_STYLE = {"fake": ("#D32F2F", "FAKE"), "real": ("#2E7D32", "REAL"), "no face": ("#757575", "NO FACE")}


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def verdict_card(analysis, *, seconds: float, cached: bool) -> None:
    """The headline: verdict, P(fake), faces found, model and time."""
    summary = analysis.summary
    is_video = analysis.extraction.kind == "video"
    color, word = VERDICT_STYLE[summary.verdict]
    with st.container(border=True):
        left, right = st.columns([1, 2], vertical_alignment="center")
        left.markdown(f"<div style='font-size:2.6rem;font-weight:700;color:{color};line-height:1.1'>{word}</div>"
                      f"<div style='color:#555'>verdict for {analysis.path}</div>", unsafe_allow_html=True)
        metrics = right.columns(4 if is_video else 3)
        metrics[0].metric("P(fake)", percent(summary.p_fake_mean),
                          help="Mean P(fake) over the frames with a face (the paper's video score)." if is_video
                          else "P(fake) of the face (of the largest face, or the most suspicious one).")
        if is_video:
            metrics[1].metric("Frames voting fake", percent(summary.vote_fake),
                              help="Share of frames whose P(fake) reaches the threshold (the authors' released code).")
            metrics[2].metric("Frames with a face", f"{summary.frames_with_face} / {summary.frames_sampled}")
        else:
            metrics[1].metric("Faces found", str(len(analysis.faces)))
        metrics[-1].metric("Time", f"{seconds:.2f} s", help="Face extraction (reused when cached) and scoring.")
        right.caption(f"Model **{analysis.model}** · threshold {analysis.threshold:.2f}"
                      + (f" · verdict by {'mean P(fake)' if analysis.aggregate == 'mean' else 'majority of frames'}"
                         if is_video else "")
                      + (" · faces reused from an earlier analysis" if cached else ""))
    if summary.verdict == "no face":
        st.warning("No face was found, so there is nothing to score. Try a clearer, frontal face, the CNN detector, "
                   "or, for an image that is already a face crop, the face-crop switch.", icon=":material/face:")
    elif abs(summary.p_fake_mean - analysis.threshold) < UNCERTAIN_MARGIN:
        st.warning(f"Uncertain: P(fake) is within {UNCERTAIN_MARGIN:.0%} of the threshold, so this verdict could "
                   "go either way. Compare models, or try weights trained on the other manipulation.",
                   icon=":material/help:")


def scores_figure(analysis):
    """P(fake) against time, one trace per face track, with the threshold line."""
    import plotly.graph_objects as go

    figure = go.Figure()
    by_frame = analysis.faces_by_frame()
    for track_id in analysis.tracks:
        # One entry per sampled frame, None where this face is missing, so the line breaks at gaps.
        faces = [next((f for f in by_frame.get(frame.frame_index, []) if f.track_id == track_id), None)
                 for frame in analysis.extraction.frames]
        times = [frame.time_s for frame in analysis.extraction.frames]
        figure.add_trace(go.Scatter(
            x=times, y=[f.p_fake if f else None for f in faces], mode="lines+markers",
            name=f"face {track_id + 1}", customdata=[f.frame_index if f else None for f in faces],
            marker={"size": 9, "color": [p_fake_color(f.p_fake if f else None) for f in faces],
                    "line": {"width": 1, "color": "white"}},
            hovertemplate="frame %{customdata}<br>%{x:.2f} s<br>P(fake) %{y:.1%}<extra>face " + str(track_id + 1) + "</extra>",
        ))
    figure.add_hline(y=analysis.threshold, line_dash="dash", line_color="#888",
                     annotation_text=f"threshold {analysis.threshold:.2f}", annotation_position="top left")
    figure.update_layout(xaxis_title="time (s)", yaxis_title="P(fake)", yaxis_range=[-0.02, 1.02],
                         yaxis_tickformat=".0%", height=340, margin={"t": 30, "b": 40, "l": 60, "r": 20},
                         showlegend=len(analysis.tracks) > 1, clickmode="event+select")
    return figure


def histogram_figure(analysis):
    import plotly.graph_objects as go

    figure = go.Figure(go.Histogram(x=[f.p_fake for f in analysis.faces], xbins={"start": 0, "end": 1, "size": 0.05},
                                    marker_color="#6C3BD1"))
    figure.add_vline(x=analysis.threshold, line_dash="dash", line_color="#888")
    figure.update_layout(xaxis_title="P(fake)", yaxis_title="frames", xaxis_range=[0, 1], xaxis_tickformat=".0%",
                         height=260, margin={"t": 20, "b": 40, "l": 60, "r": 20}, bargap=0.05)
    return figure


def annotated_frame(frame, faces):
    """The frame preview with each face's box (and landmarks) drawn, as a PIL image."""
    from PIL import Image, ImageDraw

    preview = frame.preview()
    image = Image.fromarray(preview)
    scale = preview.shape[1] / frame.frame_size[0]
    draw = ImageDraw.Draw(image)
    for face_crop, score in faces:
        top, right, bottom, left = (v * scale for v in face_crop.box)
        draw.rectangle([left, top, right, bottom], outline=p_fake_color(score.p_fake), width=3)
        draw.text((left + 4, top + 4), f"{score.p_fake:.0%}", fill=p_fake_color(score.p_fake))
        if face_crop.landmarks is not None:
            for x, y in face_crop.landmarks * scale:
                draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill="#00B8D4")
    return image


def frame_view(analysis, frame_index: int) -> None:
    """One sampled frame with its faces drawn, and the crops the network saw."""
    frame = next(f for f in analysis.extraction.frames if f.frame_index == frame_index)
    scores = analysis.faces_by_frame().get(frame_index, [])
    faces = list(zip(frame.faces, scores))
    where = f"**Frame {frame.frame_index}** at {frame.time_s:.2f} s" if analysis.extraction.kind == "video" else "**Photo**"
    st.markdown(where + (f" · P(fake) {percent(scores[0].p_fake)}" if scores else " · no face found"))
    left, right = st.columns([3, 1])
    if frame.preview_jpeg is not None:
        left.image(annotated_frame(frame, faces), width="stretch")
    for face_crop, score in faces:
        right.image(face_crop.crop, caption=f"face {score.track_id + 1}: P(fake) {percent(score.p_fake)}"
                    + ("" if face_crop.aligned else " (margin crop)"), width="stretch")


def bordered_crop(crop, p_fake: float):
    """The crop with a coloured frame: green real, red fake."""
    import numpy as np

    color = tuple(int(p_fake_color(p_fake)[i:i + 2], 16) for i in (1, 3, 5))
    out = np.array(crop, copy=True)
    out[:8], out[-8:], out[:, :8], out[:, -8:] = color, color, color, color
    return out


def gallery(analysis, *, per_row: int = 6) -> None:
    """Every aligned crop in frame order, with its time and P(fake)."""
    by_frame = analysis.faces_by_frame()
    crops = [(frame, face_crop, score) for frame in analysis.extraction.frames
             for face_crop, score in zip(frame.faces, by_frame.get(frame.frame_index, []))]
    for start in range(0, len(crops), per_row):
        columns = st.columns(per_row)
        for column, (frame, face_crop, score) in zip(columns, crops[start:start + per_row]):
            when = f"{frame.time_s:.2f} s · " if analysis.extraction.kind == "video" else f"face {score.track_id + 1} · "
            # JPEG: encoding 30 crops as PNG on every rerun costs a noticeable fraction of a second.
            column.image(bordered_crop(face_crop.crop, score.p_fake), width="stretch", output_format="JPEG",
                         caption=f"{when}P(fake) {percent(score.p_fake)}")


def crops_zip(analysis) -> bytes:
    import io
    import zipfile

    from PIL import Image

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for frame in analysis.extraction.frames:
            for face_crop, track_id in zip(frame.faces, frame.track_ids):
                png = io.BytesIO()
                Image.fromarray(face_crop.crop).save(png, format="PNG")
                archive.writestr(f"frame{frame.frame_index:06d}_face{track_id + 1}.png", png.getvalue())
    return out.getvalue()


def downloads(analysis, key: str) -> None:
    stem = Path(analysis.path).stem
    columns = st.columns(3)
    columns[0].download_button("Per-frame results (CSV)", analysis.to_csv(), f"{stem}_frames.csv", "text/csv",
                               icon=":material/table:", key=f"{key}.csv", on_click="ignore")
    columns[1].download_button("Results (JSON)", analysis.to_json(), f"{stem}_results.json", "application/json",
                               icon=":material/data_object:", key=f"{key}.json", on_click="ignore")
    # Deferred: the ZIP is built only when asked for, not on every rerun.
    columns[2].download_button("Face crops (ZIP)", lambda: crops_zip(analysis), f"{stem}_crops.zip", "application/zip",
                               icon=":material/folder_zip:", key=f"{key}.zip", on_click="ignore",
                               disabled=not analysis.faces)


# ---------------------------------------------------------------------------------------------
# Labelled datasets (Evaluate and Train)

DATASETS_DIR_ENV = "MESONET_DATASETS_DIR"
MAX_ZIP_BYTES = 2 * 1024**3  # uncompressed; refuses zip bombs


def server_datasets() -> dict[str, Path]:
    """Dataset folders offered on the server: the subfolders of MESONET_DATASETS_DIR."""
    root = os.environ.get(DATASETS_DIR_ENV)
    if not root or not Path(root).is_dir():
        return {}
    return {p.name: p for p in sorted(Path(root).iterdir()) if p.is_dir() and not p.name.startswith(".")}


@contextlib.contextmanager
def unpacked_zip(data: bytes, name: str) -> Iterator[Path]:
    """A ZIP of class folders unpacked into a temporary folder that exists only inside the block."""
    import io
    import zipfile

    from mesonet.datasets import DatasetError

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DatasetError(f"{name} is not a ZIP file. Zip a folder holding one folder per class "
                           "(df, fake, f2f, deepfake or forged; and real).") from None
    total = sum(member.file_size for member in archive.infolist())
    if total > MAX_ZIP_BYTES:
        raise DatasetError(f"{name} unpacks to {total / 1024**3:.1f} GB; the limit is 2 GB. Use a smaller dataset.")
    folder = Path(tempfile.mkdtemp(prefix="mesonet-dataset-"))
    try:
        for member in archive.infolist():
            target = (folder / member.filename).resolve()
            if not target.is_relative_to(folder.resolve()):
                raise DatasetError(f"{name} holds a path outside the archive ({member.filename}); it was refused.")
        archive.extractall(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class DatasetChoice:
    """A labelled dataset: an uploaded ZIP (bytes) or a folder on the server."""

    name: str
    zip_data: bytes | None = None
    folder: Path | None = None

    @contextlib.contextmanager
    def open(self) -> Iterator[Path]:
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
    st.caption("One folder per class: `df`, `fake`, `f2f`, `deepfake` or `forged` hold forged faces, `real` holds "
               "real ones. Images are aligned face crops, like the authors' dataset.")
    if source == "Server folder":
        name = st.selectbox("Dataset folder", list(folders), key=f"{key}.folder")
        return DatasetChoice(name, folder=folders[name])
    upload = st.file_uploader("ZIP of class folders", type=["zip"], key=f"{key}.zip")
    return None if upload is None else DatasetChoice(upload.name, zip_data=upload.getvalue())
