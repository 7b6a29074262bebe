"""Which checks are stored: the subscribers of a publisher, a subscriber's newest summaries, and each
check's ``summary.json`` read and written as a :class:`~damdrift.models.summary.Summary` (the store
itself moves bytes and JSON documents only, knowing nothing of what a summary is).

The listings walk the dated key layout (:mod:`damdrift.report_layout`) with ``/``-delimited listings
instead of listing every key: a subscriber's history grows with every run, and the diff, the trend and the
publisher's overview need only its newest few checks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import ValidationError

from damdrift.errors import ReportStorageError
from damdrift.models.summary import Summary
from damdrift.report_layout import ROOT, SUMMARY_FILENAME, key_segment, subscriber_prefix

if TYPE_CHECKING:
    from damdrift.store import ReportStore


def put_summary(store: ReportStore, prefix: str, summary: Summary) -> str:
    """Store ``summary`` as ``<prefix>summary.json``; returns the key."""
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
