"""Unpacking a user's ZIP of class folders safely, for the time it is needed.

An upload is untrusted: the archive is checked before anything is written (its total
uncompressed size against `mesonet.config.max_zip_bytes`, its unpack ratio against
`mesonet.config.max_zip_ratio`, its entry count against `mesonet.config.max_zip_entries`, its
folder depth against `mesonet.config.max_zip_depth`, encryption, and every member's path, which
must stay inside the target folder), then unpacked into a private temporary folder (named
`UNPACKED_PREFIX`...) that is deleted when the `with` block ends, whatever happens inside it. A
damaged archive is refused with a message, whenever the damage shows.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mesonet import config
from mesonet.data.datasets import LAYOUT_HELP
from mesonet.errors import DatasetError, MesonetError, first_line

# The temporary folders archives are unpacked into; a server that was killed may leave some behind
# (`mesonet.serving.housekeeping` removes them).
UNPACKED_PREFIX = "mesonet-dataset-"
# Archives unpacking to less than this are never refused for their ratio (a few small text files compress well).
RATIO_FLOOR_BYTES = 1024**2


def check_zip(archive: zipfile.ZipFile, name: str, target: Path, *, archive_bytes: int | None = None) -> None:
    """Refuses an archive too large to unpack, too compressed, with too many entries, nested too
    deep, encrypted, or with a path outside `target`.

    Args:
        archive: the open archive.
        name: what to call it in messages (the uploaded file's name).
        target: the folder it would be unpacked into.
        archive_bytes: the archive's own size, for its unpack ratio; None: the sum of its
            members' compressed sizes (which members sharing their data would understate).

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
    packed = archive_bytes if archive_bytes is not None else sum(member.compress_size for member in members)
    max_ratio = config.max_zip_ratio()
    if total > RATIO_FLOOR_BYTES and total > max_ratio * max(packed, 1):
        raise DatasetError(
            f"{name} unpacks to {total / max(packed, 1):,.0f} times its size; the limit is {max_ratio:g} times "
            "(images hardly compress). Zip the dataset's images as they are."
        )
    max_depth = config.max_zip_depth()
    for member in members:
        depth = len(PurePosixPath(member.filename).parts) - (0 if member.is_dir() else 1)
        if depth > max_depth:
            raise DatasetError(
                f"{name} nests folders {depth} levels deep; the limit is {max_depth}. Zip the class folders "
                "with fewer levels above them."
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
    folder = Path(tempfile.mkdtemp(prefix=UNPACKED_PREFIX))
    try:
        with archive:
            check_zip(archive, name, folder, archive_bytes=len(data))
            try:
                archive.extractall(folder)
            # zipfile reports damage as any of these (bad CRC, bad compressed data, cut short,
            # unknown compression method); RuntimeError is its "encrypted" error.
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
                raise DatasetError(
                    f"{name} is damaged ({first_line(exc)}). Zip the dataset again and upload the new file."
                ) from None
            except OSError as exc:  # a name too long for this file system, or the server's disk is full
                raise DatasetError(
                    f"{name} could not be unpacked on the server ({exc.strerror or first_line(exc)}). Zip the "
                    "dataset again with shorter names, or try again later."
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
