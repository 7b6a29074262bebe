"""Which checks are stored: the subscribers of a publisher, a subscriber's newest summaries, and each
check's ``summary.json`` written and read as a :class:`~damdrift.models.summary.Summary` (the store
itself moves bytes and JSON documents only, knowing nothing of what a summary is), and each
subscriber's ``latest.json`` (:mod:`damdrift.latest_pointer` says what it holds and moves it).

A check reads its subscriber's :class:`History` once, before it stores anything: its newest summaries
(the HTML report's trend, the drift age's bridge) and ``latest.json``, whose ``lastGood`` names the
check to compare with (:func:`damdrift.report.analysis.comparison.previous_usable`). What a check
stores, and in which order, is :mod:`damdrift.report.filing`'s.

The listings walk the dated key layout (:mod:`damdrift.report_layout`) with ``/``-delimited listings
instead of listing every key: a subscriber's history grows with every run, and the diff, the trend and the
publisher's overview need only its newest few checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError

from damdrift.errors import ReportStorageError
from damdrift.latest_pointer import LastGood, LatestPointer
from damdrift.models.summary import Summary
from damdrift.observability import logger
from damdrift.report_layout import LATEST_FILENAME, ROOT, SUMMARY_FILENAME, key_segment, subscriber_prefix

if TYPE_CHECKING:
    from damdrift.settings import ReportSettings
    from damdrift.store import ReportStore


def put_summary(store: ReportStore, prefix: str, summary: Summary) -> str:
    """Store ``summary`` as ``<prefix>summary.json``; returns the key. The one writer of a summary
    (:func:`damdrift.report.filing.file_check` files a check's with it), beside its reader,
    :func:`get_summary`."""
    key = prefix + SUMMARY_FILENAME
    store.put_document(key, summary.model_dump(by_alias=True, mode="json"), check_prefix=prefix)
    return key


def get_summary(store: ReportStore, key: str) -> Summary:
    """The summary stored at ``key``."""
    body = store.get_bytes(key)
    if body is None:
        raise ReportStorageError(f"there is no summary at s3://{store.bucket}/{key}")
    try:
        return Summary.model_validate_json(body)
    except ValidationError as exc:
        raise ReportStorageError(
            f"s3://{store.bucket}/{key} is not a dam-drift summary: {exc.error_count()} problems, first: "
            f"{exc.errors()[0]['msg']}"
        ) from exc


def subscriber_prefixes(store: ReportStore, publisher: str) -> list[str]:
    """``reports/<publisher>/<subscriber>/`` of every subscriber with stored checks (one listing)."""
    root = f"{ROOT}/{key_segment('publisher', publisher)}/"
    return _child_prefixes(store, root, r"[A-Za-z0-9._:-]{1,200}")


def newest_summary_keys(store: ReportStore, publisher: str, subscriber_id: str, limit: int) -> list[str]:
    """The keys of the subscriber's newest ``limit`` summaries, newest first.

    Listing every check of a subscriber gets slower with each run, so this walks the dated key
    layout backwards: years, then months (newest first, by ``/``-delimited listings), listing only
    the months it needs; a month of daily checks is one page. Within a month, summaries are ordered
    by day, then by when they were stored.
    """
    if limit <= 0:
        return []
    root = subscriber_prefix(publisher, subscriber_id)
    found: list[str] = []
    for year in _child_prefixes(store, root, r"\d{4}"):
        for month in _child_prefixes(store, year, r"\d{2}"):
            summaries = [
                (item["Key"].split("/")[-3], item["LastModified"], item["Key"])
                for item in store.list_objects(month)
                if item["Key"].endswith("/" + SUMMARY_FILENAME)
                and item["Key"].count("/") == month.count("/") + 2
            ]
            summaries.sort(reverse=True)
            found.extend(key for _day, _modified, key in summaries)
            if len(found) >= limit:
                return found[:limit]
    return found


def _child_prefixes(store: ReportStore, prefix: str, name: str) -> list[str]:
    """The ``prefix<name>/`` "folders" under ``prefix`` whose name matches ``name``, newest first."""
    pattern = re.compile(re.escape(prefix) + name + "/")
    return sorted(
        (folder for folder in store.list_folders(prefix) if pattern.fullmatch(folder)), reverse=True
    )


def get_latest(store: ReportStore, publisher: str, subscriber_id: str) -> LatestPointer | None:
    """The subscriber's ``latest.json``, or None before its first stored check."""
    key = subscriber_prefix(publisher, subscriber_id) + LATEST_FILENAME
    document = store.get_document(key)
    if document is None:
        return None
    try:
        return LatestPointer.model_validate(document)
    except ValidationError as exc:
        raise ReportStorageError(
            f"s3://{store.bucket}/{key} is not a dam-drift latest pointer: {exc.error_count()} problems, "
            f"first: {exc.errors()[0]['msg']}"
        ) from exc


@dataclass
class History:
    """What is stored about the subscriber's earlier checks, read before this one overwrites anything."""

    #: The newest summaries before this check, newest first (as many as the trend shows).
    summaries: list[tuple[str, Summary]] = field(default_factory=list)
    latest: LatestPointer | None = None

    @property
    def earlier(self) -> list[Summary]:
        """The newest summaries before this check, newest first."""
        return [summary for _key, summary in self.summaries]

    @property
    def last_good(self) -> LastGood | None:
        """``latest.json``'s pointer to the newest usable check."""
        return self.latest.last_good if self.latest is not None else None


def load_history(
    store: ReportStore, settings: ReportSettings, publisher: str, subscriber_id: str, execution: str
) -> History:
    """The newest summaries (not ``execution``'s: a retried step) and ``latest.json``; a read that fails
    leaves that part empty (logged)."""
    history = History()
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
    try:
        history.latest = get_latest(store, publisher, subscriber_id)
    except ReportStorageError as exc:
        logger.warning("latest.json could not be read", extra={"error": exc.message})
    return history
