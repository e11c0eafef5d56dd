"""The `mesonet` command line, run as users run it."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import GOLDEN, run_cli, shape_bomb


@pytest.mark.parametrize("command", [[], ["weights"], ["weights", "list"], ["weights", "fetch"], ["predict"]])
def test_help_on_every_subcommand(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: mesonet" in result.stdout


def test_weights_list_shows_present_files():
    result = run_cli("weights", "list", "--format", "json")
    rows = json.loads(result.stdout)
    assert {row["name"]: row["status"] for row in rows} == dict.fromkeys(GOLDEN, "present")


def test_predict_json_on_the_four_samples(sample_images):
    result = run_cli("predict", *map(str, sample_images.values()), "--model", "meso4-df", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["path"] for row in rows] == [str(p) for p in sample_images.values()]
    for row, stem in zip(rows, sample_images):
        assert row["model"] == "meso4-df"
        assert row["score_real"] == pytest.approx(GOLDEN["meso4-df"][stem], abs=1e-5)
        assert row["p_fake"] == pytest.approx(1 - row["score_real"], abs=1e-9)
        assert row["label"] == ("fake" if stem.startswith("df") else "real")


def test_bad_files_give_one_line_each_and_the_rest_is_scored(tmp_path, sample_images):
    good = sample_images["real00772"]
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:2000])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not a picture\n")
    bad = [tmp_path / "missing.jpg", tmp_path, tmp_path / "empty.jpg", tmp_path / "notes.jpg", truncated]
    result = run_cli("predict", str(good), *map(str, bad), "--format", "csv")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(bad), result.stderr
    for line, path in zip(errors, bad):
        assert line.startswith("mesonet: error: ") and path.name in line
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "path,model,score_real,p_fake,label"
    assert len(lines) == 2 and lines[1].startswith(str(good))


def test_table_output_and_custom_weights_file(sample_images, shared_dir):
    result = run_cli(
        "predict",
        str(sample_images["df00204"]),
        "--model",
        "meso4",
        "--weights-file",
        str(shared_dir / "weights" / "Meso4_F2F.h5"),
    )
    assert result.returncode == 0, result.stderr
    assert "meso4 (Meso4_F2F.h5)" in result.stdout and "16.9%" in result.stdout and "real" in result.stdout


def test_wrong_weights_file_is_one_clear_line(sample_images, shared_dir):
    result = run_cli(
        "predict",
        str(sample_images["df00204"]),
        "--model",
        "mesoinception4",
        "--weights-file",
        str(shared_dir / "weights" / "Meso4_DF.h5"),
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not hold MesoInception4 weights" in result.stderr


def test_a_weights_file_that_claims_gigabytes_is_one_line_at_once(sample_images, shared_dir, tmp_path):
    """Issue 24: refused from its HDF5 metadata before TensorFlow loads: no Keras warning, no 7 GB."""
    bomb = shape_bomb(
        shutil.copy(shared_dir / "weights" / "Meso4_DF.h5", tmp_path / "bomb.h5"), "conv2d_5/conv2d_5/kernel:0"
    )
    result = run_cli("predict", str(sample_images["df00204"]), "--model", "meso4", "--weights-file", str(bomb))
    assert result.returncode == 2
    assert result.stderr == (
        "mesonet: error: bomb.h5 does not hold Meso4 weights: dataset conv2d_5/conv2d_5/kernel:0 has shape "
        "(3, 3, 3, 15000000); Meso4 expects (3, 3, 3, 8). Is this a Meso4 weight file? Check the architecture you "
        "picked.\n"
    )


def test_an_empty_path_is_refused_not_read_as_the_current_folder():
    result = run_cli("detect", "")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "An empty path was given" in result.stderr, result.stderr


def test_core_imports_no_streamlit_and_loads_nothing_at_import():
    code = (
        "import sys, mesonet, mesonet.cli.main, mesonet.models.weights, mesonet.models.scoring; "
        "print('streamlit' in sys.modules, 'tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_detect_json_on_a_video_an_image_and_a_bad_file(tmp_path, shared_dir):
    video = shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"
    photo = shared_dir / "data" / "photos" / "obama.jpg"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(video.read_bytes()[:5000])
    crops = tmp_path / "crops"
    result = run_cli(
        "detect",
        str(video),
        str(broken),
        str(photo),
        "--model",
        "meso4-df",
        "--frames",
        "6",
        "--json",
        "-",
        "--csv",
        str(tmp_path / "frames.csv"),
        "--save-crops",
        str(crops),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mesonet: error:")]
    assert len(errors) == 1 and "broken.mp4" in errors[0]
    files = json.loads(result.stdout)
    assert [Path(f["path"]).name for f in files] == ["ff_youtube_183.mp4", "obama.jpg"]
    clip, image = files
    assert clip["verdict"] in ("real", "fake") and len(clip["frames"]) == 6
    assert clip["p_fake"] == pytest.approx(sum(f["p_fake"] for f in clip["frames"]) / 6)
    assert {"index", "time_s", "box", "score_real", "p_fake"} <= set(clip["frames"][0])
    assert image["frames"][0]["index"] == 0 and image["frames"][0]["time_s"] == 0.0
    assert len(list(crops.glob("*.png"))) == 7
    assert (tmp_path / "frames.csv").read_text().count("\n") == 1 + 7


def test_evaluate_detect_in_two_workers_scores_like_one(tmp_path, shared_dir):
    """`evaluate --faces detect --jobs N`: faces are found in N worker processes; the scores do not change."""
    data = shared_dir / "data"
    (tmp_path / "ds" / "real").mkdir(parents=True)
    (tmp_path / "ds" / "df").mkdir()
    for source in (
        data / "photos" / "obama.jpg",
        data / "photos" / "biden.jpg",
        data / "videos" / "real" / "ff_youtube_183.mp4",
    ):
        (tmp_path / "ds" / "real" / source.name).symlink_to(source)
    (tmp_path / "ds" / "df" / "deepfake.mp4").symlink_to(data / "videos" / "deepfakes" / "ff_c40_183_253.mp4")
    (tmp_path / "ds" / "df" / "face2face.mp4").symlink_to(data / "videos" / "face2face" / "ff_c40_183_253.mp4")
    scores = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.csv"
        result = run_cli(
            "evaluate", str(tmp_path / "ds"), "--faces", "detect", "--jobs", jobs, "--csv", str(out), timeout=900
        )
        assert result.returncode == 0, result.stderr
        with out.open() as file:
            scores[jobs] = {
                Path(row["path"]).name: float(row["score_real"]) for row in csv.DictReader(file) if row["score_real"]
            }
    assert len(scores["1"]) == 5
    assert scores["2"] == pytest.approx(scores["1"], abs=1e-6)


def test_compare_scores_the_same_faces_with_every_model_and_counts_disagreements(shared_dir):
    photo = shared_dir / "data" / "photos" / "two_people.jpg"
    result = run_cli("compare", str(photo), "--all-faces", "--json", "-")
    assert result.returncode == 0, result.stderr
    comparison = json.loads(result.stdout)
    models = {row["model"]: row for row in comparison["models"]}
    assert {"meso4-df", "meso4-f2f", "mesoinception4-df", "mesoinception4-f2f", "released"} <= set(models)
    assert comparison["faces"] == 2 and all(row["frames_with_face"] == 1 for row in models.values())
    for row in models.values():  # each model's verdict follows the one rule at its own threshold
        assert row["verdict"] == ("fake" if row["p_fake_mean"] >= row["threshold"] else "real")
    for face in comparison["disagreements"]:
        verdicts = {p >= models[name]["threshold"] for name, p in face["p_fake"].items()}
        assert verdicts == {True, False}
    assert "Agreement is not correctness" in result.stderr


def test_a_folder_without_media_is_one_line_and_exit_2(tmp_path):
    """Issue 21: a folder named clip.mp4 exited 0 and printed nothing."""
    (tmp_path / "clip.mp4").mkdir()
    (tmp_path / "clip.mp4" / "notes.txt").write_text("not media")
    result = run_cli("detect", str(tmp_path / "clip.mp4"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"mesonet: error: {tmp_path / 'clip.mp4'}: no images or videos in this folder (it is a folder, not a file)."
    ]
