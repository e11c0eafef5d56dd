"""Unpacking a user's ZIP of class folders safely, for the time it is needed.

An upload is untrusted: the archive is checked before anything is written (its total
uncompressed size against `mesonet.config.max_zip_bytes`, its entry count against
`mesonet.config.max_zip_entries`, encryption, and every member's path, which must stay inside
the target folder), then unpacked into a private temporary
folder that is deleted when the `with` block ends, whatever happens inside it. A damaged
archive is refused with a message, whenever the damage shows.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from mesonet import config
from mesonet.data.datasets import LAYOUT_HELP
from mesonet.errors import DatasetError, MesonetError, first_line


def check_zip(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    """Refuses an archive too large to unpack, with too many entries, encrypted, or with a path outside `target`.

    Args:
        archive: the open archive.
        name: what to call it in messages (the uploaded file's name).
        target: the folder it would be unpacked into.

    Raises:
        DatasetError: the archive must not be unpacked; the message says why.
    """
    members = archive.infolist()
    max_entries = config.max_zip_entries()
    if len(members) > max_entries:
        raise DatasetError(
            f"{name} holds {len(members):,} entries; the limit is {max_entries:,}. Use a smaller dataset."
        )
    if any(member.flag_bits & 0x1 for member in members):
        raise DatasetError(f"{name} is encrypted (it needs a password). Zip the dataset again without a password.")
    limit = config.max_zip_bytes()
    total = sum(member.file_size for member in members)
    if total > limit:
        raise DatasetError(
            f"{name} unpacks to {total / 1024**3:.1f} GB; the limit is {limit / 1024**3:.0f} GB. Use a smaller dataset."
        )
    root = target.resolve()
    for member in members:
        if not (root / member.filename).resolve().is_relative_to(root):
            raise DatasetError(f"{name} holds a path outside the archive ({member.filename}); it was refused.")


@contextlib.contextmanager
def unpacked_zip(data: bytes, name: str) -> Iterator[Path]:
    """A ZIP of class folders unpacked into a temporary folder that exists only inside the block.

    Args:
        data: the archive's bytes (e.g. an upload).
        name: what to call it in messages.

    Yields:
        The folder holding the archive's contents.

    Raises:
        DatasetError: not a ZIP file, damaged, or refused by `check_zip`.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise DatasetError(
            f"{name} is not a ZIP file. Zip a folder holding one folder per class: {LAYOUT_HELP}."
        ) from None
    folder = Path(tempfile.mkdtemp(prefix="mesonet-dataset-"))
    try:
        with archive:
            check_zip(archive, name, folder)
            try:
                archive.extractall(folder)
            # zipfile reports damage as any of these (bad CRC, bad compressed data, cut short,
            # unknown compression method); RuntimeError is its "encrypted" error.
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
                raise DatasetError(
                    f"{name} is damaged ({first_line(exc)}). Zip the dataset again and upload the new file."
                ) from None
        try:
            yield folder
        except MesonetError as exc:
            # Messages about the unpacked files name the server's temporary folder: name the archive.
            message = str(exc).replace(str(folder), name)
            if message == str(exc):
                raise
            raise type(exc)(message) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)
