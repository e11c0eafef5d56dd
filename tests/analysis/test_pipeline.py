"""From photos and videos to per-frame scores and verdicts (mesonet.analysis.pipeline)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PIL import Image

from mesonet.analysis.pipeline import analyze_media, extract_faces_from_media, score_extraction
from mesonet.errors import CancelledError, MediaError
from mesonet.media.video import FrameSampling
from mesonet.verdict import summarize


@pytest.fixture(scope="session")
def deepfake_clip(shared_dir):
    return shared_dir / "data" / "videos" / "deepfakes" / "ff_c40_183_253.mp4"


@pytest.fixture(scope="session")
def deepfake_extraction(deepfake_clip):
    """30 evenly spaced frames of the Deepfakes clip, extracted once for the session."""
    return extract_faces_from_media(deepfake_clip, preview_side=320)


def test_summarize_mean_median_vote_and_verdict():
    summary = summarize([0.1, 0.2, 0.9, 0.95], frames_sampled=5)
    assert summary.p_fake_mean == pytest.approx(0.5375)
    assert summary.p_fake_median == pytest.approx(0.55)
    assert summary.vote_fake == pytest.approx(0.5)
    assert summary.verdict == "uncertain"  # 0.5375 is within 0.05 of the threshold
    assert summarize([0.1, 0.2, 0.9, 0.95], frames_sampled=5, threshold=0.45).verdict == "fake"
    assert (summary.frames_with_face, summary.frames_without_face) == (4, 1)
    assert summarize([0.1, 0.2, 0.9, 0.95], frames_sampled=4, threshold=0.6).verdict == "real"
    # The authors' vote: fake when at least half of the frames are.
    assert summarize([0.6, 0.6, 0.0, 0.0, 0.0], frames_sampled=5, aggregate="vote").verdict == "real"
    assert summarize([0.6, 0.6, 0.6, 0.0, 0.0], frames_sampled=5, aggregate="vote").verdict == "fake"


def test_no_face_is_its_own_outcome_not_a_score():
    summary = summarize([], frames_sampled=30)
    assert summary.verdict == "no face" and summary.p_fake_mean is None and summary.frames_without_face == 30


def test_deepfake_clip_frames_faces_and_previews(deepfake_extraction):
    frames = deepfake_extraction.frames
    assert deepfake_extraction.kind == "video" and len(frames) == 30
    assert sum(1 for f in frames if f.faces) == 30
    crops = deepfake_extraction.crops()
    assert len(crops) == 30 and all(crop.shape == (256, 256, 3) and crop.dtype == np.uint8 for crop in crops)
    times = [f.time_s for f in frames]
    assert times == sorted(times) and times[-1] <= deepfake_extraction.info.duration_s
    preview = frames[0].preview()
    assert max(preview.shape[:2]) == 320 and frames[0].frame_size == (1280, 720)


def test_switching_weights_reuses_the_faces(deepfake_extraction, classifier):
    df = score_extraction(deepfake_extraction, classifier("meso4-df"))
    f2f = score_extraction(deepfake_extraction, classifier("meso4-f2f"))
    assert [f.box for f in df.faces] == [f.box for f in f2f.faces]
    assert not np.allclose([f.score_real for f in df.faces], [f.score_real for f in f2f.faces])
    # Scores equal scoring the crops directly.
    direct = classifier("meso4-df").score_real(deepfake_extraction.crops())
    np.testing.assert_allclose([f.score_real for f in df.faces], direct, atol=1e-6)
    assert df.summary.p_fake_mean == pytest.approx(float(np.mean(1 - direct)), abs=1e-6)


def test_result_exports(deepfake_extraction, classifier):
    analysis = score_extraction(deepfake_extraction, classifier("mesoinception4-df"), threshold=0.4)
    data = json.loads(analysis.to_json())
    assert {"path", "model", "verdict", "p_fake", "vote_fake", "frames"} <= set(data)
    assert data["model"] == "mesoinception4-df" and data["threshold"] == 0.4
    frame = data["frames"][0]
    assert {"index", "time_s", "box", "score_real", "p_fake"} <= set(frame)
    assert frame["p_fake"] == pytest.approx(1 - frame["score_real"])
    table = analysis.to_dataframe()
    assert len(table) == 30 and list(table["frame_index"]) == [f["index"] for f in data["frames"]]
    assert analysis.to_csv().splitlines()[0].startswith("frame_index,time_s,face,track_id")
    # Faces are numbered from 1, as the app shows them (issue 21: track_id 0 was "face 1" on screen).
    assert set(table["face"]) == {1} and set(table["track_id"]) == {0}
    assert data["face"] == 1 and data["frames"][0]["faces"][0]["face"] == 1 and data["tracks"]["0"]["face"] == 1


def test_image_without_a_face_gives_the_no_face_outcome(tmp_path, classifier):
    rng = np.random.default_rng(1)
    path = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(path)
    analysis = analyze_media(path, classifier("meso4-df"))
    assert analysis.verdict == "no face" and analysis.faces == []
    data = analysis.to_dict()
    assert data["p_fake"] is None and data["frames"][0]["score_real"] is None and data["frames"][0]["box"] is None


def test_two_people_photo_gives_two_tracks(shared_dir, classifier):
    analysis = analyze_media(shared_dir / "data" / "photos" / "two_people.jpg", classifier("meso4-df"), all_faces=True)
    assert analysis.extraction.kind == "image"
    assert sorted(analysis.tracks) == [0, 1] and len(analysis.faces) == 2
    # Faces are numbered left to right (issue 14): track 0, "face 1", is the leftmost box.
    frame = analysis.extraction.frames[0]
    lefts = dict(zip(frame.track_ids, (face.box[3] for face in frame.faces)))
    assert lefts[0] < lefts[1]
    largest_only = analyze_media(shared_dir / "data" / "photos" / "two_people.jpg", classifier("meso4-df"))
    assert len(largest_only.faces) == 1


def test_progress_and_cancel(deepfake_clip, classifier):
    seen = []
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 3:
            cancel.set()

    with pytest.raises(CancelledError, match="after 3 of 8 frames"):
        extract_faces_from_media(deepfake_clip, sampling=FrameSampling(n_frames=8), progress=progress, cancel=cancel)
    assert seen == [(0, 8), (1, 8), (2, 8), (3, 8)]


def test_bad_file_is_a_media_error(tmp_path, classifier):
    path = tmp_path / "random.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(MediaError):
        analyze_media(path, classifier("meso4-df"))


def test_bad_options_are_refused(deepfake_clip):
    with pytest.raises(ValueError, match="detector"):
        extract_faces_from_media(deepfake_clip, detector="sift")


def test_face_crop_images_score_like_predict(sample_images, classifier):
    from mesonet.analysis.pipeline import extraction_from_face_crop
    from tests.helpers import GOLDEN

    extraction = extraction_from_face_crop(sample_images["real00772"])
    analysis = score_extraction(extraction, classifier("meso4-df"))
    assert analysis.faces[0].score_real == pytest.approx(GOLDEN["meso4-df"]["real00772"], abs=1e-5)
    assert analysis.verdict == "real" and extraction.frames[0].faces[0].box == (0, 208, 208, 0)


def test_largest_face_mode_is_one_track_and_short_tracks_do_not_decide(shared_dir, classifier):
    """Regression: scene cuts split the largest face into tracks and a 3-frame track decided the video."""
    clip = shared_dir / "data" / "videos" / "real" / "short_hamilton_clip.mp4"
    analysis = analyze_media(clip, classifier("meso4-df"))
    assert list(analysis.tracks) == [0]
    assert analysis.summary.frames_with_face == len(analysis.faces) >= 19
    assert analysis.summary.track_id == 0 and analysis.to_dict()["track"] == 0


def test_concurrent_analyses_are_safe_and_independent(shared_dir, classifier):
    """Regression: dlib's shared detector crashed the app server when two sessions detected at once."""
    from concurrent.futures import ThreadPoolExecutor

    clips = [shared_dir / "data" / "videos" / folder / "ff_c40_183_253.mp4" for folder in ("deepfakes", "face2face")]
    clips += [shared_dir / "data" / "videos" / "real" / "ff_youtube_183.mp4"] * 2
    model = classifier("meso4-df")
    sampling = FrameSampling(n_frames=6)
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda clip: analyze_media(clip, model, sampling=sampling), clips))
    for clip, result in zip(clips, together):
        alone = analyze_media(clip, model, sampling=sampling)
        assert [f.box for f in result.faces] == [f.box for f in alone.faces]
        assert result.summary.p_fake_mean == pytest.approx(alone.summary.p_fake_mean, abs=1e-6)
