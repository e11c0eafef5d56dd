"""What earlier servers left behind: temporary folders that a killed server could not delete.

An uploaded ZIP is unpacked into a temporary folder for as long as it is used
(`mesonet.data.archives.UNPACKED_PREFIX`) and a training run writes into one
(`mesonet.training.job.RUN_FOLDER_PREFIX`). Both are deleted when done, but not when the server
is killed mid-way, and an unpacked ZIP can take gigabytes. `sweep_temp_folders` removes those
that nothing has changed for `config.temp_max_age_s()`; the app calls it once per server, at
start-up.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from mesonet import config
from mesonet.data.archives import UNPACKED_PREFIX
from mesonet.training.job import RUN_FOLDER_PREFIX

TEMP_FOLDER_PREFIXES = (UNPACKED_PREFIX, RUN_FOLDER_PREFIX)


def sweep_temp_folders(
    *, folder: str | Path | None = None, max_age_s: float | None = None, now: float | None = None
) -> list[Path]:
    """Removes this project's leftover temporary folders in which nothing has changed for `max_age_s`.

    A folder counts as changed when it or anything inside it was modified, so a long training
    run of another server on this machine, which writes its checkpoint every epoch, is kept.
    Only folders of this user are touched; symbolic links are never followed.

    Args:
        folder: where to look; None: the system's temporary folder (`tempfile.gettempdir()`).
        max_age_s: None: `config.temp_max_age_s()` (a day unless MESONET_TEMP_MAX_AGE_H says otherwise).
        now: the current time in seconds since the epoch; None: now.

    Returns:
        The folders removed.
    """
    root = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    oldest = (time.time() if now is None else now) - (config.temp_max_age_s() if max_age_s is None else max_age_s)
    removed = []
    for prefix in TEMP_FOLDER_PREFIXES:
        for path in sorted(root.glob(f"{prefix}*")):
            try:
                info = path.lstat()
                if not path.is_dir() or path.is_symlink() or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
                    continue
                if _changed_since(path, oldest):
                    continue
            except OSError:
                continue  # removed meanwhile
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
    return removed


def _changed_since(folder: Path, oldest: float) -> bool:
    """Whether the folder or anything in it was modified at or after `oldest` (stops at the first such entry)."""
    if folder.lstat().st_mtime >= oldest:
        return True
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            try:
                if os.lstat(os.path.join(parent, name)).st_mtime >= oldest:
                    return True
            except OSError:
                pass
    return False
