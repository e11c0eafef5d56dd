"""Train: a short training or fine-tuning run in the background, with live curves."""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import studio as ui
from mesonet.errors import MesonetError
from mesonet.models import ARCHITECTURE_TITLES, Variant
from mesonet.training import TrainConfig, train
from mesonet.weights import list_weights

choice = ui.page_setup()
st.title("Train or fine-tune")
st.write("A short run for the classroom: the paper's recipe (mean squared error on the sigmoid, Adam at 1e-3 divided "
         "by 10 every 1000 steps, augmentation) on your labelled faces, with live loss and accuracy curves. One run "
         "at a time per server; it runs in the background, so other users are not blocked.")


@dataclass
class TrainingJob:
    """One background run, shared by every session (only one runs at a time)."""

    owner: str
    config: TrainConfig
    steps_total: int = 0
    steps_done: int = 0
    history: list[dict] = field(default_factory=list)
    result_path: Path | None = None
    metadata: dict | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return self.finished is None


@st.cache_resource
def training_slot() -> dict:
    """The server's single training slot: {"job": TrainingJob | None, "lock": Lock}."""
    return {"job": None, "lock": threading.Lock()}


def run_job(job: TrainingJob, data: ui.DatasetChoice, out: Path) -> None:
    def progress(done: int, total: int) -> None:
        job.steps_done, job.steps_total = done, total

    try:
        with data.open() as folder:
            result = train(folder, out, config=job.config, progress=progress, on_epoch=job.history.append,
                           cancel=job.cancel, resume=False)
        job.result_path, job.metadata = result.weights_path, result.metadata
    except MesonetError as exc:
        job.error = str(exc)
    except Exception as exc:  # a bug must not leave the slot taken forever
        job.error = f"Training failed unexpectedly: {exc}"
    finally:
        job.finished = time.time()


if added := st.session_state.pop("train.added", None):
    st.success(f"Added {added}: pick it in the sidebar's weights.", icon=":material/check_circle:")

slot = training_slot()
session_id = st.session_state.setdefault("train.session", ui.sha256_bytes(str(time.time_ns()).encode())[:12])
job: TrainingJob | None = slot["job"]
busy = job is not None and job.running

data = ui.dataset_input("train")
columns = st.columns(4)
arch = columns[0].radio("Architecture", list(ARCHITECTURE_TITLES), format_func=ARCHITECTURE_TITLES.get,
                        key="train.arch", index=list(ARCHITECTURE_TITLES).index(choice.arch))
init = columns[1].selectbox("Start from", ["random"] + [e.name for e in list_weights(arch=arch)],
                            key="train.init",
                            format_func=lambda v: "random weights" if v == "random" else f"{v} (fine-tune)")
steps = columns[2].number_input("Steps", 5, 2000, 60, 5, key="train.steps",
                                help="Training steps in total; a step is one batch.")
batch_size = columns[3].number_input("Batch size", 4, 128, 32, 4, key="train.batch",
                                     help="The paper uses 75; smaller batches give quicker steps on a CPU.")
start = st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=data is None or busy)
if busy and job.owner != session_id:
    st.info("Another user's training run is in progress; you can start yours when it finishes.",
            icon=":material/hourglass_top:")
if data is None and not busy:
    st.info("Upload a ZIP of class folders or pick a server folder to train on.", icon=":material/folder_zip:")

if start:
    with slot["lock"]:
        if slot["job"] is None or not slot["job"].running:
            config = TrainConfig(arch=arch, variant=Variant(), init=None if init == "random" else init,
                                 epochs=max(1, int(steps) // 20), batch_size=int(batch_size),
                                 steps_per_epoch=min(20, int(steps)), max_steps=int(steps), val_split=0.1)
            out = Path(tempfile.mkdtemp(prefix="mesonet-train-")) / f"{arch}_trained.weights.h5"
            job = TrainingJob(session_id, config)
            slot["job"] = job
            threading.Thread(target=run_job, args=(job, data, out), daemon=True, name="mesonet-train").start()
    st.rerun()


@st.fragment(run_every=1.0)
def live_view() -> None:
    job: TrainingJob | None = training_slot()["job"]
    if job is None or job.owner != st.session_state["train.session"]:
        return
    if job.running:
        fraction = job.steps_done / job.steps_total if job.steps_total else 0.0
        st.progress(fraction, text=f"Step {job.steps_done} of {job.steps_total or '?'} · "
                                   f"{time.time() - job.started:.0f} s")
        if st.button("Stop", icon=":material/stop:", key="train.stop"):
            job.cancel.set()
    elif job.error:
        st.error(job.error, icon=":material/error:")
    else:
        st.success(f"Done in {job.finished - job.started:.0f} s: best weights saved.", icon=":material/check_circle:")
    if job.history:
        history = pd.DataFrame(job.history)
        figure = go.Figure()
        for column, name in (("loss", "training loss"), ("val_loss", "validation loss")):
            if column in history:
                figure.add_trace(go.Scatter(x=history.index + 1, y=history[column], name=name, mode="lines+markers"))
        for column, name in (("accuracy", "training accuracy"), ("val_accuracy", "validation accuracy")):
            if column in history:
                figure.add_trace(go.Scatter(x=history.index + 1, y=history[column], name=name, yaxis="y2",
                                            mode="lines+markers", line={"dash": "dot"}))
        figure.update_layout(xaxis_title="epoch", yaxis_title="loss (MSE)", height=340,
                             yaxis2={"title": "accuracy", "overlaying": "y", "side": "right", "range": [0, 1]},
                             margin={"t": 20, "b": 40})
        st.plotly_chart(figure, key="train.curves")
    if not job.running and job.result_path is not None:
        columns = st.columns(2)
        columns[0].download_button("Download the weights (.weights.h5)", job.result_path.read_bytes(),
                                   job.result_path.name, "application/octet-stream", on_click="ignore",
                                   icon=":material/download:")
        if columns[1].button("Use these weights in the app", icon=":material/add_circle:", key="train.use"):
            label = f"trained {job.config.arch} ({time.strftime('%H:%M', time.localtime(job.finished))})"
            st.session_state.setdefault(ui.CUSTOM_KEY, {})[label] = {"arch": job.config.arch,
                                                                      "path": str(job.result_path)}
            st.session_state["train.added"] = label
            st.rerun(scope="app")  # the sidebar's picker must list the new weights


live_view()
