"""Dataset evaluation on small class-folder datasets made from the authors' face crops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

from mesonet.evaluation.evaluator import evaluate_dataset
from mesonet.evaluation.metrics import compute_metrics
from mesonet.evaluation.report import write_report
from mesonet.media.images import load_image

# Files chosen so that meso4-df makes mistakes in both classes (the metrics are not all 1.0).
N_PER_CLASS = 12


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


@pytest.fixture(scope="module")
def train_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "mesonet_df" / "train"


@pytest.fixture()
def small_dataset(tmp_path: Path, train_dir: Path) -> Path:
    """df/ and real/ with N_PER_CLASS crops each, named <video>_<frame>.jpg: 3 videos per class."""
    root = tmp_path / "faces"
    for folder in ("df", "real"):
        sources = sorted((train_dir / folder).glob("*.jpg"))[::97][:N_PER_CLASS]
        for i, source in enumerate(sources):
            _link(source, root / folder / f"{folder}clip{i // 4}_{i % 4:04d}.jpg")
    return root


def test_scores_equal_the_single_image_path_and_metrics_equal_sklearn(small_dataset, classifier):
    meso4 = classifier("meso4-df")
    progress = []
    result = evaluate_dataset(
        small_dataset, meso4, batch_size=5, workers=2, progress=lambda done, total: progress.append((done, total))
    )

    paths = [Path(item.path) for item in result.items]
    assert len(paths) == 2 * N_PER_CLASS and not result.skipped
    expected = meso4.score_real([load_image(p) for p in paths])
    np.testing.assert_allclose([item.score_real for item in result.items], expected, atol=1e-5)
    assert progress[0] == (0, 2 * N_PER_CLASS) and progress[-1] == (2 * N_PER_CLASS, 2 * N_PER_CLASS)

    forged = np.array([p.parent.name == "df" for p in paths])
    p_fake = 1.0 - expected
    called_forged = p_fake >= 0.5
    m = result.metrics
    assert m.n_forged == m.n_real == N_PER_CLASS
    assert m.accuracy_forged == pytest.approx(called_forged[forged].mean())
    assert m.accuracy_real == pytest.approx((~called_forged[~forged]).mean())
    assert m.accuracy_total == pytest.approx((called_forged == forged).mean())
    assert m.roc_auc == pytest.approx(roc_auc_score(forged, p_fake), abs=1e-6)
    assert m.average_precision == pytest.approx(average_precision_score(forged, p_fake), abs=1e-6)
    assert m.confusion == confusion_matrix(forged, called_forged, labels=[True, False]).tolist()
    assert 0.0 <= m.eer <= 1.0 and 0.0 <= m.best_threshold <= 1.0


def test_per_video_accuracy_with_the_default_pattern(small_dataset, classifier):
    result = evaluate_dataset(small_dataset, classifier("meso4-df"), group_by_video=r"^(?P<video>.+)_(?P<frame>\d+)$")
    assert sorted(v.path for v in result.videos) == [f"{c}/{c}clip{i}" for c in ("df", "real") for i in range(3)]
    for video in result.videos:
        frames = [i for i in result.items if Path(i.path).stem.startswith(video.video + "_")]
        assert video.n_frames == 4
        assert video.p_fake == pytest.approx(np.mean([f.p_fake for f in frames]))
    assert result.video_metrics.n_forged == result.video_metrics.n_real == 3
    assert result.to_dict()["video_metrics"]["accuracy_total"] == result.video_metrics.accuracy_total


def test_unreadable_files_are_listed_and_skipped(small_dataset, classifier):
    (small_dataset / "df" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (small_dataset / "real" / "empty.png").write_bytes(b"")
    (small_dataset / "real" / "notes.txt").write_text("ignored: not an image")
    result = evaluate_dataset(small_dataset, classifier("meso4-df"), batch_size=4)
    assert sorted(Path(p).name for p, _ in result.skipped) == ["broken.jpg", "empty.png"]
    assert all(reason for _, reason in result.skipped)
    assert len(result.items) == 2 * N_PER_CLASS


def test_report_json_and_csv(small_dataset, classifier, tmp_path):
    result = evaluate_dataset(small_dataset, classifier("meso4-df"))
    report = write_report(result, tmp_path / "report.html", worst=3)
    text = report.read_text()
    assert "Plotly.newPlot" in text and "<script src=" not in text  # plotly.js inlined: works offline
    assert "ROC curve" in text and "P(fake) per true class" in text
    assert "data:image/jpeg;base64," in text or "none</div>" in text
    result.write_json(tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text())
    for key in ("accuracy_forged", "accuracy_real", "accuracy_total", "roc_auc", "n_forged", "n_real"):
        assert key in data
    result.write_csv(tmp_path / "out.csv")
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 1 + 2 * N_PER_CLASS


def test_metrics_with_one_class_have_no_ranking_metrics():
    m = compute_metrics([0, 0, 0], [0.1, 0.9, 0.2])
    assert m.accuracy_forged == pytest.approx(2 / 3) and m.accuracy_real is None
    assert m.roc_auc is None and m.eer is None


def test_cli_evaluate_writes_json_csv_and_report(small_dataset, tmp_path, capsys):
    from mesonet.cli.main import main

    out = tmp_path / "out"
    code = main(
        [
            "evaluate",
            str(small_dataset),
            "--model",
            "meso4-df",
            "--group-by-video",
            "--json",
            f"{out}.json",
            "--csv",
            f"{out}.csv",
            "--report",
            f"{out}.html",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "accuracy  forged" in captured.out
    data = json.loads(Path(f"{out}.json").read_text())
    assert data["n_forged"] == data["n_real"] == N_PER_CLASS and data["video_metrics"]["n_forged"] == 3
    assert Path(f"{out}.csv").is_file() and Path(f"{out}.html").is_file()

    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


def test_per_manipulation_metrics_and_calibration_in_json_table_and_report(tmp_path, train_dir, classifier):
    """FaceForensics++-style class folders: each manipulation is scored against all real faces."""
    root = tmp_path / "ffpp_like"
    sources = {folder: sorted((train_dir / folder).glob("*.jpg"))[::151][:8] for folder in ("df", "real")}
    for i, source in enumerate(sources["df"]):
        _link(source, root / ("deepfakes" if i < 4 else "faceswap") / source.name)
    for source in sources["real"]:
        _link(source, root / "real" / source.name)
    result = evaluate_dataset(root, classifier("meso4-df"))

    by_method = result.by_method()
    assert list(by_method) == ["deepfakes", "faceswap"]
    deepfakes = [i for i in result.items if i.class_folder == "deepfakes"]
    real = [i for i in result.items if i.class_folder == "real"]
    expected_auc = roc_auc_score([1] * 4 + [0] * 8, [i.p_fake for i in deepfakes + real])
    assert by_method["deepfakes"].roc_auc == pytest.approx(expected_auc)
    assert (by_method["deepfakes"].n_forged, by_method["deepfakes"].n_real) == (4, 8)

    curve = result.calibration()
    assert curve.counts.sum() == 16 and 0.0 <= curve.ece <= 1.0
    data = result.to_dict()
    assert set(data["by_method"]) == {"deepfakes", "faceswap"} and data["calibration"]["ece"] == pytest.approx(
        curve.ece, abs=1e-6
    )
    table = result.format_table()
    assert "deepfakes against real" in table and "expected calibration error" in table
    html_text = write_report(result, tmp_path / "report.html").read_text()
    assert "Per manipulation" in html_text and "Calibration" in html_text and f"{curve.ece:.4f}" in html_text
