"""Running the app itself (`streamlit run streamlit_app.py`) as a child process and waiting until it answers.

Used by the browser tests, the app benchmarks and serving from the command line. The core never
imports Streamlit: the app runs in its own process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# The repository (or source tree) holding streamlit_app.py.
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def start_streamlit(
    log_path: Path, *, timeout_s: float = 60.0, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str, float]:
    """Runs `streamlit run streamlit_app.py` on 127.0.0.1 (with faulthandler, so a crash in native
    code prints every thread's stack into the log).

    Args:
        log_path: where the server's output goes.
        timeout_s: how long the server may take to answer its health check.
        env: variables added to this process's environment for the server.

    Returns:
        (process, URL, seconds until /_stcore/health answered ok).

    Raises:
        RuntimeError: the server died or did not become healthy in time; the message ends
            with its output.
    """
    url = f"http://127.0.0.1:{free_port()}"
    command = [
        sys.executable,
        "-X",
        "faulthandler",
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        url.rsplit(":", 1)[1],
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log_path.open("wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
    while not healthy(url):
        if process.poll() is not None or time.perf_counter() - start > timeout_s:
            stop_streamlit(process)
            raise RuntimeError(
                f"streamlit did not become healthy at {url}; its output:\n"
                f"{log_path.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.02)
    return process, url, time.perf_counter() - start


def stop_streamlit(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
