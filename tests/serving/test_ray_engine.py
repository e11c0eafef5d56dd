"""`--engine ray` (mesonet.serving.ray_engine) against the local engine: the same scores, file for file.

The tests run Ray for real, on a local instance started once for this module (the CLI test
starts its own, as a user's command does). Ray is an optional extra: without it these tests
skip on a developer's machine, and fail under CI=true, where `make test` installs it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesonet import config
from mesonet.evaluation.evaluator import evaluate_dataset
from tests.helpers import REPO

N_PER_CLASS = 40
# Two batches and a bit per class at batch size 32: whole and partial chunks, and a broken file inside one.
BATCH_SIZE = 32


def _ray():
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            raise  # CI installs requirements-ray.txt: a missing Ray is a failure there, never a skip
        pytest.skip("Ray is not installed: pip install -r requirements-ray.txt")
    return ray


def _env() -> dict[str, str]:
    """This checkout first on PYTHONPATH, so that Ray's worker processes import the same mesonet."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _without_timings(record: dict) -> dict:
    return {key: value for key, value in record.items() if key not in ("timings_s", "engine")}


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance for the module; its workers inherit PYTHONPATH, hence this checkout."""
    ray = _ray()
    from mesonet.serving.ray_engine import ray_cluster

    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = _env()["PYTHONPATH"]
    try:
        with ray_cluster() as connection:
            yield connection
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous
        assert not ray.is_initialized()


@pytest.fixture()
def crops_and_videos(tmp_path: Path, shared_dir: Path) -> Path:
    """N_PER_CLASS crops per class named <video>_<frame>.jpg, a broken image, and one video per class."""
    train = shared_dir / "data" / "mesonet_df" / "train"
    videos = shared_dir / "data" / "videos"
    root = tmp_path / "dataset"
    for folder in ("df", "real"):
        (root / folder).mkdir(parents=True)
        for i, source in enumerate(sorted((train / folder).glob("*.jpg"))[::61][:N_PER_CLASS]):
            (root / folder / f"{folder}clip{i // 8}_{i % 8:04d}.jpg").symlink_to(source)
    (root / "df" / "dfclip9_0000.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "df" / "deepfake.mp4").symlink_to(videos / "deepfakes" / "ff_c40_183_253.mp4")
    (root / "real" / "youtube.mp4").symlink_to(videos / "real" / "ff_youtube_183.mp4")
    return root


def test_without_ray_the_engine_says_how_to_install_it(tiny_dataset):
    # A None entry in sys.modules makes `import ray` raise ImportError, as on a machine without the extra.
    code = "import sys\nsys.modules['ray'] = None\nfrom mesonet.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    for command in (["evaluate", str(tiny_dataset)], ["detect", str(tiny_dataset / "real")]):
        result = subprocess.run(
            [sys.executable, "-c", code, *command, "--engine", "ray"],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("mesonet: error: --engine ray needs Ray, which is not installed")
        assert 'pip install "mesonet-studio[ray]"' in result.stderr
        assert "pip install -r requirements-ray.txt" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_address_where_nothing_answers_is_one_line_at_once(tiny_dataset):
    _ray()
    address = f"127.0.0.1:{_free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "mesonet", "evaluate", str(tiny_dataset), "--engine", "ray", "--address", address],
        capture_output=True,
        text=True,
        timeout=120,  # Ray alone would retry for many minutes
        env=_env(),
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"mesonet: error: Nothing answers at the Ray address {address}"), result.stderr
    assert "ray start --head" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_on_a_cluster_started_with_ray_start(tiny_dataset, tmp_path, classifier):
    """The README's cluster recipe on one machine: `ray start --head`, token authentication, --address."""
    _ray()
    port = _free_port()
    env = {**_env(), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
    ray_cli = Path(sys.executable).parent / "ray"
    head_command = [str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=2"]
    head_command += ["--include-dashboard=false", "--disable-usage-stats"]
    with open(tmp_path / "head.log", "w") as log:
        # --block keeps `ray start` in the foreground; SIGTERM then stops every process it started.
        head = subprocess.Popen(head_command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while subprocess.run(
            [str(ray_cli), "status", f"--address=127.0.0.1:{port}"], env=env, capture_output=True
        ).returncode:
            assert head.poll() is None and time.monotonic() < deadline, (tmp_path / "head.log").read_text()
            time.sleep(2)
        out = tmp_path / "metrics.json"
        result = subprocess.run(
            [sys.executable, "-m", "mesonet", "evaluate", str(tiny_dataset), "--engine", "ray"]
            + ["--address", f"127.0.0.1:{port}", "--json", str(out)],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert result.returncode == 0, result.stderr
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
    on_cluster = json.loads(out.read_text())
    local = json.loads(json.dumps(evaluate_dataset(tiny_dataset, classifier("meso4-df")).to_dict()))
    assert on_cluster["engine"] == "ray" and on_cluster["n_forged"] == on_cluster["n_real"] == 8
    assert _without_timings(on_cluster) == _without_timings(local)


def test_detect_folder_on_ray_gives_the_local_engine_results(tmp_path, shared_dir):
    """The command a user types: its own local Ray instance, a folder of videos and a photo."""
    _ray()
    folder = tmp_path / "clips"
    (folder / "nested").mkdir(parents=True)
    (folder / "fake.mp4").symlink_to(shared_dir / "data" / "videos" / "deepfakes" / "ff_c40_183_253.mp4")
    (folder / "nested" / "real.mp4").symlink_to(shared_dir / "data" / "videos" / "real" / "short_hamilton_clip.mp4")
    (folder / "obama.jpg").symlink_to(shared_dir / "data" / "photos" / "obama.jpg")
    (folder / "notes.txt").write_text("not media: left out of the folder's files\n")
    (folder / ".hidden.mp4").write_bytes(b"left out: hidden")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.json"
        result = subprocess.run(
            [sys.executable, "-m", "mesonet", "detect", str(folder), "--frames", "6", "--engine", engine]
            + ["--model", "meso4-df,meso4-f2f", "--json", str(out), "--jobs", "2"],
            capture_output=True,
            text=True,
            timeout=600,
            env=_env(),
        )
        assert result.returncode == 2, result.stderr  # broken.mp4 is refused, the rest is analysed
        assert [line for line in result.stderr.splitlines() if line.startswith("mesonet: error:")] == [
            line for line in result.stderr.splitlines() if "broken.mp4" in line
        ], result.stderr
        outputs[engine] = json.loads(out.read_text())
    local, ray = outputs["local"], outputs["ray"]
    assert [r["path"] for r in ray] == [
        str(folder / "fake.mp4"),
        str(folder / "nested" / "real.mp4"),
        str(folder / "obama.jpg"),
    ]
    assert [r["model"] for r in ray] == ["meso4-df+meso4-f2f"] * 3
    assert all(r["frames_with_face"] > 0 for r in ray)
    assert [_without_timings(r) for r in ray] == [_without_timings(r) for r in local]


def test_evaluate_on_ray_gives_the_local_engine_scores_and_metrics(crops_and_videos, classifier, cluster):
    from mesonet.serving.ray_engine import evaluate_on_ray
    from mesonet.serving.ray_stages import ScorerSpec

    meso4 = classifier("meso4-df")
    pattern = r"^(?P<video>.+clip\d+)_(?P<frame>\d+)$"
    local = evaluate_dataset(crops_and_videos, meso4, batch_size=BATCH_SIZE, group_by_video=pattern)
    progress = []
    ray = evaluate_on_ray(
        crops_and_videos,
        ScorerSpec("meso4-df"),
        model_name=meso4.name,
        threshold=0.5,
        cluster=cluster,
        batch_size=BATCH_SIZE,
        group_by_video=pattern,
        progress=lambda done, total: progress.append((done, total)),
    )

    n_files = 2 * N_PER_CLASS + 3
    assert len(ray.items) == 2 * N_PER_CLASS and len(ray.videos) == 2 + 2 * 5
    assert progress[0] == (0, n_files) and progress[-1] == (n_files, n_files)
    # Same files, same order, and the same scores bit for bit: the same batches through the same model.
    assert [(i.path, i.kind, i.label, i.score_real) for i in ray.items] == [
        (i.path, i.kind, i.label, i.score_real) for i in local.items
    ]
    assert [(v.path, v.kind, v.score_real, v.n_frames) for v in ray.videos] == [
        (v.path, v.kind, v.score_real, v.n_frames) for v in local.videos
    ]
    assert ray.skipped == local.skipped and len(ray.skipped) == 1 and "dfclip9_0000.jpg" in ray.skipped[0][0]
    assert 0 < ray.metrics.accuracy_total < 1 and ray.video_metrics.n_forged == 6
    assert _without_timings(ray.to_dict()) == _without_timings(local.to_dict())
    assert ray.rows() == local.rows()
    assert ray.engine == "ray" and ray.timings_s["ray_start"] == pytest.approx(cluster.start_s, abs=1e-3)


def test_evaluate_with_face_detection_and_an_ensemble_on_ray(tmp_path, shared_dir, cluster):
    from mesonet.models.ensemble import load_scorer
    from mesonet.serving.ray_engine import evaluate_on_ray
    from mesonet.serving.ray_stages import ScorerSpec

    photos = shared_dir / "data" / "photos"
    root = tmp_path / "photos"
    for folder, names in (("fake", ("obama.jpg", "two_people.jpg")), ("real", ("biden.jpg", "lin-manuel-miranda.png"))):
        (root / folder).mkdir(parents=True)
        for name in names:
            (root / folder / name).symlink_to(photos / name)
    ensemble = load_scorer("meso4-df,meso4-f2f")  # its members come from the session's cache
    local = evaluate_dataset(root, ensemble, faces="detect")
    ray = evaluate_on_ray(
        root, ScorerSpec("meso4-df,meso4-f2f"), model_name=ensemble.name, threshold=0.5, cluster=cluster, faces="detect"
    )
    assert len(ray.items) == 4 and not ray.skipped
    assert [(i.path, i.score_real) for i in ray.items] == [(i.path, i.score_real) for i in local.items]
    assert _without_timings(ray.to_dict()) == _without_timings(local.to_dict())


def test_ray_workers_import_this_checkout(cluster):
    ray = _ray()

    @ray.remote
    def where() -> str:
        import mesonet

        return mesonet.__file__

    assert Path(ray.get(where.remote())).resolve() == (REPO / "mesonet" / "__init__.py").resolve()


def test_the_ray_address_comes_from_the_option_then_from_ray_address(monkeypatch):
    monkeypatch.delenv(config.RAY_ADDRESS_ENV, raising=False)
    assert config.ray_address() is None
    monkeypatch.setenv(config.RAY_ADDRESS_ENV, "10.1.2.3:6379")
    assert config.ray_address() == "10.1.2.3:6379"


def is_loopback(ip: str) -> bool:
    """Loopback, IPv4-mapped IPv6 included (::ffff:127.0.0.1; Python 3.11 calls that one not loopback)."""
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def test_the_local_instance_listens_on_this_machine_only(cluster):
    """Issue 24, finding 7: the local instance listened on every interface (its node took the machine's
    outward address, and its agents bound 0.0.0.0), and its token was readable by every user."""
    ray = _ray()
    import psutil  # Ray's own copy (ray/thirdparty_files), importable once Ray is

    assert is_loopback(ray.util.get_node_ip_address())
    gcs_host = ray.get_runtime_context().gcs_address.rsplit(":", 1)[0].strip("[]")
    assert is_loopback(gcs_host)
    ray_processes = {process.pid for process in psutil.Process().children(recursive=True)}
    listening = [
        c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in ray_processes
    ]
    assert listening
    assert [c.laddr for c in listening if not is_loopback(c.laddr.ip)] == []
    token = Path.home() / ".ray" / "auth_token"
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_the_ray_token_is_written_for_this_user_only(tmp_path, monkeypatch):
    """Ray 2.60 writes ~/.ray/auth_token with the default permissions (0644): whoever reads it may run code."""
    from mesonet.serving.ray_engine import secure_ray_token

    for variable in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(variable, raising=False)
    token = secure_ray_token(home=tmp_path)
    assert token == tmp_path / ".ray" / "auth_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and re.fullmatch("[0-9a-f]{64}", token.read_text())
    written = token.read_text()
    token.chmod(0o644)  # as Ray writes it
    assert secure_ray_token(home=tmp_path) == token
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and token.read_text() == written
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))  # Ray takes the token from there: nothing to do
    assert secure_ray_token(home=tmp_path / "elsewhere") is None and not (tmp_path / "elsewhere").exists()
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert secure_ray_token(home=tmp_path / "elsewhere") is None and not (tmp_path / "elsewhere").exists()
