"""The fetch step's second half: what the report means, beyond its records.

* **Ignore rules** from the report bucket (``IGNORE_RULES_KEY``), matched while the report is written.
* **History**: the subscriber's ``latest.json`` and its newest summaries (the HTML report's trend), and
  the *previous usable check* — ``latest.json``'s ``lastGood`` (ERRORED and partial checks are
  skipped), or the newest usable summary when the pointer is missing or is this very execution (a
  retried step).
* **The diff** against it (:mod:`damdrift.report.diff`): ``record-keys.bin`` for the next run,
  ``diff.json``, ``new.jsonl.gz`` and ``resolved.jsonl.gz``. Reading the previous check may fail (it
  expired, it is from an older release, S3 hiccuped): the check then says "not compared" and goes on —
  the comparison is an extra, the report is what must be stored. Writes that fail still raise.
* **The HTML report** and the **links** the notice carries: to it and to the publisher's overview
  through the report viewer (:mod:`damdrift.viewer`), and to its folder in the S3 console.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote, urlencode

from damdrift.errors import ConfigurationError, ReportStorageError
from damdrift.latest_pointer import get_latest
from damdrift.models.summary import Changes, CheckStatus, ExpiredRule, IgnoreSummary, ReportKeys, Summary
from damdrift.observability import logger
from damdrift.report.diff import (
    DIFF_FILENAME,
    NEW_FILENAME,
    RESOLVED_FILENAME,
    AgedRecord,
    PreviousRun,
    RunDiff,
    compare,
    diff_document,
)
from damdrift.report.gzlines import pick_lines
from damdrift.report.html import TrendPoint, render_report
from damdrift.report.ignore import IgnoreMatcher, IgnoreRulesError, load_rules
from damdrift.report.keyset import KEYS_FILENAME, KeyFile, KeyFileError, KeySource, SortedKeys, write_sorted
from damdrift.report.notification import ReportLink
from damdrift.report.record_age import (
    AGE_FILENAME,
    RecordAgeError,
    RecordAges,
    carry_forward,
    oldest,
    since_datetime,
)
from damdrift.report.records import field_value, record_action, record_type
from damdrift.report.tracker import RecordTracker
from damdrift.report.upload import RECORDS_CONTENT_TYPE
from damdrift.report.writer import CSV_FILENAME, RECORDS_FILENAME, ReportFiles
from damdrift.report_history import get_summary, newest_summary_keys
from damdrift.report_layout import HTML_FILENAME, SUMMARY_FILENAME
from damdrift.report_page import HTML_CONTENT_TYPE
from damdrift.settings import NoticeSettings, ReportSettings
from damdrift.store import ReportStore
from damdrift.viewer import links
from damdrift.viewer.keys import link_key, viewer_url

KEYS_CONTENT_TYPE = "application/octet-stream"
_EXPIRED_SHOWN = 50


# -- ignore rules ------------------------------------------------------------------------------------------


@dataclass
class IgnoreSetup:
    """The check's ignore rules, ready to match, and what the summary says about them."""

    matcher: IgnoreMatcher | None = None
    summary: IgnoreSummary | None = None

    def summary_with(self, tracker: RecordTracker | None) -> IgnoreSummary | None:
        if self.summary is None:
            return None
        hits = {str(index): n for index, n in sorted((tracker.hits if tracker else {}).items())}
        return self.summary.model_copy(update={"hits": hits})


def load_ignore_rules(
    store: ReportStore, settings: ReportSettings, publisher: str, subscriber_id: str, now: datetime
) -> IgnoreSetup:
    """The rules at ``IGNORE_RULES_KEY`` for this subscriber. No file: no rules. A file that cannot be
    read or parsed: no rules either — nothing is hidden by a broken file — and the summary says why."""
    key = settings.ignore_rules_key
    try:
        rules = load_rules(store.get_bytes(key))
    except (ReportStorageError, IgnoreRulesError) as exc:
        logger.error("ignore rules not applied", extra={"key": key, "error": str(exc)})
        return IgnoreSetup(None, IgnoreSummary(rules_key=key, error=str(exc)))
    if not rules.rules:
        return IgnoreSetup()
    matcher = rules.matcher(publisher, subscriber_id, now)
    expired = [
        ExpiredRule(index=index, rule=rule.describe(), expires=str(rule.expires), comment=rule.comment)
        for index, rule in matcher.expired[:_EXPIRED_SHOWN]
    ]
    return IgnoreSetup(matcher, IgnoreSummary(rules_key=key, active=len(matcher.active), expired=expired))


# -- history -----------------------------------------------------------------------------------------------


@dataclass
class History:
    """What is stored about the subscriber's earlier checks, read before this one overwrites anything."""

    latest: dict[str, Any] | None = None
    #: The newest summaries before this check, newest first (as many as the trend shows).
    summaries: list[tuple[str, Summary]] = field(default_factory=list)

    def last_good(self) -> dict[str, Any] | None:
        """``latest.json``'s pointer to the newest usable check (older files: latest itself, if usable)."""
        if self.latest is None:
            return None
        if "lastGood" in self.latest:
            good = self.latest["lastGood"]
            return good if isinstance(good, dict) else None
        return self.latest if self.latest.get("status") in _USABLE else None

    def trend(self, current: Summary, runs: int) -> list[TrendPoint]:
        """The newest ``runs`` checks, this one included, oldest first."""
        points = [TrendPoint.of(summary) for _key, summary in self.summaries[: max(runs - 1, 0)]]
        return [*reversed(points), TrendPoint.of(current)] if runs else []


_USABLE = {CheckStatus.IN_SYNC.value, CheckStatus.DRIFT.value}


def load_history(
    store: ReportStore, settings: ReportSettings, publisher: str, subscriber_id: str, execution: str
) -> History:
    """``latest.json`` and the newest summaries; a read that fails leaves that part empty (logged)."""
    history = History()
    try:
        history.latest = get_latest(store, publisher, subscriber_id)
    except ReportStorageError as exc:
        logger.warning("latest.json could not be read", extra={"error": exc.message})
    if settings.report_trend_runs:
        try:
            keys = newest_summary_keys(store, publisher, subscriber_id, settings.report_trend_runs + 1)
        except ReportStorageError as exc:
            logger.warning("earlier summaries could not be listed", extra={"error": exc.message})
            keys = []
        for key in keys:
            try:
                summary = get_summary(store, key)
            except ReportStorageError as exc:
                logger.warning("an earlier summary could not be read", extra={"error": exc.message})
                continue
            if summary.execution != execution:
                history.summaries.append((key, summary))
    return history


def previous_usable(store: ReportStore, history: History, execution: str) -> tuple[str, Summary] | None:
    """The check to compare with: ``lastGood``, else the newest usable summary listed."""
    pointer = history.last_good()
    if pointer is not None and pointer.get("execution") != execution and pointer.get("summaryKey"):
        try:
            summary = get_summary(store, str(pointer["summaryKey"]))
            if _usable(summary):
                return str(pointer["summaryKey"]), summary
        except ReportStorageError as exc:
            logger.warning("the last good check could not be read", extra={"error": exc.message})
    for key, summary in history.summaries:
        if _usable(summary) and summary.execution != execution:
            return key, summary
    return None


def _usable(summary: Summary) -> bool:
    return summary.status is not CheckStatus.ERRORED and not summary.partial


# -- the diff ----------------------------------------------------------------------------------------------


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
    return Comparison(changes_of(diff, status), diff, stored)


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


def changes_of(diff: RunDiff, status: CheckStatus) -> Changes:
    """The summary's view of a diff."""
    previous = diff.previous
    return Changes(
        previous_execution=previous.execution if previous else None,
        previous_summary_key=previous.summary_key if previous else None,
        previous_status=previous.status if previous else None,
        previous_finished_at=previous.finished_at if previous else None,
        new=diff.new.total,
        resolved=diff.resolved.total,
        unchanged=diff.unchanged.total,
        new_ignored=diff.new.ignored,
        resolved_ignored=diff.resolved.ignored,
        unchanged_ignored=diff.unchanged.ignored,
        status_changed=previous is not None and previous.status is not status,
    )


# -- the HTML report and its link -------------------------------------------------------------------------


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def store_html(
    store: ReportStore, summary: Summary, diff: RunDiff | None, history: History, runs: int, prefix: str
) -> str:
    """Renders and stores ``report.html``; returns its key."""
    stored = summary.files or ReportKeys()
    candidates = (
        ("All records (JSON Lines, as DX sent them)", RECORDS_FILENAME, stored.records),
        ("All records (CSV)", CSV_FILENAME, stored.csv),
        ("New records (JSON Lines)", NEW_FILENAME, stored.new),
        ("Resolved records (JSON Lines)", RESOLVED_FILENAME, stored.resolved),
        ("What changed (diff.json)", DIFF_FILENAME, stored.diff),
        ("Summary (summary.json)", SUMMARY_FILENAME, stored.summary),
    )
    # Relative links: they work beside the report, in S3 as in a downloaded folder.
    files = {label: name for label, name, key in candidates if key}
    page = render_report(summary, diff, history.trend(summary, runs), files=files)
    # A lone surrogate DX sent (JSON "\ud800") has no UTF-8 form: the page shows U+FFFD instead.
    body = _LONE_SURROGATE.sub("\ufffd", page).encode("utf-8")
    return store.put_bytes(prefix + HTML_FILENAME, body, HTML_CONTENT_TYPE, check_prefix=prefix)


def notice_links(settings: NoticeSettings, publisher: str, html_key: str, now: datetime) -> ReportLink | None:
    """The notice's links: the report and the overview through the report viewer, signed to work until
    ``now + REPORT_LINK_EXPIRY_SECONDS`` (whole seconds, as the link says), and the S3 console's view of
    the report's folder. A key that cannot be read leaves the viewer links out (logged)."""
    expires = datetime.fromtimestamp(int(now.timestamp()) + settings.report_link_expiry_seconds, UTC)
    link = ReportLink(expires=expires)
    secret = settings.report_viewer_key_secret
    if secret and (settings.report_viewer_url or settings.report_viewer_function):
        try:
            key = link_key(secret)
            viewer = settings.report_viewer_url or viewer_url(str(settings.report_viewer_function))
        except ConfigurationError as exc:
            logger.warning("no links to the report viewer", extra={"error": exc.message})
        else:
            link.url = links.report_link(viewer, key, html_key, expires)
            link.overview_url = links.overview_link(viewer, key, publisher, expires)
    if settings.report_console_links and settings.aws_region:
        link.console_url = console_url(settings.aws_region, settings.report_bucket, html_key)
    return link if link.url or link.console_url else None


def console_url(region: str, bucket: str, key: str) -> str:
    """The S3 console's page of the folder holding ``key`` (the reader's own AWS login applies)."""
    folder = key.rsplit("/", 1)[0] + "/"
    query = urlencode({"region": region, "prefix": folder, "showversions": "false"})
    return f"https://{region}.console.aws.amazon.com/s3/buckets/{quote(bucket, safe='')}?{query}"
