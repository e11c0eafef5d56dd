"""Issue 14, "in front of a class": the rough edges a teacher hit, each pinned under AppTest.

Real files, models and face detection, as in tests/app/test_app.py (with the same helpers, from
tests/helpers.py). The browser-only parts (a chart click keeping every marker, the phone layout)
are in tests/app/test_browser.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import captions_of, open_app, plotly_arrays, upload

RED_GREEN_PINK = {"#D32F2F", "#2E7D32", "#EF553B", "#00CC96", "#FF6692", "#E91E63", "#CC79A7", "#009E73", "#D55E00"}


@pytest.fixture(scope="module")
def two_people(shared_dir) -> Path:
    return shared_dir / "data" / "photos" / "two_people.jpg"


def test_the_analysed_file_its_settings_and_the_threshold_survive_page_switches(two_people):
    """Item 1 (and 7's shared threshold): Analyse, then Compare, then Analyse showed "Nothing to analyse yet"."""
    at = open_app()
    at.radio(key="analyse.faces").set_value("All faces")
    at.slider(key="decision.threshold").set_value(0.3)
    upload(at, "analyse.upload", two_people, "image/jpeg")
    assert not at.exception and not at.error
    assert any("verdict for two_people.jpg" in m.value for m in at.markdown)

    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    # Compare offers the analysed file first, with the faces Analyse found (two, with All faces).
    assert at.button_group(key="compare.source").value == "Analysed file"
    assert "the file analysed on the Analyse page" in " ".join(c.value for c in at.caption)
    assert "frames voting fake" not in at.dataframe[0].value  # a photo's table speaks of faces, not frames
    assert at.slider(key="decision.threshold").value == 0.3  # one threshold for both pages
    at.radio(key="compare.threshold_mode").set_value("shared").run()  # by default each model's own
    at.slider(key="decision.threshold").set_value(0.7).run()

    at.switch_page("pages/learn.py").run()
    assert not at.exception
    assert "Analysed file" in at.button_group(key="learn.features.source").options

    at.switch_page("pages/analyse.py").run()
    assert not at.exception and not at.error
    assert not any("Nothing to analyse yet" in i.value for i in at.info)
    assert any("verdict for two_people.jpg" in m.value for m in at.markdown)
    assert "Showing **two_people.jpg**, analysed earlier" in " ".join(c.value for c in at.caption)
    assert at.radio(key="analyse.faces").value == "All faces"
    assert at.slider(key="decision.threshold").value == 0.7
    assert "threshold 70%" in " ".join(c.value for c in at.caption)


def test_changing_the_architecture_keeps_the_weights_family_and_compare_has_no_picker():
    """Items 2 and 7: F2F then MesoInception4 gave "mesoinception4-df"; Compare showed a picker that did nothing."""
    at = open_app()
    at.radio(key="model.weights").set_value("meso4-f2f").run()
    at.radio(key="model.arch").set_value("mesoinception4").run()
    assert at.radio(key="model.weights").value == "mesoinception4-f2f"
    at.radio(key="model.arch").set_value("meso4").run()
    assert at.radio(key="model.weights").value == "meso4-f2f"

    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert not [r for r in at.radio if r.key in ("model.arch", "model.weights")]
    at.switch_page("pages/learn.py").run()
    assert (at.radio(key="model.arch").value, at.radio(key="model.weights").value) == ("meso4", "meso4-f2f")


def test_group_photo_faces_are_numbered_left_to_right_and_any_face_can_be_explained(two_people):
    """Item 6: the frame view, the gallery, Compare and "Explain this face" all count faces from 1."""
    from mesonet.analysis.pipeline import analyze_media
    from mesonet.models.scoring import load_classifier

    expected = analyze_media(two_people, load_classifier("meso4-df"), all_faces=True)
    frame = expected.extraction.frames[0]
    by_number = sorted(zip(frame.track_ids, frame.faces), key=lambda pair: pair[0])
    assert by_number[0][1].box[3] < by_number[1][1].box[3]  # face 1 is on the left
    scores = {f.track_id + 1: f.p_fake for f in sorted(expected.faces, key=lambda f: f.track_id)}

    at = open_app()
    at.radio(key="analyse.faces").set_value("All faces")
    upload(at, "analyse.upload", two_people, "image/jpeg")
    assert any(m.value == "**Photo** · 2 faces, numbered left to right" for m in at.markdown)
    captions = captions_of(at)
    assert [c for c in captions if c.startswith("face ") and ":" in c] == [
        f"face {n}: P(fake) {p:.1%}" for n, p in scores.items()
    ]
    assert [c for c in captions if c.startswith("face ") and "·" in c] == [
        f"face {n} · {p:.1%}" for n, p in scores.items()
    ]

    picker = at.button_group(key="analyse.explain_face")
    assert picker.options == ["face 1", "face 2"] and picker.value == 1
    picker.set_value(2).run()
    assert at.button(key="analyse.explain").label.startswith("Explain face 2")
    at.button(key="analyse.explain").click().run()
    assert at.title[0].value == "Learn how MesoNet sees"
    assert at.button_group(key="learn.saliency.source").value == "Sent from Analyse"
    assert "Face 2 sent from the Analyse page." in [c.value for c in at.caption]
    np.testing.assert_array_equal(at.session_state["learn.crop"], by_number[1][1].crop)

    at.switch_page("pages/compare.py").run()
    table = at.dataframe[0].value
    assert not at.exception and len(table) == 5  # the four weights and the released ensemble
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [trace["name"] for trace in spec["data"]] == list(table["model"])
    assert all(trace["type"] == "bar" and trace["x"] == ["face 1", "face 2"] for trace in spec["data"])
    assert plotly_arrays(spec)[0] == pytest.approx(list(scores.values()), abs=1e-6)  # Meso4 DF, the default


def test_compare_uses_catalog_titles_and_neutral_colours_per_model(shared_dir):
    """Item 7: raw ids, and models in red and pink, the colours of "fake" elsewhere."""
    from mesonet.models.weights import list_weights
    from studio.results import MODEL_COLORS

    video = shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"
    at = open_app("pages/compare.py")
    upload(at, "compare.upload", video, "video/mp4")
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    titles = [entry.title for entry in list_weights()] + ["Ensemble: released (4 weights)"]
    assert [trace["name"] for trace in spec["data"]] == titles
    colours = [trace["line"]["color"] for trace in spec["data"]]
    assert colours == MODEL_COLORS[: len(titles)] and len(set(colours)) == len(titles)
    assert not {c.upper() for c in colours} & RED_GREEN_PINK
    assert len({trace["marker"]["symbol"] for trace in spec["data"]}) == len(titles)


def test_chart_keeps_every_marker_when_a_point_is_selected(shared_dir):
    """Item 8 (the figure's side; tests/app/test_browser.py clicks a point in Chromium)."""
    at = open_app()
    upload(at, "analyse.upload", shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4", "video/mp4")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    for trace in spec["data"]:
        assert trace["unselected"]["marker"]["opacity"] == 1.0
        assert trace["selected"]["marker"]["size"] > trace["marker"]["size"]
        assert "color" not in trace["selected"]["marker"]  # the chosen point keeps its verdict colour


def test_quiz_hides_the_uploader_and_file_names_while_playing(sample_images):
    """Item 4: the open uploader listed df00204.jpg under "Fake faces", so the class saw the answers."""
    at = open_app("pages/learn.py")
    assert not at.get("file_uploader") or all(not u.key.startswith("learn.quiz") for u in at.get("file_uploader"))
    at.button(key="learn.quiz_own").click().run()
    at.file_uploader(key="learn.quiz_real").set_value(
        [(p.name, p.read_bytes(), "image/jpeg") for p in (sample_images["real00240"], sample_images["real00772"])]
    )
    at.file_uploader(key="learn.quiz_fake").set_value(
        [(sample_images["df00204"].name, sample_images["df00204"].read_bytes(), "image/jpeg")]
    ).run()
    start = at.button(key="learn.quiz_start")
    assert start.label == "Start the quiz with 3 faces" and not start.disabled
    start.click().run()
    assert not at.exception and not at.error

    assert all(not u.key.startswith("learn.quiz") for u in at.get("file_uploader"))
    shown = " ".join(
        [e.value for kind in ("markdown", "caption", "info", "success", "error") for e in at.get(kind)]
        + captions_of(at)
    )
    assert "Face 1 of 3" in shown
    for name in ("real00240", "real00772", "df00204"):
        assert name not in shown
    at.button(key="learn.quiz_guess_fake").click().run()
    assert "it is **" in (at.success or at.error)[0].value and "df00204" not in (at.success or at.error)[0].value
    at.button(key="learn.quiz_samples").click().run()
    assert "Face 1 of 5" in captions_of(at)  # the four crops and the sample deepfake's face


def test_feature_maps_open_on_the_most_active_channel_and_name_the_silent_ones(sample_images):
    """Item 5: channel 0 of block1_conv, the one shown first, is all zeros for both Meso4 weights."""
    from mesonet.models import explain
    from mesonet.models.scoring import load_classifier

    at = open_app("pages/learn.py")
    at.button_group(key="learn.features.source").set_value("Upload")
    at.run()
    upload(at, "learn.features.upload", sample_images["real00240"], "image/jpeg")
    assert not at.exception and not at.error
    layer = at.selectbox(key="learn.layer").value
    crop = load_image_crop(sample_images["real00240"])
    activation = explain.activations(load_classifier("meso4-df"), crop)[layer]
    busiest = explain.most_active_channel(activation)
    channel = next(s for s in at.selectbox if s.key and s.key.startswith(f"learn.channel.{layer}."))
    assert channel.value == busiest != 0
    assert channel.format_func(0) == "channel 0 (silent: all zeros for this face)"
    assert channel.format_func(busiest) == f"channel {busiest} (most active)"
    assert any(c.value.startswith("Silent for this face (2 of 8): channel 0 (all zeros)") for c in at.caption)
    enlarged = [c for c in captions_of(at) if c.startswith("meso4-") and f"channel {busiest}" in c]
    assert len(enlarged) == 2  # the chosen weights and their F2F counterpart
    channel.set_value(0).run()
    assert "meso4-df: block1_conv, channel 0 (silent: all zeros for this face)" in captions_of(at)


def load_image_crop(path: Path) -> np.ndarray:
    """The crop the Learn page takes from an uploaded face photo (the largest face, else the image)."""
    from mesonet.faces.detect import extract_faces
    from mesonet.media.images import load_image

    image = load_image(path)
    faces = extract_faces(image)
    return faces[0].crop if faces else image


def test_evaluate_makes_up_no_overlap_when_the_catalog_does_not_know_the_training_files(small_dataset_zip):  # noqa: F811
    """Item 12: the F2F weights' training files are not known by name, so no warning is made up."""
    at = open_app("pages/evaluate.py")
    at.radio(key="model.weights").set_value("meso4-f2f").run()
    at.file_uploader(key="evaluate.zip").set_value(("faces.zip", small_dataset_zip, "application/zip")).run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception and not at.error and not at.warning
    assert all(value.endswith("%") for value in at.dataframe[0].value.iloc[0][["forged", "real", "total"]])


def test_a_class_round_takes_faces_from_a_server_dataset_and_a_swap_as_a_known_fake(shared_dir, tmp_path, monkeypatch):
    """Issue 22: a round's faces from MESONET_DATASETS_DIR (with their labels) and from Make a deepfake (fake)."""
    from mesonet.serving.classroom import ClassRound
    from studio.server import classrooms

    faces = tmp_path / "datasets" / "class_faces"
    for folder in ("df", "real"):
        (faces / folder).mkdir(parents=True)
        for source in sorted((shared_dir / "data" / "mesonet_df" / "train" / folder).glob("*.jpg"))[:5]:
            (faces / folder / source.name).symlink_to(source)
    monkeypatch.setenv("MESONET_DATASETS_DIR", str(faces.parent))

    swap = open_app("pages/make_deepfake.py")
    swap.button(key="swap.analyse").click().run()
    assert any("verdict for deepfake.png" in m.value for m in swap.markdown)
    swap.switch_page("pages/class_round.py").run()
    swap.button(key="class.start").click().run()
    code, _ = swap.session_state["class.teacher"]
    round_: ClassRound = classrooms().get(code)
    swap.number_input(key="class.per_class").set_value(2).run()
    next(b for b in swap.button if b.key == "class.add_dataset").click().run()
    assert not swap.exception and not swap.error
    assert sorted(face.truth for face in round_.faces) == ["fake", "fake", "real", "real"]
    swap.button(key="class.add_analysed").click().run()
    assert round_.faces[-1].truth == "fake" and round_.faces[-1].source == "deepfake.png"
    classrooms().close(code, round_.teacher_token)


def test_a_reload_loses_neither_the_teacher_nor_a_student(sample_images):
    """Issue 22: a teacher whose page reloaded had lost the round; a student lost their seat and votes."""
    from mesonet.serving.classroom import ClassRound
    from studio.server import classrooms

    teacher = open_app("pages/class_round.py")
    teacher.button(key="class.start").click().run()
    code, token = teacher.session_state["class.teacher"]
    round_: ClassRound = classrooms().get(code)
    key = round_.teacher_key
    assert any(f"**{key[:4]}-{key[4:]}**" in m.value for m in teacher.markdown)  # shown to the teacher
    teacher.button(key="class.add_samples").click().run()

    student = open_app("pages/class_round.py")
    student.text_input(key="class.code").input(code)
    student.text_input(key="class.nickname").input("Ada").run()
    student.button(key="class.join").click().run()
    seat = student.session_state["class.student"][1]
    assert student.query_params["seat"] == seat
    round_.show_next(token)
    assert round_.vote(seat, 0, "fake") == "counted"

    reloaded_student = open_app("pages/class_round.py", query={"code": code, "seat": seat})  # same address, new session
    assert reloaded_student.session_state["class.student"] == (code, seat)
    assert any("You are **Ada**" in c.value for c in reloaded_student.caption)
    assert round_.vote(seat, 0, "real") == "repeat"  # still one seat, one vote

    reloaded_teacher = open_app("pages/class_round.py")
    assert "class.teacher" not in reloaded_teacher.session_state
    reloaded_teacher.text_input(key="class.back_code").input(code.lower())
    reloaded_teacher.text_input(key="class.back_key").input("WRONG-KEY").run()
    reloaded_teacher.button(key="class.take_back").click().run()
    assert "not this round's teacher key" in reloaded_teacher.error[0].value
    reloaded_teacher.text_input(key="class.back_key").input(f"{key[:4]}-{key[4:]}").run()
    reloaded_teacher.button(key="class.take_back").click().run()
    assert reloaded_teacher.session_state["class.teacher"] == (code, token)
    assert not reloaded_teacher.error and reloaded_teacher.button(key="class.reveal")
    classrooms().close(code, token)
