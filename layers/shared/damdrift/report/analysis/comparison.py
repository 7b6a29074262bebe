"""The check compared with the previous usable one (:func:`previous_usable`: ``latest.json``'s
``lastGood``, or the newest usable summary listed) by :mod:`damdrift.report.analysis.diff`, and what that
leaves in the check's folder: ``record-keys.bin`` for the next run, ``diff.json``, ``new.jsonl.gz``,
``resolved.jsonl.gz`` and each record's drift age (``record-age.bin``).

Reading the previous check may fail (it expired, it is from an older release, S3 hiccuped): the check
then says "not compared" and goes on — the comparison is an extra, the report is what must be stored.
Writes that fail still raise.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Literal

from damdrift.errors import ReportStorageError
from damdrift.models.summary import Changes, CheckStatus, Summary
from damdrift.observability import logger
from damdrift.report.analysis.diff import (
    DIFF_FILENAME,
    NEW_FILENAME,
    RESOLVED_FILENAME,
    AgedRecord,
    PreviousRun,
    RunDiff,
    compare,
    diff_document,
)
from damdrift.report.analysis.record_age import (
    AGE_FILENAME,
    RecordAgeError,
    RecordAges,
    carry_forward,
    oldest,
    since_datetime,
)
from damdrift.report.ingest.tracker import RecordTracker
from damdrift.report.ingest.upload import RECORDS_CONTENT_TYPE
from damdrift.report.ingest.writer import RECORDS_FILENAME, ReportFiles
from damdrift.report.records.fields import field_value, record_action, record_type
from damdrift.report.records.gzlines import pick_lines
from damdrift.report.records.keyset import (
    KEYS_FILENAME,
    KeyFile,
    KeyFileError,
    KeySource,
    SortedKeys,
    write_sorted,
)
from damdrift.report_history import History, get_summary
from damdrift.store import ReportStore

KEYS_CONTENT_TYPE = "application/octet-stream"


def previous_usable(store: ReportStore, history: History, execution: str) -> tuple[str, Summary] | None:
    """The check to compare with: ``latest.json``'s ``lastGood``, else the newest usable summary listed
    (ERRORED and partial checks are skipped; so is ``execution`` itself, a retried step)."""
    pointer = history.last_good
    if pointer is not None and pointer.execution != execution and pointer.summary_key:
        try:
            summary = get_summary(store, pointer.summary_key)
            if _usable(summary):
                return pointer.summary_key, summary
        except ReportStorageError as exc:
            logger.warning("the last good check could not be read", extra={"error": exc.message})
    for key, summary in history.summaries:
        if _usable(summary) and summary.execution != execution:
            return key, summary
    return None


def _usable(summary: Summary) -> bool:
    return summary.status is not CheckStatus.ERRORED and not summary.partial


@dataclass
class Comparison:
    changes: Changes
    diff: RunDiff | None = None
    #: Keys of the stored objects: keys, diff, new, resolved (as ReportKeys names them).
    stored: dict[str, str] = field(default_factory=dict)


def compare_with_previous(
    store: ReportStore,
    execution: str,
    status: CheckStatus,
    tracker: RecordTracker,
    files: ReportFiles,
    prefix: str,
    workdir: Path,
    previous: tuple[str, Summary] | None,
    *,
    started: datetime | None = None,
) -> Comparison:
    """Stores this check's ``record-keys.bin``, diffs it against ``previous``, stores the diff (and, given
    when the check ``started``, each record's drift age: ``record-age.bin`` and the longest-drifting).

    Both runs' keys are read from files in ``workdir`` a block at a time, so the comparison's memory does
    not grow with the report.
    """
    keys_path = workdir / KEYS_FILENAME
    current = write_sorted(tracker.collector, keys_path)
    stored = {
        "keys": store.put_file(prefix + KEYS_FILENAME, keys_path, KEYS_CONTENT_TYPE, check_prefix=prefix)
    }
    try:
        diff = _diff(store, execution, current, tracker, files, workdir, previous)
    except Exception as exc:  # whatever it is: the comparison is an extra, the report must be stored
        logger.exception("the comparison with the previous check failed")
        reason = f"{type(exc).__name__}: {exc}"[:500]
        return Comparison(Changes(error=reason), None, stored)

    for name, local, filename in (
        ("new", diff.new_file, NEW_FILENAME),
        ("resolved", diff.resolved_file, RESOLVED_FILENAME),
    ):
        if local is not None:
            stored[name] = store.put_file(
                prefix + filename, Path(local), RECORDS_CONTENT_TYPE, check_prefix=prefix
            )
    diff.new_file, diff.resolved_file = stored.get("new"), stored.get("resolved")
    if started is not None:
        ages = _record_ages(store, current, previous, workdir, started)
        if ages is not None:
            ages.write(workdir / AGE_FILENAME)
            stored["ages"] = store.put_file(
                prefix + AGE_FILENAME, workdir / AGE_FILENAME, KEYS_CONTENT_TYPE, check_prefix=prefix
            )
            diff.oldest = _oldest(ages, current, files.records_path, tracker)
    stored["diff"] = prefix + DIFF_FILENAME
    store.put_document(stored["diff"], diff_document(diff), check_prefix=prefix)
    before = diff.previous  # the summary's view of the diff
    changes = Changes(
        previous_execution=before.execution if before else None,
        previous_summary_key=before.summary_key if before else None,
        previous_status=before.status if before else None,
        previous_finished_at=before.finished_at if before else None,
        new=diff.new.total,
        resolved=diff.resolved.total,
        unchanged=diff.unchanged.total,
        new_ignored=diff.new.ignored,
        resolved_ignored=diff.resolved.ignored,
        unchanged_ignored=diff.unchanged.ignored,
        status_changed=before is not None and before.status is not status,
    )
    return Comparison(changes, diff, stored)


def _diff(
    store: ReportStore,
    execution: str,
    current: KeySource,
    tracker: RecordTracker,
    files: ReportFiles,
    workdir: Path,
    previous: tuple[str, Summary] | None,
) -> RunDiff:
    previous_run: PreviousRun | None = None
    previous_keys: KeySource | None = None
    source: Literal["record-keys", "records"] | None = None
    if previous is not None:
        key, summary = previous
        prev_prefix = key.rsplit("/", 1)[0] + "/"
        records_key = (summary.files.records if summary.files else None) or prev_prefix + RECORDS_FILENAME
        previous_run = PreviousRun(
            execution=summary.execution,
            summary_key=key,
            status=summary.status,
            finished_at=summary.finished_at,
            total=summary.total,
        )
        keys_key = (summary.files.keys if summary.files else None) or prev_prefix + KEYS_FILENAME
        local_keys = workdir / f"previous-{KEYS_FILENAME}"
        if store.download(keys_key, local_keys):
            previous_keys, source = KeyFile.open(local_keys), "record-keys"
        else:  # a check stored before record-keys.bin existed: key its records instead
            with contextlib.closing(store.open_object(records_key)) as stream:
                previous_keys, source = SortedKeys.from_records_gz(stream), "records"

        def previous_records() -> IO[bytes]:
            return store.open_object(records_key)

    diff = compare(
        execution,
        current,
        files.records_path,
        previous=previous_run,
        previous_keys=previous_keys,
        previous_records=previous_records if previous is not None else None,
        ignore=tracker.ignore,
        current_ignored=tracker.ignored,
        out_dir=workdir / "diff",
    )
    diff.previous_keys = source
    return diff


def _record_ages(
    store: ReportStore,
    current: KeyFile,
    previous: tuple[str, Summary] | None,
    workdir: Path,
    started: datetime,
) -> RecordAges | None:
    """Carried forward from the previous check's record-age.bin and record-keys.bin (which the diff
    downloaded); bridged when it has no ages; None, logged, if they cannot be read: ages are an extra."""
    try:
        previous_keys: KeyFile | None = None
        before: RecordAges | None = None
        keys_path = workdir / f"previous-{KEYS_FILENAME}"
        if previous is not None and keys_path.is_file():
            key, summary = previous
            previous_keys = KeyFile.open(keys_path)
            local = workdir / f"previous-{AGE_FILENAME}"
            ages_key = (summary.files.ages if summary.files else None) or key.rsplit("/", 1)[
                0
            ] + "/" + AGE_FILENAME
            if store.download(ages_key, local):
                before = RecordAges.read(local)
            else:
                before = RecordAges.starting(len(previous_keys), summary.started_at or started)
        return carry_forward(current, previous_keys, before, started)
    except (ReportStorageError, RecordAgeError, KeyFileError, OSError) as exc:
        logger.warning("record drift ages not computed", extra={"error": str(exc)[:300]})
        return None


def _oldest(ages: RecordAges, keys: KeyFile, records: Path, tracker: RecordTracker) -> list[AgedRecord]:
    """The longest-drifting records, read from this check's records file by line number."""
    chosen = oldest(ages, keys)
    by_line = {line: (since, streak) for line, since, streak in chosen}
    found: list[AgedRecord] = []
    with open(records, "rb") as stream:
        wanted = sorted(by_line)
        for batch in pick_lines(stream, wanted):
            for raw in batch:
                line = wanted[len(found)]
                record = json.loads(raw)
                since, streak = by_line[line]
                rtype, action = record_type(record), record_action(record)
                record_id = field_value(record, "recordId")
                rule = tracker.ignore.match(rtype, action, record_id) if tracker.ignore else None
                found.append(
                    AgedRecord(
                        record_type=rtype,
                        record_action=action,
                        record_id=record_id,
                        ignored_by=rule,
                        since=since_datetime(since),
                        checks=streak,
                    )
                )
    return sorted(found, key=lambda r: (-r.checks, r.since))
