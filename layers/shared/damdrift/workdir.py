"""A fetch's work directory under the function's ``WORK_DIR``, and the removal of those killed fetches left.

Its own module because it is the one place that deletes local files: its rules (never a name DX chose,
never a directory a running fetch owns) are easier to check here than inside the fetch stage.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from damdrift.observability import logger


def new_workdir(work_dir: Path) -> Path:
    """A new empty directory of this invocation's own, never named after DX text (a subscriber id of
    ``/some/dir`` or ``../..`` would otherwise name a directory to delete); the caller removes it.

    Named after this process, so that the first call after a cold start can remove what a killed one
    left (:class:`ColdStart`)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    _COLD_START.sweep(work_dir)
    return Path(tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-", dir=work_dir))


_WORKDIR_PREFIX = "dam-drift-fetch-"
_WORKDIR_NAME = re.compile(rf"{_WORKDIR_PREFIX}(\d+)-[A-Za-z0-9_]+")


class ColdStart:
    """Removes, once per process, the work directories no running fetch can own.

    Why: a fetch killed midway (Lambda's timeout, or out of memory) never reaches its ``finally``, and
    Lambda keeps ``/tmp`` when it resets the execution environment: the next invocation there would
    download beside up to a whole report's leftovers. Lambda runs one invocation per environment at a
    time, in a new process after a reset, so a directory is orphaned when its process is gone, or
    carries this process's id (a new runtime may get the killed one's) but was last changed before this
    process loaded this module. A check running beside this one in the same process (the local runner)
    made its directory later; another live process's (a developer's machine) is left alone, and so is
    another user's (a shared ``/tmp``), whose process this one cannot judge.
    """

    def __init__(self, started: float | None = None) -> None:
        self._started = time.time() if started is None else started
        self._lock = threading.Lock()
        self._done = False

    def sweep(self, work_dir: Path) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        with os.scandir(work_dir) as entries:
            for entry in entries:
                found = _WORKDIR_NAME.fullmatch(entry.name)
                try:
                    orphaned = found is not None and self._orphaned(entry, int(found.group(1)))
                except (OSError, OverflowError):  # gone meanwhile (a sibling check ended), or no pid
                    continue
                if orphaned:
                    logger.warning(
                        "removing the work directory a killed fetch left", extra={"directory": entry.name}
                    )
                    shutil.rmtree(entry.path, ignore_errors=True)

    def _orphaned(self, entry: os.DirEntry[str], pid: int) -> bool:
        if not entry.is_dir(follow_symlinks=False):
            return False
        status = entry.stat(follow_symlinks=False)
        if status.st_uid != os.getuid():  # another user's (a shared /tmp): never ours to judge
            return False
        if pid == os.getpid():
            return status.st_mtime < self._started
        return not _running(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


_COLD_START = ColdStart()
