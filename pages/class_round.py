"""Class round: a teacher shows faces, the class votes real or fake on their own devices, then meets MesoNet.

The round lives on the server (`studio.server.classrooms`, `mesonet.serving.classroom`); the
teacher's and the students' views poll it once a second in a fragment, so only that part reruns.
"""

from __future__ import annotations

import html
import io

import numpy as np
import streamlit as st
from PIL import Image

import studio
from mesonet.serving.classroom import ClassroomError, ClassRound
from mesonet.verdict import VERDICT_COLORS, VERDICT_WORDS, p_fake_of, verdict_for
from studio.server import classrooms

choice = studio.page_setup()
st.title("Class round")

TEACHER_KEY = "class.teacher"  # (code, teacher token) of the round this session runs
STUDENT_KEY = "class.student"  # (code, student token) of the round this session joined
POLL_S = 1.0


def big(text: str, *, size: float = 3.0, color: str = "inherit") -> None:
    """Large type for a projector; `text` is escaped."""
    st.markdown(
        f"<div style='font-size:{size}rem;font-weight:700;line-height:1.15;color:{color}'>{html.escape(text)}</div>",
        unsafe_allow_html=True,
    )


def face_image(round_: ClassRound, index: int) -> bytes:
    """The face as JPEG bytes, made once per face: a class polls every second, so it is not re-encoded each time."""
    cache = st.session_state.setdefault("class.jpeg", {})
    key = (round_.code, index)
    if key not in cache:
        out = io.BytesIO()
        Image.fromarray(round_.faces[index].crop).save(out, format="JPEG", quality=92)
        cache[key] = out.getvalue()
    return cache[key]


def as_crop(image: np.ndarray) -> np.ndarray:
    """The largest face of a photo as an aligned crop, or the image itself when it is a crop already."""
    from mesonet.faces.detect import extract_faces

    faces = extract_faces(image)
    return faces[0].crop if faces else np.asarray(Image.fromarray(image).resize((256, 256)))


def join_url(code: str) -> str:
    """This page's address with the code; the path alone when the server does not know its address."""
    page = (st.context.url or "/class_round").split("?")[0]
    return f"{page}?code={code}"


def qr_png(text: str) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=10, border=2)
    return out.getvalue()


# Starting or joining ----------------------------------------------------------------------------


def start_or_join() -> None:
    left, right = st.columns(2, gap="large")
    with left.container(border=True):
        st.subheader("Join a round")
        code = st.text_input("Code", value=st.query_params.get("code", ""), max_chars=12, key="class.code")
        nickname = st.text_input("Nickname", max_chars=24, key="class.nickname", placeholder="what the class sees")
        if st.button("Join", type="primary", key="class.join", icon=":material/login:"):
            with studio.shown_errors(stop=False):
                round_ = classrooms().get(code)
                seat = round_.join(nickname)
                st.session_state[STUDENT_KEY] = (round_.code, seat)
                st.query_params.update(code=round_.code, seat=seat)  # a reload keeps the seat and its votes
                st.rerun()
    with right.container(border=True):
        st.subheader("Teach a round")
        st.write(
            "Start a round, add faces, and show them one at a time: the class votes real or fake on their phones "
            "or laptops before the countdown ends, then you reveal the votes, the truth and MesoNet's verdict."
        )
        if st.button("Start a class round", key="class.start", icon=":material/co_present:"):
            with studio.shown_errors(stop=False):
                round_ = classrooms().start()
                st.session_state[TEACHER_KEY] = (round_.code, round_.teacher_token)
                st.rerun()
        with st.expander("Take back a round you teach (after a reload)", icon=":material/key:"):
            code = st.text_input("Round code", max_chars=12, key="class.back_code")
            key = st.text_input("Teacher key", max_chars=12, key="class.back_key", type="password")
            if st.button("Take it back", key="class.take_back", disabled=not (code and key)):
                with studio.shown_errors(stop=False):
                    round_ = classrooms().get(code)
                    st.session_state[TEACHER_KEY] = (round_.code, round_.take_back(key))
                    st.rerun()


def rejoin_from_url() -> None:
    """A student whose page reloaded sits in the same seat again: the join put the seat in the address."""
    code, seat = st.query_params.get("code"), st.query_params.get("seat")
    if not (code and seat):
        return
    try:
        round_ = classrooms().get(code)
    except ClassroomError:
        return  # the round is over; the join form says so when they try the code
    if round_.nickname_of(seat):
        st.session_state[STUDENT_KEY] = (round_.code, seat)


# The teacher's views ----------------------------------------------------------------------------


def add_faces(round_: ClassRound, teacher: str) -> None:
    """The round's faces: the authors' crops, the teacher's uploads, a labelled dataset on the server, the
    faces of the teacher's last analysis (a swap made on Make a deepfake and analysed comes this way)."""
    from mesonet.data.datasets import LABEL_REAL, sample_per_class, scan_dataset
    from mesonet.media.images import load_image

    with st.expander(f"Faces of this round ({len(round_.faces)})", expanded=not round_.faces):
        st.caption("Students see only the face, never its file name or its source.")
        if st.button(
            "Add the sample faces: the authors' four crops and the sample deepfake's face", key="class.add_samples"
        ):
            with studio.shown_errors(stop=False):
                for crop, truth, title in studio.sample_faces():
                    round_.add_face(teacher, crop, truth, title)
                st.rerun()  # the count in the expander's label
        uploads = st.file_uploader(
            "Your own faces (photos or crops)", type=studio.IMAGE_TYPES, accept_multiple_files=True, key="class.upload"
        )
        truth = st.segmented_control(
            "They are", ["real", "fake", "unknown"], default="unknown", key="class.truth", width="stretch"
        )
        if st.button("Add them", key="class.add_uploads", disabled=not uploads):
            with studio.shown_errors(stop=False):
                for upload in uploads:
                    image = load_image(upload.getvalue(), name=upload.name)
                    round_.add_face(teacher, as_crop(image), None if truth == "unknown" else truth, upload.name)
                st.rerun()
        if datasets := studio.server_datasets():
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            name = left.selectbox("A labelled dataset on the server", list(datasets), key="class.dataset")
            per_class = right.number_input("Faces per class", 1, 20, 4, key="class.per_class")
            if st.button(f"Add {per_class} real and {per_class} fake faces from {name}", key="class.add_dataset"):
                with studio.shown_errors(stop=False):
                    picked = sample_per_class(
                        scan_dataset(datasets[name], allow_videos=False), per_class, seed=len(round_.faces)
                    )
                    for file in picked.files:
                        truth = "real" if file.label == LABEL_REAL else "fake"
                        round_.add_face(teacher, as_crop(load_image(file.path)), truth, f"{name}/{file.path.name}")
                    st.rerun()
        analysed = studio.last_analysed()
        if analysed is not None:
            crops_by_track = {}
            for frame in analysed.extraction.frames:
                for face, track in zip(frame.faces, frame.track_ids, strict=True):
                    crops_by_track.setdefault(track, face.crop)
            if st.button(
                f"Add the {len(crops_by_track)} face(s) of {analysed.media.name}, analysed on the Analyse page",
                key="class.add_analysed",
            ):
                # A swap made on Make a deepfake is a known fake; any other file's truth is not known.
                truth = "fake" if analysed.media.sha256 == st.session_state.get("swap.made") else None
                with studio.shown_errors(stop=False):
                    for crop in crops_by_track.values():
                        round_.add_face(teacher, crop, truth, analysed.media.name)
                st.rerun()
        if round_.faces:
            st.image([face.crop for face in round_.faces], width=72)


def reveal(round_: ClassRound, teacher: str) -> None:
    """Scores the current face with the sidebar's weights and shows the answer to everyone."""
    classifier = studio.classifier_for(choice)
    p_fake = p_fake_of(float(classifier.score_real([round_.faces[round_.current].crop])[0]))
    round_.reveal(teacher, p_fake=p_fake, verdict=verdict_for(p_fake, choice.threshold), weights=classifier.name)


def revealed(round_: ClassRound, index: int, *, size: float) -> None:
    """The votes, the truth and MesoNet's verdict of a revealed face."""
    import plotly.graph_objects as go

    face, tally = round_.faces[index], round_.tally(index)
    figure = go.Figure(
        go.Bar(
            x=[tally["real"], tally["fake"]],
            y=["real", "fake"],
            orientation="h",
            marker_color=[VERDICT_COLORS["real"], VERDICT_COLORS["fake"]],
            text=[tally["real"], tally["fake"]],
        )
    )
    figure.update_layout(height=180, margin={"t": 10, "b": 10, "l": 10, "r": 10}, xaxis={"title": "votes", "dtick": 1})
    st.plotly_chart(figure, config={"displaylogo": False, "staticPlot": True}, key=f"class.votes.{index}")
    big(f"Truth: {face.truth.upper() if face.truth else 'not known'}", size=size)
    big(
        f"MesoNet: {VERDICT_WORDS[face.verdict]} ({face.p_fake:.0%} fake)",
        size=size,
        color=VERDICT_COLORS[face.verdict],
    )
    st.caption(
        f"Weights {face.weights}. A verdict is not the truth: these weights only know what they were trained on."
    )


@st.fragment(run_every=POLL_S)
def presenter(round_: ClassRound) -> None:
    """What the class sees on the projector: the face, the countdown, the votes coming in."""
    if round_.current < 0:
        big(f"Join at the code {round_.code}", size=3.5)
        st.write(f"{len(round_.students)} student(s) have joined.")
        return
    index = round_.current
    tally = round_.tally(index)
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.image(face_image(round_, index), width="stretch")
    with right:
        big(f"Face {index + 1}", size=2.2)
        seconds = round_.seconds_left()
        big(f"{seconds:.0f} s" if seconds > 0 else "Time is up", size=4.0)
        big(f"{tally['real'] + tally['fake']} of {len(round_.students)} voted", size=1.6)
        if tally["late"] or tally["repeat"]:
            st.caption(f"Ignored: {tally['late']} late, {tally['repeat']} repeated.")
        if round_.phase == "revealed":
            revealed(round_, index, size=1.8)


def teacher_view(code: str, teacher: str) -> None:
    try:
        round_ = classrooms().get(code)
    except ClassroomError as exc:
        st.session_state.pop(TEACHER_KEY, None)
        studio.show_error(exc)
        return
    top = st.columns([2, 1], vertical_alignment="center")
    with top[0]:
        big(f"Code {round_.code}", size=3.5)
        st.markdown(f"Students open **{studio.plain(join_url(round_.code))}** or this page and type the code.")
    top[1].image(qr_png(join_url(round_.code)), width=220)
    with st.expander("If this page reloads", icon=":material/key:"):
        key = round_.teacher_key
        st.markdown(
            f"Take the round back on this page with the code **{round_.code}** and the teacher key "
            f"**{key[:4]}-{key[4:]}** (under *Take back a round you teach*). Keep the key to yourself: it "
            "controls the round."
        )

    if round_.phase == "ended":
        summary(round_, teacher)
        return
    add_faces(round_, teacher)
    controls = st.container(horizontal=True)
    seconds = controls.number_input("Seconds per face", 5, 120, 20, 5, key="class.seconds", width=160)
    with studio.shown_errors(stop=False):
        if controls.button(
            "Show the next face",
            type="primary",
            key="class.next",
            icon=":material/skip_next:",
            disabled=round_.current + 1 >= len(round_.faces),
        ):
            round_.show_next(teacher, seconds)
        if controls.button(
            "Reveal", key="class.reveal", icon=":material/visibility:", disabled=round_.phase != "voting"
        ):
            reveal(round_, teacher)
        if controls.button("End the round", key="class.end", icon=":material/flag:"):
            round_.end(teacher)
            st.rerun()
    presenter(round_)
    if round_.phase == "revealed" and st.button("Explain this face (saliency)", key="class.explain"):
        st.session_state.update(
            {
                "learn.crop": round_.faces[round_.current].crop,
                "learn.crop_name": f"Face {round_.current + 1} of the class round",
                "learn.open_tab": "Saliency",
            }
        )
        st.switch_page("pages/learn.py")


def summary(round_: ClassRound, teacher: str) -> None:
    """The end of a round: the class against the model per face, each student's score, the CSV."""
    import pandas as pd

    st.subheader("The class against MesoNet")
    faces = pd.DataFrame(round_.face_rows()).drop(columns=["source"])
    st.dataframe(
        faces,
        hide_index=True,
        column_config={
            "class_right": st.column_config.ProgressColumn("class right", format="percent", min_value=0, max_value=1),
            "mesonet_p_fake": st.column_config.NumberColumn("MesoNet P(fake)", format="percent"),
        },
    )
    wrong = faces[faces["class_right"].notna() & (faces["class_right"] < 0.5)]
    st.write(
        f"The class got {len(wrong)} face(s) wrong by majority: "
        + (", ".join(f"face {n}" for n in wrong["face"]) if len(wrong) else "none")
        + "."
    )
    st.subheader("Students")
    st.dataframe(pd.DataFrame(round_.student_rows()), hide_index=True)
    st.download_button(
        "Summary (CSV)",
        round_.summary_csv(),
        f"class_round_{round_.code}.csv",
        "text/csv",
        icon=":material/table:",
        key="class.csv",
        on_click="ignore",
    )
    if st.button("Close the round and forget it", key="class.close", icon=":material/delete:"):
        classrooms().close(round_.code, teacher)
        st.session_state.pop(TEACHER_KEY, None)
        st.rerun()


# The students' view -----------------------------------------------------------------------------


@st.fragment(run_every=POLL_S)
def student_view(code: str, student: str) -> None:
    try:
        round_ = classrooms().get(code)
    except ClassroomError:
        st.info("This round is over and its results are gone. Thanks for playing!", icon=":material/flag:")
        return
    nickname = round_.nickname_of(student)
    st.caption(f"You are **{studio.plain(nickname)}** in round {round_.code}.")
    if round_.phase == "ended":
        mine = next((r for r in round_.student_rows() if r["nickname"] == nickname), None)
        big("The round has ended", size=2.0)
        if mine:
            big(f"Your score: {mine['right']} right of {mine['votes']} votes", size=1.6)
        return
    if round_.current < 0:
        big("Waiting for the first face…", size=2.0)
        return
    index = round_.current
    st.image(face_image(round_, index), width="stretch")
    mine = round_.vote_of(student, index)
    seconds = round_.seconds_left()
    if round_.phase == "revealed":
        if mine:
            truth = round_.faces[index].truth
            big(f"You said {mine.upper()}" + (f"; it is {truth.upper()}." if truth else "."), size=1.6)
        revealed(round_, index, size=1.4)
    elif round_.phase != "voting" or seconds <= 0:
        big("Time is up for this face." if not mine else f"You voted {mine.upper()}. Wait for the reveal.", size=1.6)
    else:
        big(f"Face {index + 1}: {seconds:.0f} s left", size=1.6)
        if mine:
            st.caption(f"You voted **{mine}**. Only your first vote counts.")
        buttons = st.columns(2)
        for column, answer in zip(buttons, ("real", "fake"), strict=True):
            # A callback: the vote is in before the view is drawn again.
            column.button(
                f"It's {answer}",
                key=f"class.vote.{answer}",
                type="primary",
                width="stretch",
                on_click=cast_vote,
                args=(round_, student, index, answer),
            )


def cast_vote(round_: ClassRound, student: str, index: int, answer: str) -> None:
    if round_.vote(student, index, answer) != "counted":
        st.toast("Only your first vote, in time, counts.", icon=":material/info:")


# The page ---------------------------------------------------------------------------------------

if TEACHER_KEY not in st.session_state and STUDENT_KEY not in st.session_state:
    rejoin_from_url()
if TEACHER_KEY in st.session_state:
    teacher_view(*st.session_state[TEACHER_KEY])
elif STUDENT_KEY in st.session_state:
    student_view(*st.session_state[STUDENT_KEY])
    if st.button("Leave this round", key="class.leave"):
        st.session_state.pop(STUDENT_KEY)
        st.query_params.pop("seat", None)
        st.rerun()
else:
    start_or_join()
