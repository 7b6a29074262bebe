"""Drift age (carried forward from the previous check, bridged from the listed history for older
summaries) and the publisher's overview page (rows written per subscriber, rendered escaped)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from damdrift.models.summary import Changes, CheckStatus, ErrorInfo, Summary
from damdrift.report.analysis.age import age_text, drift_age
from damdrift.report.rendering.html import TrendPoint, render_report
from damdrift.report.rendering.overview import (
    ROW_FILENAME,
    OverviewRow,
    publish_page,
    render_overview,
    store_row,
)
from damdrift.report_page import CONTENT_SECURITY_POLICY
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET, s3_with_report_bucket

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
HOSTILE_HOST = "<img src=x onerror=alert(1)>.example.com"


def check(
    n: int, counts: dict[str, dict[str, int]] | None = None, *, errored: bool = False, **extra: Any
) -> Summary:
    counts = counts or {}
    total = sum(v for a in counts.values() for v in a.values())
    status = CheckStatus.ERRORED if errored else (CheckStatus.DRIFT if total else CheckStatus.IN_SYNC)
    return Summary(
        publisher="dx.example.com",
        subscriber_id="sub-1",
        status=status,
        counts=counts,
        total=total,
        execution=f"run-{n}",
        started_at=T0 + n * DAY,
        finished_at=T0 + n * DAY + timedelta(minutes=3),
        error=ErrorInfo(type="FindMismatchFailed", message="m") if errored else None,
        **extra,
    )


def carried(checks: list[Summary]) -> list[Summary]:
    """Each check's drift age as the fetch step computes it: from the checks before it, newest first."""
    done: list[Summary] = []
    for current in checks:
        current.drift_age = drift_age(current, list(reversed(done)))
        done.append(current)
    return done


KEYWORDS = {"KEYWORD": {"CREATE": 2}}
MEDIA = {"MEDIA_ITEM": {"UPDATE": 1}}


def test_a_streak_counts_consecutive_drifting_checks_from_the_first_one_and_resets_when_in_sync() -> None:
    runs = carried([check(0, KEYWORDS), check(1, KEYWORDS), check(2), check(3, KEYWORDS), check(4, KEYWORDS)])
    first, second, synced, again, latest = (run.drift_age for run in runs)
    assert again is not None and again.checks == 1 and again.since == T0 + 3 * DAY
    assert first is not None and first.checks == 1 and first.since == T0
    assert (
        second is not None and second.checks == 2 and second.since == T0 and second.since_execution == "run-0"
    )
    assert synced is not None and synced.checks == 0 and synced.by_type == {}
    assert latest is not None and latest.checks == 2 and latest.since == T0 + 3 * DAY


def test_each_record_type_has_its_own_streak() -> None:
    runs = carried([check(0, KEYWORDS), check(1, {**KEYWORDS, **MEDIA}), check(2, {**KEYWORDS, **MEDIA})])
    age = runs[-1].drift_age
    assert age is not None
    assert (age.by_type["KEYWORD"].checks, age.by_type["KEYWORD"].since) == (3, T0)
    assert (age.by_type["MEDIA_ITEM"].checks, age.by_type["MEDIA_ITEM"].since) == (2, T0 + DAY)


def test_an_errored_check_has_no_age_and_does_not_break_the_streak() -> None:
    runs = carried([check(0, KEYWORDS), check(1, errored=True), check(2, KEYWORDS)])
    assert runs[1].drift_age is None
    age = runs[2].drift_age
    assert age is not None and age.checks == 2 and age.since == T0  # ERRORED is skipped, not counted


def test_ignored_records_do_not_make_a_type_drift() -> None:
    current = check(0, {**KEYWORDS, **MEDIA}, ignored=MEDIA, ignored_total=1)
    age = drift_age(current, [])
    assert age is not None and set(age.by_type) == {"KEYWORD"}


def test_summaries_from_before_drift_age_are_bridged_from_the_listed_history() -> None:
    old = [check(0, KEYWORDS), check(1, KEYWORDS), check(2, KEYWORDS)]  # stored without driftAge
    age = drift_age(check(3, KEYWORDS), list(reversed(old)))
    assert age is not None and age.checks == 4 and age.since == T0 and not age.exact
    assert age_text(age).startswith("before 2026-11-01 05:00 (at least 4 checks)")
    bounded = drift_age(check(3, KEYWORDS), [old[2], check(1)])  # in sync before run-2
    assert bounded is not None and bounded.checks == 2 and bounded.exact and bounded.since == T0 + 2 * DAY


def test_the_report_shows_the_drift_age_per_type() -> None:
    runs = carried([check(0, KEYWORDS), check(1, {**KEYWORDS, **MEDIA})])
    page = render_report(runs[-1])
    assert 'id="drift-age"' in page and "Drifting since 2026-11-01 05:00 (2 checks)" in page
    assert '<td>MEDIA_ITEM</td><td class="num">1</td><td>2026-11-02 05:00 (1 check: new)</td>' in page


# ------------------------------------------------------------------------------------------- overview


def row(
    subscriber: str, host: str, n: int, counts: dict[str, dict[str, int]] | None = None, **extra: Any
) -> OverviewRow:
    summary = check(n, counts, **extra).model_copy(update={"subscriber_id": subscriber, "target_host": host})
    summary.drift_age = drift_age(summary, [])
    html = f"reports/dx.example.com/{subscriber}/2026/11/0{n + 1}/run-{n}/report.html"
    return OverviewRow.of(summary, [TrendPoint.of(summary)], html)


def test_the_overview_lists_every_subscriber_worst_first_with_relative_report_links() -> None:
    rows = [
        row("s-sync", "sync.example.com", 1),
        row("s-drift", "drift.example.com", 1, KEYWORDS, changes=Changes(previous_execution="run-0", new=2)),
        row("s-err", "err.example.com", 1, errored=True),
    ]
    page = render_overview("dx.example.com", rows, T0)
    order = re.findall(r'data-subscriber="([^"]+)"', page)
    assert order == ["s-err", "s-drift", "s-sync"]
    assert 'href="s-drift/2026/11/02/run-1/report.html"' in page
    assert f'content="{CONTENT_SECURITY_POLICY.replace(chr(39), "&#x27;")}"' in page
    assert "FindMismatchFailed" in page and "2026-11-02 05:00 (1 check: new)" in page
    assert page.count("<svg") == 3  # a trend per subscriber


def test_a_hostile_subscriber_host_name_stays_text() -> None:
    page = render_overview("<b>pub</b>", [row("s-1", HOSTILE_HOST, 1, KEYWORDS)], T0)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.example.com" in page
    assert "<b>pub</b>" not in page


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReportStore]:
    for s3 in s3_with_report_bucket(monkeypatch):
        yield ReportStore(s3, REPORT_BUCKET)


def test_the_page_is_rendered_once_from_every_subscribers_stored_row(store: ReportStore) -> None:
    store_row(store, row("s-1", "one.example.com", 1, KEYWORDS), "dx.example.com")
    store_row(store, row("s-2", "two.example.com", 1), "dx.example.com")
    assert store.get_bytes("reports/dx.example.com/overview.html") is None  # a row alone renders nothing
    key = publish_page(store, "dx.example.com", T0)
    assert key == "reports/dx.example.com/overview.html"
    page = (store.get_bytes(key) or b"").decode()
    assert "one.example.com" in page and "two.example.com" in page
    assert store.get_document(f"reports/dx.example.com/s-1/{ROW_FILENAME}") is not None


def test_the_page_takes_the_rows_the_run_holds_and_reads_only_the_others(store: ReportStore) -> None:
    store_row(store, row("s-1", "one.example.com", 1), "dx.example.com")
    held = row("s-2", "held.example.com", 1)
    key = publish_page(store, "dx.example.com", T0, {"s-2": held})
    page = (store.get_bytes(key or "") or b"").decode()
    assert "one.example.com" in page and "held.example.com" in page


def test_an_older_check_never_replaces_a_later_row(store: ReportStore) -> None:
    store_row(store, row("s-1", "one.example.com", 5, KEYWORDS), "dx.example.com")
    store_row(store, row("s-1", "one.example.com", 2), "dx.example.com")  # started earlier
    stored = OverviewRow.model_validate(store.get_document(f"reports/dx.example.com/s-1/{ROW_FILENAME}"))
    assert stored.execution == "run-5" and stored.status is CheckStatus.DRIFT
