"""Downloads checked against a SHA-256, shared by the weights and the samples catalogs."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from mesonet.errors import ChecksumError, DownloadError

Progress = Callable[[int, int], None]


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_verified(
    url: str, target: Path, sha256: str, *, progress: Progress | None = None, timeout_s: float = 30.0
) -> Path:
    """Downloads `url` to `target`, keeping it only if its SHA-256 is `sha256`.

    The bytes go to a hidden partial file renamed only once verified, so an interrupted or
    corrupted download never leaves a file that would be used. The partial file's name is
    unique to this download (not to the process): two threads fetching the same file at once
    never write into one partial file.

    Args:
        progress: called with (bytes done, bytes total; 0 when the server does not say).

    Raises:
        DownloadError: the transfer failed. ChecksumError: the bytes are not the published file.
    """
    target = Path(target)
    digest = hashlib.sha256()
    part = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        part = Path(name)
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(64 * 1024):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        if part is not None:
            part.unlink(missing_ok=True)
        raise DownloadError(f"Download of {url} failed ({getattr(exc, 'reason', exc)}).") from None
    if digest.hexdigest() != sha256:
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"Downloaded {target.name} from {url} but its SHA-256 is {digest.hexdigest()[:12]}..., expected "
            f"{sha256[:12]}...: the file is corrupted or truncated and was discarded. Try again."
        )
    part.replace(target)
    return target
