"""Train: a short training or fine-tuning run in its own process, with live curves for everyone."""

from __future__ import annotations

import math
import secrets
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import studio as ui
from mesonet.config import train_max_seconds
from mesonet.errors import MesonetError
from mesonet.models.networks import ARCHITECTURE_TITLES, Variant
from mesonet.models.weights import list_weights
from mesonet.training.config import TrainConfig
from mesonet.training.job import TrainingJob
from studio.server import training_runs

STEPS_RANGE = (5, 2000)
BATCH_RANGE = (4, 128)

ui.page_setup(model_picker=False)  # one architecture picker on this page: the run's, below
st.title("Train or fine-tune")
st.write(
    "A short run for the classroom: the paper's recipe (mean squared error on the sigmoid, Adam at 1e-3 divided "
    "by 10 every 1000 steps, augmentation) on your labelled faces, with live loss and accuracy curves. The run "
    "belongs to the server: one at a time, visible to every user, and it runs in its own process, so the app "
    "keeps serving everyone while it trains."
)


def steps_per_point(steps: int) -> int:
    """Steps between two points of the curves (an "epoch" of the run): about 30 points, at least 5 steps apart
    (each point validates)."""
    return max(5, math.ceil(steps / 30))


FEW_VALIDATION_FACES = 50  # below this, one face moves validation accuracy by more than 2 points


def keep_weights(job: TrainingJob) -> str:
    """Copies the run's weights where custom weights live and adds them to this user's picker."""
    stored, _ = ui.store_custom_weights(job.result_path.name, job.result_path.read_bytes(), job.config.arch)
    label = f"trained {job.config.arch} ({time.strftime('%H:%M', time.localtime(job.finished))})"
    ui.add_custom_weights(label, job.config.arch, stored)
    # The sidebar's choice from now on (its picker is not drawn on this page, so it can be set here).
    st.session_state.update({"model.arch": job.config.arch, "model.weights": label})
    return label


def curves_figure(history: list[dict]) -> go.Figure:
    frame = pd.DataFrame(history)
    figure = go.Figure()
    for column, name in (("loss", "training loss"), ("val_loss", "validation loss")):
        if column in frame:
            figure.add_trace(go.Scatter(x=frame["epoch"], y=frame[column], name=name, mode="lines+markers"))
    for column, name in (("accuracy", "training accuracy"), ("val_accuracy", "validation accuracy")):
        if column in frame:
            figure.add_trace(
                go.Scatter(
                    x=frame["epoch"], y=frame[column], name=name, yaxis="y2", mode="lines+markers", line={"dash": "dot"}
                )
            )
    figure.update_layout(
        xaxis={"title": "epoch", "dtick": 1},
        yaxis_title="loss (MSE)",
        height=340,
        yaxis2={
            "title": "accuracy",
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
            "tickvals": [0, 0.25, 0.5, 0.75, 1],
            "tickformat": ".0%",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": 1.12},
        margin={"t": 40, "b": 40, "r": 80},
    )
    return figure


if added := st.session_state.pop("train.added", None):
    st.success(f"Added {added}: every page now scores with it (the sidebar's weights).", icon=":material/check_circle:")

# Who this session is to the server's training slot: a run belongs to the session that started it. The
# address carries it once a run starts, so that a reload finds the run (and its weights) again.
owner = st.session_state.setdefault("train.owner", st.query_params.get("run") or secrets.token_urlsafe(16))
busy_until = training_runs().busy_until()
mine = training_runs().owned_by(owner)
busy = (busy_until is not None and mine is None) or (mine is not None and mine.running)

data = ui.dataset_input("train")
columns = st.columns(4)
arch = columns[0].radio(
    "Architecture",
    list(ARCHITECTURE_TITLES),
    format_func=ARCHITECTURE_TITLES.get,
    key="train.arch",
    index=list(ARCHITECTURE_TITLES).index(st.session_state.get("model.arch", "meso4")),
)
init = columns[1].selectbox(
    "Start from",
    ["random"] + [e.name for e in list_weights(arch=arch)],
    key="train.init",
    format_func=lambda v: "random weights" if v == "random" else f"{v} (fine-tune)",
)
# No min/max on the inputs: Streamlit would keep the last valid value and let Start go ahead while the field
# says "outside the allowed range". Checking here lets the page say so and disable Start.
steps = columns[2].number_input(
    "Steps",
    value=60,
    step=5,
    key="train.steps",
    help=f"Training steps in total ({STEPS_RANGE[0]}-{STEPS_RANGE[1]}); a step is one batch.",
)
batch_size = columns[3].number_input(
    "Batch size",
    value=32,
    step=4,
    key="train.batch",
    help=f"Faces per step ({BATCH_RANGE[0]}-{BATCH_RANGE[1]}). The paper uses 75; "
    "smaller batches give quicker steps on a CPU.",
)
invalid = [
    f"{name} must be a whole number from {low} to {high}."
    for name, value, (low, high) in (("Steps", steps, STEPS_RANGE), ("Batch size", batch_size, BATCH_RANGE))
    if not (low <= value <= high and float(value).is_integer())
]
for message in invalid:
    st.error(message, icon=":material/error:")

start = st.button(
    "Start training", type="primary", icon=":material/play_arrow:", disabled=data is None or busy or bool(invalid)
)
if mine is not None and mine.running:
    st.info(
        "Your training run is in progress (below); a new one can start when it finishes or is stopped.",
        icon=":material/hourglass_top:",
    )
elif busy:
    st.info(
        "Another user's training run holds the server's training slot (one run at a time). It frees by "
        f"{time.strftime('%H:%M', time.localtime(busy_until))} at the latest "
        f"(runs stop after {train_max_seconds() / 60:.0f} minutes).",
        icon=":material/hourglass_top:",
    )
elif data is None:
    st.info("Upload a ZIP of class folders or pick a server folder to train on.", icon=":material/folder_zip:")

if start:
    config = TrainConfig(
        arch=arch,
        variant=Variant(),
        init=None if init == "random" else init,
        epochs=math.ceil(int(steps) / steps_per_point(int(steps))),
        batch_size=int(batch_size),
        steps_per_epoch=steps_per_point(int(steps)),
        max_steps=int(steps),
        val_split=0.1,
    )
    try:
        started = training_runs().start(data.open, config, owner=owner)
    except MesonetError as exc:
        ui.show_error(exc)
    else:
        if not started:
            st.warning("Someone started a run a moment ago; try again when it ends.", icon=":material/hourglass_top:")
        else:
            st.query_params["run"] = owner
            st.rerun()


@st.fragment(run_every=1.0)
def live_view() -> None:
    job: TrainingJob | None = training_runs().owned_by(owner)
    if job is None:
        other = training_runs().current
        if other is not None and other.running:
            st.caption(f"Another user's run: step {other.steps_done} of {other.steps_total or '?'}.")
        return
    st.subheader(
        f"Run: {ARCHITECTURE_TITLES[job.config.arch]}"
        + (f", fine-tuning {job.config.init}" if job.config.init else ", from random weights")
    )
    if job.running:
        st.session_state["train.watching"] = True
        fraction = job.steps_done / job.steps_total if job.steps_total else 0.0
        status = f"Step {job.steps_done} of {job.steps_total}" if job.steps_done else job.stage
        st.progress(fraction, text=f"{status} · {time.time() - job.started:.0f} s")
        if st.button(
            "Stop",
            icon=":material/stop:",
            key="train.stop",
            help="Stops after the current step and keeps the best weights so far.",
        ):
            training_runs().stop(owner)
    elif st.session_state.pop("train.watching", False):
        st.rerun(scope="app")  # the run just ended: Start and the notice above the fragment must update too
    elif job.error:
        st.error(ui.plain(job.error), icon=":material/error:")  # it may name the user's files
    else:
        how = "Stopped" if job.stopped else "Done"
        st.success(
            f"{how} after {job.steps_done} steps in {job.finished - job.started:.0f} s: best weights saved.",
            icon=":material/check_circle:",
        )
    if job.data is not None and 0 < job.data["n_val"] < FEW_VALIDATION_FACES:
        n_val = job.data["n_val"]
        st.warning(
            f"Validation holds {n_val} faces only: each face moves its accuracy by {100 / n_val:.0f} points, so the "
            f"validation curve says little. Use a dataset of {10 * FEW_VALIDATION_FACES} faces or more (a tenth "
            "of them validates).",
            icon=":material/warning:",
        )
    if job.history:
        st.plotly_chart(curves_figure(job.history), key="train.curves")
    if not job.running and job.result_path is not None:
        columns = st.columns(2)
        columns[0].download_button(
            "Download the weights (.weights.h5)",
            job.result_path.read_bytes(),
            job.result_path.name,
            "application/octet-stream",
            on_click=job.mark_fetched,
            icon=":material/download:",
        )
        if columns[1].button("Use these weights in the app", icon=":material/add_circle:", key="train.use"):
            st.session_state["train.added"] = keep_weights(job)
            job.mark_fetched()
            st.rerun(scope="app")  # the sidebar's picker must list the new weights


live_view()
