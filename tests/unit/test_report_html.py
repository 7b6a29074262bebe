"""report.html: self-contained, every DX value shown as text, charts and capped sortable tables."""

import base64
import hashlib
import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from damdrift.models.summary import Changes, CheckStatus, ErrorInfo, ExpiredRule, IgnoreSummary, Summary
from damdrift.report.analysis.diff import ChangeClass, PreviousRun, RecordSample, RunDiff
from damdrift.report.rendering.html import TrendPoint, render_report

STARTED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "</textarea></style></svg>&amp;",
]


def summary(**overrides: Any) -> Summary:
    fields: dict[str, Any] = {
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "target_host": "sub.example.com",
        "status": CheckStatus.DRIFT,
        "counts": {"MEDIA_ITEM": {"CREATE": 40, "UPDATE": 2}, "COLLECTION": {"DELETE": 1}},
        "total": 43,
        "execution": "exec-2",
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(minutes=3),
        "changes": Changes(previous_execution="exec-1", new=3, resolved=1, unchanged=40),
    }
    fields.update(overrides)
    return Summary(**fields)


def samples(n: int, record_id: str = "m{}") -> list[RecordSample]:
    return [
        RecordSample(record_type="MEDIA_ITEM", record_action="CREATE", record_id=record_id.format(i))
        for i in range(n)
    ]


def diff(**fields: Any) -> RunDiff:
    previous = PreviousRun(execution="exec-1", summary_key="k", status=CheckStatus.DRIFT)
    return RunDiff(execution="exec-2", previous=previous, **fields)


def visible_text(page: str) -> str:
    return page.split("</style>", 1)[1].split("<script>", 1)[0]


def test_no_dx_value_becomes_markup_wherever_it_appears() -> None:
    hostile_summary = summary(
        publisher=HOSTILE[0],
        target_host=HOSTILE[1],
        counts={HOSTILE[2]: {HOSTILE[3]: 1}},
        total=1,
        changes=Changes(previous_execution=HOSTILE[0], new=1),
        ignore_rules=IgnoreSummary(
            rules_key=HOSTILE[1],
            expired=[ExpiredRule(index=0, rule=HOSTILE[2], expires="2024", comment=HOSTILE[3])],
        ),
    )
    rows = [RecordSample(record_type=h, record_action=h, record_id=h) for h in HOSTILE]
    trend = [TrendPoint(execution=HOSTILE[1], finished_at=None, status=CheckStatus.DRIFT, mismatches=1)]

    page = render_report(hostile_summary, diff(new=ChangeClass(total=4, samples=rows)), trend)

    for value in HOSTILE:
        assert value not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<script") == 1  # ours, at the end
    assert "onerror" not in visible_text(page).replace("onerror=alert(1)&gt;", "")
    assert not re.search(r"<(img|iframe|object|embed|link)\b", page)


def test_an_error_message_and_diagnosis_are_text_too() -> None:
    errored = summary(
        status=CheckStatus.ERRORED,
        counts={},
        total=0,
        changes=None,
        error=ErrorInfo(type="FindMismatchFailed", message=HOSTILE[1], diagnosis={"x": HOSTILE[0]}),
    )
    page = render_report(errored)
    assert HOSTILE[1] not in page and HOSTILE[0] not in page
    assert 'id="error"' in page and "FindMismatchFailed" in page
    assert '<b id="n-mismatches">unknown</b>' in page  # unknown, not "0": that would read as in sync


def test_only_the_pages_own_script_may_run_and_nothing_is_loaded_from_elsewhere() -> None:
    page = render_report(summary())
    script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = html.unescape(csp.group(1))
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_the_chart_has_a_bar_segment_per_type_and_action() -> None:
    page = render_report(summary())
    chart = re.search(r'<svg id="chart-by-type".*?</svg>', page, re.S)
    assert chart is not None
    assert len(re.findall(r"<rect [^>]*><title>", chart.group())) == 3
    assert "MEDIA_ITEM CREATE: 40" in chart.group()


def test_the_trend_has_a_bar_per_check_coloured_by_status() -> None:
    statuses = [CheckStatus.IN_SYNC, CheckStatus.DRIFT, CheckStatus.ERRORED, CheckStatus.DRIFT]
    trend = [
        TrendPoint(execution=f"e{i}", finished_at=STARTED, status=s, mismatches=i)
        for i, s in enumerate(statuses)
    ]
    page = render_report(summary(), trend=trend)
    bars = re.findall(r'<rect class="run" [^>]*fill="([^"]+)"', page)
    assert len(bars) == 4
    assert bars[1] == bars[3] != bars[0] != bars[2]


def test_tables_are_capped_sortable_and_point_to_the_full_list() -> None:
    new = ChangeClass(total=1200, samples=samples(500), counts={"MEDIA_ITEM": {"CREATE": 1200}})
    page = render_report(summary(), diff(new=new, new_file="reports/p/new.jsonl.gz"))
    table = re.search(r'<table class="sortable" id="table-new">.*?</table>', page, re.S)
    assert table is not None
    assert table.group().count("<tr>") == 501  # the header and 500 rows
    assert "Showing 500 of 1200" in page
    assert "new.jsonl.gz" in page
    assert 'id="resolved"' in page and "None." in page


def test_the_first_check_says_every_record_is_new() -> None:
    first = RunDiff(execution="exec-1", new=ChangeClass(total=2, samples=samples(2)))
    page = render_report(summary(changes=Changes(new=2)), first)
    assert "first check" in page
    assert 'id="resolved"' not in page


def test_a_verifying_check_shows_the_remediation_verdict_and_what_led_to_it() -> None:
    from damdrift.execution_input import RemediateMode
    from damdrift.models.remediation import OperationTally, RemediationRecord, RemediationVerdict

    record = RemediationRecord(
        mode=RemediateMode.ASK,
        verdict=RemediationVerdict.STILL_DRIFTING,
        initial_effective_total=590,
        remaining_total=43,
        approved_by=HOSTILE[0],
        resync_started_at=STARTED,
        operations=OperationTally(succeeded=5, failed=1, failed_functions=["syncStagingRenditionContent"]),
        initial_summary_key="reports/p/s/2024/05/01/exec-2/summary.json",
    )

    page = render_report(summary(execution="exec-2-verify", remediation=record))

    section = page.split('id="remediation"', 1)[1].split("</section>", 1)[0]
    assert "STILL_DRIFTING (remediate: ask)" in section
    assert "590 mismatches not ignored" in section and "43 not ignored" in section
    assert "5 succeeded, 1 failed (syncStagingRenditionContent)" in section
    assert HOSTILE[0] not in page and html.escape(HOSTILE[0]) in section  # who approved is text


def test_an_ordinary_check_has_no_remediation_section() -> None:
    assert 'id="remediation"' not in render_report(summary())


def test_a_drift_report_ends_with_the_next_steps_as_ready_to_run_commands() -> None:
    prefix = "reports/dx.example.com_8443/sub-1/2026/05/01/run-1/"
    page = render_report(summary(publisher="dx.example.com_8443", report_prefix=prefix))
    steps = page.split('id="next-steps"', 1)[1].split("</ol>", 1)[0]
    # the run by its key, which baseline create finds under --reports: not "." (the report's own folder)
    assert f"damdrift baseline create {prefix.rstrip('/')} --out ignore-rules.json" in steps
    ours = "damdrift check --hostname dx.example.com --dx-port 8443 --subscriber-id sub-1 --remediate ask"
    theirs = "start-staging-resync -hostname dx.example.com -dxPort 8443 -subscriberId sub-1"
    assert ours in steps and f"dxclient manage-dam-staging {theirs}" in steps


def test_a_plain_http_publishers_next_steps_repeat_its_protocol() -> None:
    page = render_report(summary(publisher="127.0.0.1_8085", dx_protocol="http"))
    steps = page.split('id="next-steps"', 1)[1].split("</ol>", 1)[0]
    assert "damdrift check --hostname 127.0.0.1 --dx-protocol http --dx-port 8085 --subscriber-id" in steps
    assert "-hostname 127.0.0.1 -dxProtocol http -dxPort 8085 -subscriberId" in steps


def test_a_subscriber_id_from_dx_is_shell_quoted_in_the_next_steps() -> None:
    page = render_report(summary(subscriber_id="x; rm -rf ~"))
    steps = page.split('id="next-steps"', 1)[1].split("</ol>", 1)[0]
    assert "--subscriber-id &#x27;x; rm -rf ~&#x27;" in steps
    assert "--subscriber-id x; rm" not in steps


def test_in_sync_and_errored_reports_have_no_next_steps_but_an_errored_find_has_hcls_hint() -> None:
    assert 'id="next-steps"' not in render_report(summary(status=CheckStatus.IN_SYNC, counts={}, total=0))
    errored = summary(
        status=CheckStatus.ERRORED,
        counts={},
        total=0,
        error=ErrorInfo(
            type="FindMismatchFailed",
            message="find failed",
            diagnosis={"operation": {"status": "FAILED", "retryCounter": 2}},
        ),
    )
    page = render_report(errored)
    assert 'id="next-steps"' not in page
    hint = page.split('id="hint"', 1)[1].split("</p>", 1)[0]
    assert "failed on volume" in hint and "deregister and register the subscriber again" in hint
