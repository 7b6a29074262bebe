"""Stage 1, fetch: download the whole mismatch report and store its parts, resumably.

Records stream page by page into local files and from there to S3 in checkpointed parts
(:mod:`damdrift.report.ingest`): if DX or S3 fails midway, what was downloaded is kept and a retry resumes
after it. A check that errored earlier is fed by what an earlier attempt stored (salvaged), or by nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from damdrift.dx.client import DxClient
from damdrift.models.summary import IgnoreSummary
from damdrift.observability import logger
from damdrift.report.ignore import load_ignore_rules
from damdrift.report.ingest import Download, discard_parts, download_report, salvage
from damdrift.report.tracker import RecordTracker
from damdrift.report.upload import upload_report_files
from damdrift.report_layout import prefix_for
from damdrift.settings import FetchReportSettings
from damdrift.state import PollPhase, SubscriberTask
from damdrift.store import ReportStore


@dataclass(frozen=True)
class Ingested:
    """What fetch hands on. ``download`` None: nothing was downloaded (the check errored before).
    A download made now comes with its record keys (``tracker``) and ``workdir`` to compare, and is
    stored by analyse; a salvaged one was ``stored`` already, under these keys."""

    prefix: str
    download: Download | None = None
    tracker: RecordTracker | None = None
    workdir: Path | None = None
    ignored: dict[str, dict[str, int]] = field(default_factory=dict)
    ignore_rules: IgnoreSummary | None = None
    stored: Mapping[str, str] = field(default_factory=dict)


@contextmanager
def ingested(
    client: DxClient | None,
    task: SubscriberTask,
    settings: FetchReportSettings,
    store: ReportStore,
    now: datetime,
) -> Iterator[Ingested]:
    """This check's report: downloaded with ``client``; without one (the check errored earlier) the
    parts an earlier attempt stored, if the download had begun. The work directory lives for the
    ``with``; the parts are discarded when the ``with`` ends well, once the check is filed."""
    check, subscriber_id = task.check, task.subscriber.subscriber_id
    prefix = prefix_for(check.publisher_id, subscriber_id, check.started_at, task.report_run)
    workdir = workdir_for(settings)
    ingest = Ingested(prefix)
    try:
        if client is not None:
            rules = load_ignore_rules(store, settings, check.publisher_id, subscriber_id, now)
            tracker = RecordTracker(rules.matcher, spill_dir=workdir / "keys")
            download = download_report(
                lambda offset, first: client.iter_mismatches(
                    subscriber_id, start_offset=offset, known_first=first
                ),
                store,
                prefix,
                workdir,
                settings.report_part_records,
                observer=tracker.observe,
                max_records=settings.report_max_records,
            )
            if download.resumed_at:  # parts stored by an earlier attempt were not seen while writing
                tracker = RecordTracker.from_records_file(
                    download.files.records_path, rules.matcher, spill_dir=workdir / "keys-resumed"
                )
            ignored, ignore_rules = tracker.ignored_counts(), rules.summary_with(tracker)
            ingest = Ingested(prefix, download, tracker, workdir, ignored, ignore_rules)
        elif task.poll is not None and task.poll.phase is PollPhase.COMPLETED:  # the download had begun
            salvaged = salvage(store, prefix, workdir)
            if salvaged is not None:
                stored = upload_report_files(store, prefix, salvaged.files)
                logger.warning(
                    "the download failed; its stored parts are the report",
                    extra={"records": salvaged.files.total},
                )
                ingest = Ingested(prefix, salvaged, stored=stored)
        yield ingest
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if ingest.download is not None:
        discard_parts(store, prefix, ingest.download.checkpoint)


def workdir_for(settings: FetchReportSettings) -> Path:
    """A new empty directory of this invocation's own, never named after DX text (a subscriber id of
    ``/some/dir`` or ``../..`` would otherwise name a directory to delete); the caller removes it.

    Named after this process, so that the first call after a cold start can remove what a killed one
    left (:class:`ColdStart`)."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    _COLD_START.sweep(settings.work_dir)
    return Path(tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-", dir=settings.work_dir))


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
    made its directory later; another live process's (a developer's machine) is left alone.
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
        for entry in os.scandir(work_dir):
            found = _WORKDIR_NAME.fullmatch(entry.name)
            if found is None or not entry.is_dir(follow_symlinks=False):
                continue
            pid = int(found.group(1))
            if pid == os.getpid():
                orphaned = entry.stat(follow_symlinks=False).st_mtime < self._started
            else:
                orphaned = not _running(pid)
            if orphaned:
                logger.warning(
                    "removing the work directory a killed fetch left", extra={"directory": entry.name}
                )
                shutil.rmtree(entry.path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


_COLD_START = ColdStart()
