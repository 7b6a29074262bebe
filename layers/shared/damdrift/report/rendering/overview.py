"""``overview.html``: where one publisher stands, every subscriber on one page.

Each subscriber's row (``reports/<publisher>/<subscriber>/overview.json``) is written by the fetch step at
the end of that subscriber's check, from what it already holds (the summary, its drift age, the trend it
listed for the HTML report). The page is rendered once per run, by the fleet step after the Map
(:mod:`damdrift.steps.summarise`), from every subscriber's row — one listing and one small read per
subscriber, no report is read — and stored at ``reports/<publisher>/overview.html``, so relative links
reach each subscriber's latest report, on S3 (through the report viewer) as on disk. (Rendering it after
every subscriber's fetch, as before, read every row n times a run: n² GETs.)

A row only moves forward: a check that started earlier never replaces a later one.

Same discipline as ``report.html``: self-contained, every value HTML-escaped, the same sorting script and
Content-Security-Policy (only that script, by hash).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, NonNegativeInt, ValidationError
from pydantic.alias_generators import to_camel

from damdrift.errors import ReportStorageError
from damdrift.models.summary import AgeOf, CheckStatus, Summary
from damdrift.observability import logger
from damdrift.report.analysis.age import age_text
from damdrift.report.rendering.html import _STATUS_COLOURS, _STYLE, _TREND_ERRORED, TrendPoint, _text, _when
from damdrift.report_history import subscriber_prefixes
from damdrift.report_layout import ROOT, key_segment, subscriber_prefix
from damdrift.report_page import CONTENT_SECURITY_POLICY, HTML_CONTENT_TYPE, SORT_SCRIPT

if TYPE_CHECKING:
    from damdrift.store import ReportStore

OVERVIEW_FILENAME = "overview.html"
ROW_FILENAME = "overview.json"
TREND_POINTS = 20


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Point(_Camel):
    execution: str
    finished_at: datetime | None = None
    status: CheckStatus
    mismatches: NonNegativeInt = 0


class OverviewRow(_Camel):
    """One subscriber's line on the overview: its latest check, in a few hundred bytes."""

    subscriber_id: str
    target_host: str | None = None
    status: CheckStatus
    mismatches: NonNegativeInt = 0
    ignored: NonNegativeInt = 0
    #: Since the previous usable check; None when not compared (first check, or the comparison failed).
    new: NonNegativeInt | None = None
    resolved: NonNegativeInt | None = None
    drift_age: AgeOf | None = None
    error_type: str | None = None
    execution: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: report.html relative to the publisher's folder (``<subscriber>/<YYYY>/<MM>/<DD>/<execution>/...``).
    report: str | None = None
    trend: list[Point] = []

    @classmethod
    def of(cls, summary: Summary, trend: Sequence[TrendPoint], html_key: str | None) -> OverviewRow:
        changes = summary.changes
        compared = changes is not None and changes.error is None and changes.previous_execution is not None
        age = summary.drift_age
        return cls(
            subscriber_id=summary.subscriber_id,
            target_host=summary.target_host,
            status=summary.status,
            mismatches=summary.effective_total,
            ignored=summary.ignored_total,
            new=changes.effective_new if changes is not None and compared else None,
            resolved=changes.effective_resolved if changes is not None and compared else None,
            drift_age=AgeOf(**age.model_dump(exclude={"by_type"})) if age is not None else None,
            error_type=summary.error.type if summary.error else None,
            execution=summary.execution,
            started_at=summary.started_at,
            finished_at=summary.finished_at,
            report=html_key.split("/", 2)[2] if html_key and html_key.count("/") >= 2 else None,
            trend=[
                Point(
                    execution=p.execution, finished_at=p.finished_at, status=p.status, mismatches=p.mismatches
                )
                for p in list(trend)[-TREND_POINTS:]
            ],
        )


def store_row(store: ReportStore, row: OverviewRow, publisher: str) -> None:
    """Stores the subscriber's row (unless a later check's is there): one GET, at most one PUT, whatever
    the fleet's size. The page is rendered once per run, by the fleet step (:func:`publish_page`). An
    extra: a failure is logged, never raised."""
    try:
        folder = subscriber_prefix(publisher, row.subscriber_id)
        current = _read_row(store, folder + ROW_FILENAME)
        if current is None or not _later(current, row):
            store.put_document(
                folder + ROW_FILENAME, row.model_dump(by_alias=True, mode="json"), check_prefix=folder
            )
    except (ReportStorageError, ValueError) as exc:
        logger.warning("the overview row was not stored", extra={"error": str(exc)[:500]})


def publish_page(
    store: ReportStore, publisher: str, now: datetime, known: Mapping[str, OverviewRow] | None = None
) -> str | None:
    """Renders and stores ``reports/<publisher>/overview.html`` from every subscriber's row: one listing,
    and one GET per subscriber whose row is not in ``known`` (the rows the run already holds). Returns
    its key, or None without any row; a failure is logged and None returned, never raised."""
    known = known or {}
    try:
        folder = f"{ROOT}/{key_segment('publisher', publisher)}/"
        rows = dict(known)
        for prefix in subscriber_prefixes(store, publisher):
            subscriber = prefix[len(folder) :].rstrip("/")
            if subscriber not in rows and (found := _read_row(store, prefix + ROW_FILENAME)) is not None:
                rows[subscriber] = found
        if not rows:  # no subscriber's check stored a row (S3 refused them): no page to show
            return None
        page = render_overview(publisher, list(rows.values()), now).encode("utf-8", "replace")
        return store.put_bytes(folder + OVERVIEW_FILENAME, page, HTML_CONTENT_TYPE, check_prefix=folder)
    except (ReportStorageError, ValueError) as exc:
        logger.warning("the overview was not updated", extra={"error": str(exc)[:500]})
        return None


def _read_row(store: ReportStore, key: str) -> OverviewRow | None:
    try:
        document = store.get_document(key)
        return OverviewRow.model_validate(document) if document is not None else None
    except (ReportStorageError, ValidationError) as exc:
        logger.warning("an overview row could not be read", extra={"key": key, "error": str(exc)[:300]})
        return None


def _later(stored: OverviewRow, row: OverviewRow) -> bool:
    return stored.started_at is not None and row.started_at is not None and stored.started_at > row.started_at


# -- the page ---------------------------------------------------------------------------------------------

_ORDER = {CheckStatus.ERRORED: 0, CheckStatus.DRIFT: 1, CheckStatus.IN_SYNC: 2}
_SPARK_WIDTH, _SPARK_HEIGHT = 160, 28
_STYLE_EXTRA = (
    "main{max-width:1200px}.spark rect{shape-rendering:crispEdges}td .badge{font-size:12px}"
    "td.when{white-space:nowrap}"
)


def render_overview(publisher: str, rows: Sequence[OverviewRow], generated_at: datetime) -> str:
    """The whole page: worst first (ERRORED, DRIFT, IN_SYNC), then the longest drifting."""
    ordered = sorted(
        rows,
        key=lambda r: (
            _ORDER[r.status],
            -(r.drift_age.checks if r.drift_age else 0),
            r.target_host or r.subscriber_id,
        ),
    )
    tally = {status: sum(1 for r in rows if r.status is status) for status in CheckStatus}
    numbers = "".join(
        f'<div><b id="n-{_text(status.lower())}">{tally[status]}</b>{_text(status.replace("_", " "))}</div>'
        for status in (CheckStatus.DRIFT, CheckStatus.ERRORED, CheckStatus.IN_SYNC)
    )
    body = "".join(_row(row) for row in ordered) or '<tr><td colspan="9">No checks stored yet.</td></tr>'
    table = (
        '<table class="sortable" id="table-subscribers"><thead><tr><th>Subscriber</th><th>Status</th>'
        '<th class="num">Mismatches</th><th class="num">New</th><th class="num">Resolved</th>'
        "<th>Drifting since</th><th>Last checked</th><th>Trend</th><th>Report</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_text(CONTENT_SECURITY_POLICY)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_text('Overview ' + publisher)}</title><style>{_STYLE}{_STYLE_EXTRA}</style></head>",
            "<body><main>",
            f"<header><h1>Publisher {_text(publisher)}</h1>"
            f'<p class="note">{len(rows)} subscribers; generated {_text(_when(generated_at))} at the end '
            "of a run. Mismatches leave out records ignored by rules; New/Resolved are since each "
            "subscriber's previous check.</p></header>",
            '<section id="summary"><h2>Subscribers by status</h2>'
            f'<div class="numbers">{numbers}</div></section>',
            f'<section id="subscribers"><h2>Subscribers</h2>{table}</section>',
            f"</main><script>{SORT_SCRIPT}</script></body></html>\n",
        ]
    )


def _row(row: OverviewRow) -> str:
    colour = _STATUS_COLOURS[row.status]
    name = row.target_host or row.subscriber_id
    unknown = row.status is CheckStatus.ERRORED
    mismatches = "?" if unknown else str(row.mismatches)
    error = f'<div class="note">{_text(row.error_type)}</div>' if row.error_type else ""
    link = f'<a href="{_text(row.report)}">report</a>' if row.report else "-"
    return (
        f'<tr data-subscriber="{_text(row.subscriber_id)}"><td><b>{_text(name)}</b>'
        f'<div class="note">{_text(row.subscriber_id)}</div></td>'
        f'<td><span class="badge" style="background:{colour}">{_text(row.status.replace("_", " "))}</span>'
        f"{error}</td>"
        f'<td class="num">{_text(mismatches)}</td>'
        f'<td class="num">{_text("-" if row.new is None else row.new)}</td>'
        f'<td class="num">{_text("-" if row.resolved is None else row.resolved)}</td>'
        f'<td class="when">{_text(age_text(row.drift_age))}</td>'
        f"<td>{_text(row.finished_at.strftime('%Y-%m-%d %H:%M') if row.finished_at else '-')}</td>"
        f"<td>{_sparkline(row.trend)}</td><td>{link}</td></tr>"
    )


def _sparkline(points: Sequence[Point]) -> str:
    """Bars of the mismatches per check, oldest left; errored checks pale and full height."""
    if not points:
        return "-"
    highest = max(p.mismatches for p in points) or 1
    step = min(_SPARK_WIDTH / max(len(points), 1), 14)
    bars = []
    for index, point in enumerate(points):
        height = max(point.mismatches / highest * (_SPARK_HEIGHT - 2), 2)
        colour = _STATUS_COLOURS[point.status]
        if point.status is CheckStatus.ERRORED:
            height, colour = _SPARK_HEIGHT - 2, _TREND_ERRORED
        tip = f"{point.execution} ({_when(point.finished_at)}): {point.status}, {point.mismatches} mismatches"
        bars.append(
            f'<rect x="{index * step:.1f}" y="{_SPARK_HEIGHT - height:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{height:.1f}" fill="{colour}"><title>{_text(tip)}</title></rect>'
        )
    label = f"Mismatches of the last {len(points)} checks"
    return (
        f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{_SPARK_WIDTH}" '
        f'height="{_SPARK_HEIGHT}" '
        f'viewBox="0 0 {_SPARK_WIDTH} {_SPARK_HEIGHT}" role="img" aria-label="{_text(label)}">'
        f"<title>{_text(label)}</title>{''.join(bars)}</svg>"
    )
