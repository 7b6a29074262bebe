"""overview.html in a real browser (headless Chromium): every subscriber's row renders, the trends are
painted, the sorting script runs under the page's Content-Security-Policy, and a hostile subscriber host
name stays text. Skipped without Chromium, like report.html's test; the screenshot is kept in
tests/output/overview.png for a person to look at.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from damdrift.models.summary import AgeOf, CheckStatus
from damdrift.report.rendering.overview import OverviewRow, Point, render_overview
from tests.integration.test_report_html_in_browser import BROWSER, OUTPUT, chromium, png_rows

HOSTILE_HOST = "<img src=x onerror=alert(1)>.example.com"
DRIFT_RED = (0xC0, 0x39, 0x2B)  # html.py's colour of DRIFT

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="Chromium is not installed (apt-get install -y chromium); CI installs it"
)
NOW = datetime(2026, 11, 27, 5, 4, tzinfo=UTC)


def points(totals: list[int], errored: tuple[int, ...] = ()) -> list[Point]:
    return [
        Point(
            execution=f"scheduled-{day}",
            finished_at=NOW - timedelta(days=len(totals) - day),
            status=CheckStatus.ERRORED
            if day in errored
            else (CheckStatus.DRIFT if total else CheckStatus.IN_SYNC),
            mismatches=total,
        )
        for day, total in enumerate(totals)
    ]


@pytest.fixture(scope="module")
def overview(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        OverviewRow(
            subscriber_id="8c72ef60-e8d4-425d-903a-232bb8726222",
            target_host="dx-sub-drifted.example.com",
            status=CheckStatus.DRIFT,
            mismatches=590,
            new=12,
            resolved=3,
            drift_age=AgeOf(since=NOW - timedelta(days=21), since_execution="scheduled-0", checks=22),
            execution="scheduled-21",
            finished_at=NOW,
            report="8c72ef60-e8d4-425d-903a-232bb8726222/2026/11/27/scheduled-21/report.html",
            trend=points([400 + 10 * day for day in range(20)]),
        ),
        OverviewRow(
            subscriber_id="401e81b0-5b0a-4fdd-b874-d93d920e5347",
            target_host=HOSTILE_HOST,
            status=CheckStatus.IN_SYNC,
            new=0,
            resolved=5,
            drift_age=AgeOf(),
            execution="scheduled-21",
            finished_at=NOW,
            report="401e81b0-5b0a-4fdd-b874-d93d920e5347/2026/11/27/scheduled-21/report.html",
            trend=points([5, 5, 0, 0]),
        ),
        OverviewRow(
            subscriber_id="e90dd43d-c916-49a0-b37d-ad10c6694355",
            target_host="dx-sub-find-fails.example.com",
            status=CheckStatus.ERRORED,
            error_type="FindMismatchFailed",
            execution="scheduled-21",
            finished_at=NOW,
            trend=points([0, 0, 0], errored=(0, 1, 2)),
        ),
    ]
    path = tmp_path_factory.mktemp("overview") / "overview.html"
    path.write_text(render_overview("dx.example.com", rows, NOW), encoding="utf-8")
    return path


def test_the_overview_renders_every_subscriber_with_a_hostile_host_as_text(
    overview: Path, tmp_path: Path
) -> None:
    dom = chromium(overview, tmp_path / "profile", "--dump-dom").stdout

    assert dom.count("data-subscriber=") == 3
    assert dom.count('class="spark"') == 3
    assert "&lt;img src=x onerror=alert(1)&gt;.example.com" in dom  # shown as text ...
    assert "<img" not in dom  # ... never an element
    assert "2026-11-06 05:04 (22 checks)" in dom
    assert 'title="Sort by this column"' in dom  # the script ran: the CSP allowed it by its hash


def test_the_trends_are_painted(overview: Path, tmp_path: Path) -> None:
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "overview.png"
    screenshot.unlink(missing_ok=True)

    chromium(overview, tmp_path / "profile", f"--screenshot={screenshot}")

    red = sum(1 for row in png_rows(screenshot.read_bytes()) for pixel in row if pixel == DRIFT_RED)
    assert red > 1500, "the DRIFT trend bars (and badge) are not on the screenshot"
