"""mesonet.serving.housekeeping: the temporary folders that killed servers left behind (issue 24, finding 6)."""

from __future__ import annotations

import os
import time

from mesonet import config
from mesonet.data.archives import UNPACKED_PREFIX
from mesonet.serving.housekeeping import sweep_temp_folders
from mesonet.training.job import RUN_FOLDER_PREFIX

DAY_S = 24 * 3600


def _age(folder, seconds: float, *, keep=()) -> None:
    """Sets the modification time of `folder` and everything in it `seconds` back, except the paths in `keep`."""
    then = time.time() - seconds
    for parent, dirs, files in os.walk(folder, topdown=False):
        for name in files + dirs:
            path = os.path.join(parent, name)
            if path not in {str(p) for p in keep}:
                os.utime(path, (then, then), follow_symlinks=False)
    os.utime(folder, (then, then))


def test_leftover_folders_untouched_for_a_day_are_removed(tmp_path, monkeypatch):
    unpacked = tmp_path / f"{UNPACKED_PREFIX}abc123"
    (unpacked / "faces" / "df").mkdir(parents=True)
    (unpacked / "faces" / "df" / "a.jpg").write_bytes(b"x")
    run = tmp_path / f"{RUN_FOLDER_PREFIX}def456"
    run.mkdir()
    (run / "meso4_trained.weights.h5").write_bytes(b"x")
    # Another server's run, still writing its checkpoint: its folder is old, a file inside is not.
    busy = tmp_path / f"{RUN_FOLDER_PREFIX}busy"
    (busy / "meso4_trained.weights.h5.checkpoint").mkdir(parents=True)
    checkpoint = busy / "meso4_trained.weights.h5.checkpoint" / "last.keras"
    checkpoint.write_bytes(b"x")
    young = tmp_path / f"{UNPACKED_PREFIX}young"
    young.mkdir()
    other = tmp_path / "someone-elses-folder"
    other.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / f"{UNPACKED_PREFIX}link"
    link.symlink_to(target)
    for folder in (unpacked, run, busy, other, target):
        _age(folder, 2 * DAY_S, keep=[checkpoint])

    monkeypatch.setenv(config.TEMP_MAX_AGE_H_ENV, "72")
    assert sweep_temp_folders(folder=tmp_path) == []  # younger than three days
    monkeypatch.delenv(config.TEMP_MAX_AGE_H_ENV)
    assert sorted(sweep_temp_folders(folder=tmp_path)) == sorted([unpacked, run])
    assert not unpacked.exists() and not run.exists()
    assert checkpoint.is_file() and young.is_dir() and other.is_dir() and link.is_symlink() and target.is_dir()
