"""Which checks are stored: the subscribers of a publisher, and a subscriber's newest summaries.

Both walk the dated key layout (:mod:`damdrift.report_layout`) with ``/``-delimited listings instead of
listing every key: a subscriber's history grows with every run, and the diff, the trend and the
publisher's overview need only its newest few checks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from damdrift.report_layout import ROOT, SUMMARY_FILENAME, key_segment, subscriber_prefix

if TYPE_CHECKING:
    from damdrift.store import ReportStore


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
