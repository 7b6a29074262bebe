"""Stage 1, fetch: download the whole mismatch report and store its parts, resumably.

Records stream page by page into local files and from there to S3 in checkpointed parts
(:mod:`damdrift.report.ingest.download`): if DX or S3 fails midway, what was downloaded is kept and a
retry resumes after it. A check that errored earlier is fed by what an earlier attempt stored
(salvaged), or by nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from damdrift.dx.client import DxClient
from damdrift.models.summary import IgnoreSummary
from damdrift.observability import logger
from damdrift.report.ingest.download import Download, discard_parts, download_report, salvage
from damdrift.report.ingest.tracker import RecordTracker
from damdrift.report.ingest.upload import upload_report_files
from damdrift.report.records.ignore import load_ignore_rules
from damdrift.report_layout import prefix_for
from damdrift.settings import FetchReportSettings
from damdrift.state import PollPhase, SubscriberTask
from damdrift.store import ReportStore
from damdrift.workdir import new_workdir


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
    workdir = new_workdir(settings.work_dir)
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
