"""Learn how MesoNet sees: architecture, feature maps, saliency, degradation experiments, quiz."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import studio
from mesonet.faces.align import INPUT_SIZE
from mesonet.models import explain
from mesonet.models.networks import ARCHITECTURE_TITLES, PUBLISHED_TRAINABLE_PARAMS
from mesonet.models.weights import counterpart
from mesonet.verdict import VERDICT_WORDS, p_fake_of, verdict_for
from studio.results import threshold_line

choice = studio.page_setup()
with st.sidebar:
    st.subheader("Decision")
    threshold = studio.threshold_slider(
        start=choice.threshold, help="The quiz, the saliency maps and the curves call a face fake at or above it."
    )
arch = choice.arch
st.title("Learn how MesoNet sees")
with studio.shown_errors():
    classifier = studio.classifier_for(choice)

TABS = ["Architecture", "Feature maps", "Saliency", "Compression experiments", "Quiz"]
# "Explain this face" (Analyse, a class round) opens the tab it names, once: later visits open as usual.
open_tab = st.session_state.pop("learn.open_tab", None)
architecture_tab, features_tab, saliency_tab, experiments_tab, quiz_tab = st.tabs(
    TABS, default=open_tab if open_tab in TABS else None
)


@st.cache_data(max_entries=4)
def layer_rows(arch: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "layer": r.name,
                "type": r.kind,
                "output shape": " x ".join(map(str, r.output_shape)),
                "trainable": r.trainable_params,
                "non-trainable": r.non_trainable_params,
            }
            for r in explain.layer_table(arch)
        ]
    )


def network_diagram(arch: str) -> go.Figure:
    """Blocks left to right; each box's height follows its feature maps' side; hover lists the layers."""
    figure = go.Figure()
    for x, (group, rows) in enumerate(explain.layer_blocks(arch).items()):
        shape = rows[-1].output_shape
        height = 0.25 + 0.75 * (shape[0] / INPUT_SIZE if len(shape) == 3 else 0.0)
        params = sum(r.trainable_params for r in rows)
        figure.add_shape(
            type="rect",
            x0=x - 0.4,
            x1=x + 0.4,
            y0=-height / 2,
            y1=height / 2,
            line_width=0,
            layer="below",
            fillcolor="#6C3BD1" if group.startswith("block") else "#26A69A",
            opacity=0.85,
        )
        figure.add_trace(
            go.Scatter(
                x=[x],
                y=[0],
                mode="text",
                text=[f"<b>{group}</b><br>{' x '.join(map(str, shape))}"],
                textfont={"color": "white"},
                hoverinfo="text",
                showlegend=False,
                hovertext="<br>".join(
                    f"{r.name} ({r.kind}) → {' x '.join(map(str, r.output_shape))}, {r.trainable_params:,} params"
                    for r in rows
                )
                + f"<br><b>{params:,} trainable parameters</b>",
            )
        )
    figure.update_layout(
        height=260,
        margin={"t": 10, "b": 10, "l": 10, "r": 10},
        plot_bgcolor="white",
        xaxis={"visible": False},
        yaxis={"visible": False, "range": [-0.6, 0.6]},
    )
    return figure


def inception_diagram() -> go.Figure:
    """The inception module: four parallel branches, two with dilated 3x3 convolutions."""
    branches = [
        "1x1 conv (a)",
        "1x1 conv (b) → 3x3 conv",
        "1x1 conv (c) → 3x3 conv, dilation 2",
        "1x1 conv (d) → 3x3 conv, dilation 3",
    ]
    figure = go.Figure()
    for y, text in zip([3, 2, 1, 0], branches):
        figure.add_trace(
            go.Scatter(
                x=[0, 1, 2], y=[1.5, y, 1.5], mode="lines", line={"color": "#BBB"}, hoverinfo="skip", showlegend=False
            )
        )
        figure.add_annotation(x=1, y=y, text=text, showarrow=False, bgcolor="#EDE7F6", bordercolor="#6C3BD1")
    figure.add_annotation(x=0, y=1.5, text="input", showarrow=False, bgcolor="#E0F2F1")
    figure.add_annotation(x=2, y=1.5, text="concatenate<br>a+b+c+d channels", showarrow=False, bgcolor="#E0F2F1")
    figure.update_layout(
        height=260,
        margin={"t": 10, "b": 10, "l": 10, "r": 10},
        plot_bgcolor="white",
        xaxis={"visible": False, "range": [-0.4, 2.4]},
        yaxis={"visible": False},
    )
    return figure


with architecture_tab:
    table = layer_rows(arch)
    trainable = int(table["trainable"].sum())
    st.subheader(f"{ARCHITECTURE_TITLES[arch]}: {trainable:,} trainable parameters")
    st.caption(
        f"Published: {PUBLISHED_TRAINABLE_PARAMS[arch]:,} trainable, "
        f"{trainable + int(table['non-trainable'].sum()):,} in total (batch-norm statistics included). "
        "Hover a block for its layers."
    )
    st.plotly_chart(network_diagram(arch), key="learn.diagram", config={"displaylogo": False})
    if arch == "mesoinception4":
        st.markdown(
            "**The inception module.** Parallel branches see the same input at different scales; the "
            "dilated 3x3 convolutions widen the view without adding parameters."
        )
        st.plotly_chart(inception_diagram(), key="learn.inception", config={"displaylogo": False})
    st.dataframe(table, hide_index=True, key="learn.layers")
    st.markdown("""
**Mesoscopic analysis.** Microscopic forensics looks for pixel-level noise patterns, which video
compression destroys; semantic analysis looks at what the face means, which humans judge poorly on
good forgeries. MesoNet sits in between: four small convolutional blocks look at *mesoscopic*
details — the texture of skin, the sharpness of eyes, teeth and the face's edges — a few pixels to a
few dozen pixels wide, which survive compression better than noise does.

**Deepfake face swaps** train two autoencoders that share one encoder: one decoder rebuilds person
A's face, the other person B's. Encoding a frame of A and decoding it with B's decoder pastes B's
face, with A's expression and pose, onto A's head. The decoder's output is slightly blurry and is
blended into the frame, which leaves mesoscopic traces: smooth skin, soft eyes and teeth, seams at
the face's border.

**Face2Face reenactment** keeps the target's identity and transfers a source actor's expressions
onto it: a 3D face model is fitted to both, its expression parameters are copied, and the
target's mouth region is re-rendered and blended. The re-rendered mouth and the blending leave
their own mesoscopic traces, different from Deepfake's, which is why DF and F2F weights each only
know their own manipulation.
""")


def face_source(key: str) -> np.ndarray | None:
    """A face crop sent from Analyse, from the file analysed there, an upload or a sample."""
    from mesonet.faces.detect import extract_faces
    from mesonet.media.images import load_image
    from mesonet.media.samples import list_samples

    options = ["Sample", "Upload"]
    analysed = studio.last_analysed()
    crops = analysed.extraction.crops() if analysed else []
    if crops:
        options.insert(0, studio.FROM_ANALYSE)
    if st.session_state.get("learn.crop") is not None:
        options.insert(0, "Sent from Analyse")
    source = st.segmented_control("Face", options, default=options[0], key=f"{key}.source")
    with studio.shown_errors(stop=False):
        if source == "Sent from Analyse":
            st.caption(f"{st.session_state.get('learn.crop_name', 'The face')} sent from the Analyse page.")
            return st.session_state["learn.crop"]
        if source == studio.FROM_ANALYSE:
            st.caption(f"The faces of **{analysed.media.name}**, the file analysed on the Analyse page.")
            if len(crops) == 1:
                return crops[0]
            return crops[st.slider("Face, in frame order", 1, len(crops), 1, key=f"{key}.analysed") - 1]
        if source == "Upload":
            upload = st.file_uploader("A face photo or crop", type=studio.IMAGE_TYPES, key=f"{key}.upload")
            if upload is None:
                return None
            image = load_image(upload.getvalue(), name=upload.name)
            faces = extract_faces(image)
            return faces[0].crop if faces else image  # no face found: take the image as a crop
        crops = {s.name: s for s in list_samples() if s.kind == "image"}
        name = st.selectbox("Sample", list(crops), format_func=lambda n: crops[n].title, key=f"{key}.sample")
        return sample_face(name)
    return None


@st.cache_data(max_entries=8, show_spinner=False)
def sample_face(name: str) -> np.ndarray:
    """The sample's face: the image itself for the authors' crops, else the largest face found."""
    from mesonet.faces.detect import extract_faces
    from mesonet.media.images import load_image
    from mesonet.media.samples import get_sample, sample_path

    image = load_image(sample_path(name))
    if get_sample(name).is_face_crop:
        return image
    faces = extract_faces(image)
    return faces[0].crop if faces else image


# Keyed by the weights' SHA-256: two users' own "model.h5" files must never share an entry.
@st.cache_data(max_entries=32, show_spinner=False)
def cached_activations(crop_key: str, weights_sha256: str, _crop: np.ndarray, _classifier) -> dict[str, np.ndarray]:
    return explain.activations(_classifier, _crop)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_saliency(
    crop_key: str, weights_sha256: str, method: str, target: explain.Evidence, _crop: np.ndarray, _classifier
) -> np.ndarray:
    if method == "Grad-CAM":
        return explain.grad_cam(_classifier, _crop, target=target)
    return explain.integrated_gradients(_classifier, _crop, target=target)


def verdict_note(p_fake: float) -> str:
    """The verdict a saliency map explains: "verdict FAKE, P(fake) 73.4%, weights ..."."""
    verdict = verdict_for(p_fake, threshold)
    leans = f", leans {explain.saliency_target(p_fake, threshold)}" if verdict == "uncertain" else ""
    return f"verdict {VERDICT_WORDS[verdict]}{leans}, P(fake) {p_fake:.1%}, weights {studio.plain(choice.label)}"


def no_map_words(method: str, target: explain.Evidence) -> str:
    """Why a saliency map is empty, in plain words."""
    if method == "Grad-CAM":
        return (
            f"Grad-CAM found no region that raises P({target}) for this face in the last convolutional block: "
            "every weighted activation is zero or negative"
        )
    return (
        f"Integrated gradients found no pixel that raises P({target}) for this face: "
        "every attribution is zero or negative"
    )


def crop_key(crop: np.ndarray) -> str:
    return studio.sha256_bytes(np.ascontiguousarray(crop).tobytes())


with features_tab:
    crop = face_source("learn.features")
    if crop is None:
        st.info("Pick a face to see what each layer responds to.", icon=":material/face:")
    else:
        key = crop_key(crop)
        acts = cached_activations(key, choice.weights_sha256, crop, classifier)
        left, right = st.columns([1, 3])
        left.image(explain.degrade(crop, "jpeg", 100), caption="The 256x256 input", width="stretch")
        layer = right.selectbox(
            "Layer", list(acts), key="learn.layer", format_func=lambda n: f"{n} ({' x '.join(map(str, acts[n].shape))})"
        )
        silent = explain.silent_channels(acts[layer])
        right.image(
            explain.feature_grid(acts[layer], labels=True),
            caption=f"Every channel of {layer}, each scaled to its own range: bright = strong response",
            width="stretch",
        )
        if silent:
            right.caption(
                f"Silent for this face ({len(silent)} of {acts[layer].shape[-1]}): "
                + ", ".join(f"channel {c} ({why})" for c, why in silent.items())
                + ". A ReLU channel that never fires shows nothing; another face may wake it."
            )
        busiest = explain.most_active_channel(acts[layer])

        def channel_label(c: int) -> str:
            note = " (most active)" if c == busiest else f" (silent: {silent[c]} for this face)" if c in silent else ""
            return f"channel {c}{note}"

        # Keyed by layer and face, so that every new face or layer opens on its most active channel.
        channel = st.selectbox(
            "Channel to enlarge",
            range(acts[layer].shape[-1]),
            index=busiest,
            format_func=channel_label,
            key=f"learn.channel.{layer}.{key[:16]}",
        )
        columns = st.columns(2)
        # Beside the chosen weights, the same architecture trained on the other manipulation (DF and F2F).
        pair = {choice.label: (choice.weights_sha256, classifier)}
        other = counterpart(choice.model) if choice.weights_file is None else None
        if other is not None:
            with studio.shown_errors():
                pair[other.name] = (other.sha256, studio.cached_classifier(other.name))
        for column, (label, (weights_sha256, model)) in zip(columns, pair.items()):
            values = cached_activations(key, weights_sha256, crop, model)[layer]
            why = explain.silent_channels(values).get(channel)
            column.image(
                explain.feature_grid(values[..., channel, None], columns=1, cell=256),
                width="stretch",
                caption=f"{studio.plain(label)}: {layer}, channel {channel}"
                + (f" (silent: {why} for this face)" if why else ""),
            )


with saliency_tab:
    crop = face_source("learn.saliency")
    if crop is None:
        st.info("Pick a face to see where the network finds its evidence.", icon=":material/face:")
    else:
        method = st.radio(
            "Method",
            ["Grad-CAM", "Integrated gradients"],
            horizontal=True,
            key="learn.method",
            help="Grad-CAM: gradient-weighted activations of the last convolutional block. Integrated "
            "gradients: per-pixel attributions from a black image to the face. Both show the evidence for the "
            "verdict given at the threshold.",
        )
        opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="learn.opacity")
        # The map explains the verdict given: evidence for fake on a face called fake, for real on one called real.
        p_fake = p_fake_of(float(classifier.score_real([crop])[0]))
        target = explain.saliency_target(p_fake, threshold)
        heatmap = cached_saliency(crop_key(crop), choice.weights_sha256, method, target, crop, classifier)
        left, right = st.columns(2)
        left.image(explain.degrade(crop, "jpeg", 100), caption="Input", width="stretch")
        if explain.is_empty(heatmap):
            # A blank overlay would read as "no evidence anywhere"; say why there is no map instead.
            right.info(
                f"{no_map_words(method, target)}, so there is no map to show ({verdict_note(p_fake)}).",
                icon=":material/visibility_off:",
            )
            if method == "Grad-CAM":
                right.button(
                    "Show integrated gradients",
                    key="learn.try_ig",
                    help="Per-pixel attributions, which do not go through the last block's ReLU.",
                    on_click=lambda: st.session_state.update({"learn.method": "Integrated gradients"}),
                )
        else:
            right.image(
                explain.overlay(crop, heatmap, opacity=opacity),
                width="stretch",
                caption=f"{method}: where the evidence for {VERDICT_WORDS[target]} lies ({verdict_note(p_fake)}); "
                "red = strongest",
            )


with experiments_tab:
    crop = face_source("learn.experiments")
    if crop is None:
        st.info("Pick a face to see how compression erodes the mesoscopic evidence.", icon=":material/face:")
    else:
        kind = st.radio(
            "Degradation",
            list(explain.DEGRADATIONS),
            horizontal=True,
            key="learn.kind",
            format_func=lambda k: explain.DEGRADATIONS[k]["title"].split(" (")[0],
        )
        levels = explain.DEGRADATIONS[kind]["levels"]
        level = st.select_slider(explain.DEGRADATIONS[kind]["title"], options=levels, key=f"learn.level.{kind}")
        curve = explain.degradation_curve(classifier, crop, kind)
        degraded = explain.degrade(crop, kind, level)
        current = dict(curve)[float(level)]
        left, right = st.columns([1, 2])
        left.image(degraded, caption=f"P(fake) {current:.1%} at {level}", width="stretch")
        figure = go.Figure(
            go.Scatter(
                x=[x for x, _ in curve],
                y=[y for _, y in curve],
                mode="lines+markers",
                name=html.escape(choice.label),
                marker_color="#6C3BD1",
            )
        )
        figure.add_trace(
            go.Scatter(x=[level], y=[current], mode="markers", marker={"size": 16, "color": "#D32F2F"}, name="current")
        )
        figure.add_shape(threshold_line("y", threshold))
        figure.update_layout(
            xaxis_title=explain.DEGRADATIONS[kind]["title"],
            yaxis_title="P(fake)",
            yaxis_range=[-0.02, 1.02],
            yaxis_tickformat=".0%",
            height=340,
            margin={"t": 20, "b": 40, "l": 60, "r": 20},
            xaxis_autorange="reversed" if kind == "jpeg" else True,
        )
        right.plotly_chart(figure, key="learn.curve", config={"displaylogo": False})
        st.caption(
            "The paper's central concern: compression and blur wash out mesoscopic detail, so scores drift "
            "as quality drops. The curve starts at the plain score (quality 100 = the original crop)."
        )


def quiz_setup() -> None:
    """The uploaders for a class's own labelled faces. They are on screen only until the quiz
    starts: their file lists name the files, and names often give the answer (df00204.jpg)."""
    from mesonet.media.images import load_image

    with st.container(border=True, key="learn.quiz_setup_box"):
        st.caption("Add real and fake face photos or crops. Their file names are hidden once the quiz starts.")
        real_files = st.file_uploader(
            "Real faces", type=studio.IMAGE_TYPES, accept_multiple_files=True, key="learn.quiz_real"
        )
        fake_files = st.file_uploader(
            "Fake faces", type=studio.IMAGE_TYPES, accept_multiple_files=True, key="learn.quiz_fake"
        )
        files = [(f, "real") for f in real_files or []] + [(f, "fake") for f in fake_files or []]
        left, right = st.columns(2)
        start = left.button(
            f"Start the quiz with {len(files)} faces",
            type="primary",
            disabled=not files,
            key="learn.quiz_start",
            icon=":material/play_arrow:",
        )
        if right.button("Cancel", key="learn.quiz_cancel"):
            st.session_state["learn.quiz_setup"] = False
            st.rerun()
    if start:
        with studio.shown_errors():  # a bad file is named now, before the class sees the quiz
            faces = [(load_image(f.getvalue(), name=f.name), truth) for f, truth in files]
        start_quiz(faces, own=True)
        st.rerun()


def start_quiz(faces: list[tuple[np.ndarray, str]], *, own: bool) -> None:
    """A new round over `faces`: (aligned crop or photo, "real" or "fake"), in a random order; `own` when
    the class gave them."""
    st.session_state.update(
        {
            "learn.quiz_faces": faces,
            "learn.quiz_is_own": own,
            "learn.quiz_order": np.random.default_rng().permutation(len(faces)).tolist(),
            "learn.quiz_pos": 0,
            "learn.quiz_right": 0,
            "learn.quiz_done": 0,
            "learn.quiz_guess": None,
            "learn.quiz_setup": False,
        }
    )


def start_sample_quiz() -> None:
    start_quiz([(face, truth) for face, truth, _ in studio.sample_faces()], own=False)


with quiz_tab:
    st.write(
        "Real or fake? Guess, then see the truth and what the network says. The quiz uses the authors' sample "
        "crops and the face of the sample deepfake made on Make a deepfake, or your own labelled faces."
    )
    if st.session_state.get("learn.quiz_setup"):
        quiz_setup()
        st.stop()  # the quiz tab is the page's last: nothing else is left to draw
    if "learn.quiz_faces" not in st.session_state:
        with studio.shown_errors():
            start_sample_quiz()
    buttons = st.columns(2)
    if buttons[0].button("Use your own labelled faces", key="learn.quiz_own", icon=":material/upload:"):
        st.session_state["learn.quiz_setup"] = True
        st.rerun()
    if st.session_state["learn.quiz_is_own"] and buttons[1].button(
        "Back to the sample faces", key="learn.quiz_samples"
    ):
        start_sample_quiz()
    faces = st.session_state["learn.quiz_faces"]
    position = st.session_state["learn.quiz_pos"] % len(faces)
    face, truth = faces[st.session_state["learn.quiz_order"][position]]
    left, right = st.columns([1, 2])
    left.image(face, caption=f"Face {position + 1} of {len(faces)}", width="stretch")
    with right:
        guess = st.session_state["learn.quiz_guess"]
        if guess is None:
            columns = st.columns(2)
            for column, answer in zip(columns, ["real", "fake"]):
                if column.button(f"It's {answer}", key=f"learn.quiz_guess_{answer}", width="stretch", type="primary"):
                    st.session_state["learn.quiz_guess"] = answer
                    st.session_state["learn.quiz_done"] += 1
                    st.session_state["learn.quiz_right"] += int(answer == truth)
                    st.rerun()
        else:
            p_fake = p_fake_of(float(classifier.score_real([face])[0]))
            verdict = verdict_for(p_fake, threshold)
            (st.success if guess == truth else st.error)(
                f"You said **{guess}**; it is **{truth}**. {studio.plain(choice.label)} says P(fake) = {p_fake:.1%} "
                f"({VERDICT_WORDS[verdict]}"
                + (
                    ": it could go either way"
                    if verdict == "uncertain"
                    else (", right" if verdict == truth else ", wrong")
                )
                + ")."
            )
            if st.button("Next face", key="learn.quiz_next", icon=":material/arrow_forward:"):
                st.session_state["learn.quiz_pos"] += 1
                st.session_state["learn.quiz_guess"] = None
                st.rerun()
        st.metric("Your score", f"{st.session_state['learn.quiz_right']} / {st.session_state['learn.quiz_done']}")
