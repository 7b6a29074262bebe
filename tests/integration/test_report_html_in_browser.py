"""report.html in a real browser (headless Chromium): it renders, its charts are painted, its script runs
under its own Content-Security-Policy, and a hostile record id stays text.

Skipped when Chromium is not installed (``apt-get install -y chromium``); CI installs it. The screenshot
is kept in tests/output/ for a person to look at.
"""

import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from damdrift.models.summary import AgeOf, Changes, CheckStatus, DriftAge, IgnoreSummary, Summary
from damdrift.report.analysis.diff import ChangeClass, PreviousRun, RecordSample, RunDiff
from damdrift.report.rendering.html import TrendPoint, render_report

OUTPUT = Path(__file__).resolve().parents[1] / "output"
BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
HOSTILE_ID = "<img src=x onerror=alert(1)>"
CREATE_BLUE = (0x2F, 0x6F, 0xB0)  # html.py's colour of CREATE bars

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="Chromium is not installed (apt-get install -y chromium); CI installs it"
)


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,2000",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    started = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    summary = Summary(
        publisher="dx.example.com",
        subscriber_id="8c72ef60-e8d4-425d-903a-232bb8726222",
        target_host="dx-sub-drifted.example.com",
        status=CheckStatus.DRIFT,
        counts={"MEDIA_ITEM": {"CREATE": 140, "UPDATE": 37, "DELETE": 9}, "RENDITION": {"CREATE": 210}},
        total=396,
        execution="scheduled-20261127-0500",
        started_at=started,
        finished_at=started + timedelta(minutes=4),
        ignored={"RENDITION": {"CREATE": 10}},
        ignored_total=10,
        ignore_rules=IgnoreSummary(rules_key="config/ignore-rules.json", active=1, hits={"0": 10}),
        changes=Changes(previous_execution="scheduled-20261126-0500", new=6, resolved=2, unchanged=390),
        drift_age=DriftAge(
            since=started - timedelta(days=20),
            since_execution="scheduled-20261107-0500",
            checks=21,
            by_type={
                "MEDIA_ITEM": AgeOf(
                    since=started - timedelta(days=20), since_execution="scheduled-20261107-0500", checks=21
                ),
                "RENDITION": AgeOf(since=started, since_execution="scheduled-20261127-0500", checks=1),
            },
        ),
    )
    new = [RecordSample(record_type="MEDIA_ITEM", record_action="CREATE", record_id=HOSTILE_ID)]
    new += [
        RecordSample(record_type="RENDITION", record_action="CREATE", record_id=f"r-{i}") for i in range(5)
    ]
    diff = RunDiff(
        execution=summary.execution,
        previous=PreviousRun(execution="scheduled-20261126-0500", summary_key="k", status=CheckStatus.DRIFT),
        new=ChangeClass(
            total=6, samples=new, counts={"MEDIA_ITEM": {"CREATE": 1}, "RENDITION": {"CREATE": 5}}
        ),
        resolved=ChangeClass(total=2, samples=new[-2:]),
        new_file="new.jsonl.gz",
    )
    trend = [
        TrendPoint(f"run-{day}", started - timedelta(days=9 - day), status, total)
        for day, (status, total) in enumerate(
            [(CheckStatus.IN_SYNC, 0), (CheckStatus.DRIFT, 120), (CheckStatus.ERRORED, 0)]
            + [(CheckStatus.DRIFT, 200 + 20 * i) for i in range(7)]
        )
    ]
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(
        render_report(summary, diff, trend, files={"records": "records.jsonl.gz"}), encoding="utf-8"
    )
    return path


def test_the_report_renders_with_its_charts_its_script_and_hostile_ids_as_text(
    report: Path, tmp_path: Path
) -> None:
    dom = chromium(report, tmp_path / "profile", "--dump-dom").stdout

    assert '<svg id="chart-by-type"' in dom and '<svg id="trend"' in dom
    assert dom.count('class="run"') == 10
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom  # shown as text ...
    assert "<img" not in dom  # ... never an element
    assert 'title="Sort by this column"' in dom  # the script ran: the CSP allowed it by its hash
    assert "Drifting since 2026-11-07 05:00 (21 checks)" in dom  # drift age, per subscriber and type
    assert dom.count("<tr><td>MEDIA_ITEM</td>") >= 1


def test_the_charts_are_painted(report: Path, tmp_path: Path) -> None:
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "report.png"
    screenshot.unlink(missing_ok=True)

    chromium(report, tmp_path / "profile", f"--screenshot={screenshot}")

    blue = 0
    for row in png_rows(screenshot.read_bytes()):  # top down; the chart is in the upper third
        blue += sum(1 for pixel in row if pixel == CREATE_BLUE)
        if blue > 2000:
            break
    assert blue > 2000, "the CREATE bars of the chart are not on the screenshot"


def png_rows(data: bytes) -> Iterator[list[tuple[int, ...]]]:
    """The RGB pixel rows of an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        line = _unfiltered(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels)
        yield [tuple(line[i : i + 3]) for i in range(0, stride, channels)]
        previous = line


def _unfiltered(kind: int, line: bytearray, previous: bytearray, channels: int) -> bytearray:
    """PNG's five row filters (RFC 2083 section 6), undone."""
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
    for i in range(len(line)):
        left = line[i - channels] if i >= channels else 0
        up, corner = previous[i], previous[i - channels] if i >= channels else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        else:
            estimate = left + up - corner
            guesses = (
                (abs(estimate - left), left),
                (abs(estimate - up), up),
                (abs(estimate - corner), corner),
            )
            line[i] = (line[i] + min(guesses, key=lambda guess: guess[0])[1]) & 0xFF
    return line
