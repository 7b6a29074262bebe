"""Where a check's pages go, and in which order: ``report.html`` and ``summary.json`` in the check's
folder, then the subscriber's ``latest.json`` — last, so the pointer moves only once everything it points
at is stored — then the subscriber's row of the publisher's overview, an extra whose failure is logged,
never raised (the page itself is rendered once per run, by the fleet step after the Map).

The files the download and the comparison made (records, CSV, keys, diff, ages) are stored before this,
by :mod:`damdrift.report.ingest.download` and :mod:`damdrift.report.analysis.comparison`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from damdrift.latest_pointer import LastGood, put_latest
from damdrift.models.summary import Summary
from damdrift.report.rendering.overview import OverviewRow, store_row
from damdrift.report_history import put_summary
from damdrift.report_layout import HTML_FILENAME
from damdrift.report_page import HTML_CONTENT_TYPE

if TYPE_CHECKING:
    from damdrift.store import ReportStore


def file_check(
    store: ReportStore,
    prefix: str,
    summary: Summary,
    page: bytes,
    row: OverviewRow,
    *,
    last_good: LastGood | None,
) -> tuple[str, str]:
    """Stores the check's page, summary, pointer and row, in that order; returns the page's and the
    summary's keys. ``last_good``: the pointer's ``lastGood`` before this check (kept if it is ERRORED)."""
    html_key = store.put_bytes(prefix + HTML_FILENAME, page, HTML_CONTENT_TYPE, check_prefix=prefix)
    summary_key = put_summary(store, prefix, summary)
    put_latest(store, summary.publisher, summary.subscriber_id, summary_key, summary, last_good=last_good)
    store_row(store, row, summary.publisher)
    return html_key, summary_key
