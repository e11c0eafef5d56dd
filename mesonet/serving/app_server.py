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
    """Whether the app at `url` answers its health check (a self-signed certificate is accepted)."""
    import ssl

    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2, context=context) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def streamlit_command(address: str, port: int, tls: tuple[Path, Path] | None = None) -> list[str]:
    """`streamlit run streamlit_app.py` on `address`:`port` (with faulthandler, so a crash in native
    code prints every thread's stack), over HTTPS with `tls` = (certificate, key) when given."""
    command = [
        sys.executable,
        "-X",
        "faulthandler",
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    if tls is not None:
        command += ["--server.sslCertFile", str(tls[0]), "--server.sslKeyFile", str(tls[1])]
    return command


def start_streamlit(
    log_path: Path,
    *,
    timeout_s: float = 60.0,
    env: dict[str, str] | None = None,
    address: str = "127.0.0.1",
    port: int | None = None,
    tls: tuple[Path, Path] | None = None,
) -> tuple[subprocess.Popen, str, float]:
    """Runs the app (`streamlit_command`) as a child process and waits until it answers.

    Args:
        log_path: where the server's output goes.
        timeout_s: how long the server may take to answer its health check.
        env: variables added to this process's environment for the server.
        address: the interface to listen on ("0.0.0.0" for every one).
        port: the port; a free one when None.
        tls: (certificate, key) PEM files to serve HTTPS with.

    Returns:
        (process, URL on this machine, seconds until /_stcore/health answered ok).

    Raises:
        RuntimeError: the server died or did not become healthy in time; the message ends
            with its output.
    """
    port = port or free_port()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            streamlit_command(address, port, tls),
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
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
