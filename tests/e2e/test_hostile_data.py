"""Hostile record data, end to end: markup, quotes, line breaks, spreadsheet formulas, control characters,
lone surrogates and a 10,000-character value in what DX sends flow into records.jsonl.gz, report.csv,
report.html and the e-mail as data — nothing breaks, nothing becomes markup or a formula."""

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from damdrift.dx.sessions import forget_all
from damdrift.report.records.fields import MAX_PAIRS
from damdrift_cli.local.audit import MISMATCHES_ENDPOINT, bucket_objects
from damdrift_cli.local.runner import CheckRun, LocalAws
from damdrift_cli.simulator import Simulator
from damdrift_cli.simulator.dataset import HOSTILE_RECORD_TYPE, HOSTILE_TEXTS
from tests.e2e.conftest import FAST_CLIENT, stack_of

pytestmark = pytest.mark.e2e

POLL = {"initialWaitSeconds": 0, "maxWaitSeconds": 0, "jitterSeconds": 0, "maxDurationSeconds": 60}
FORMULA_START = tuple("=+-@\t\r")
RAW_MARKUP = ("<script>alert(", "<img src=x onerror=alert(1)>", "</td></tr><img")


@pytest.fixture
def aws(publisher: Simulator) -> Iterator[LocalAws]:
    forget_all()
    credentials = {"username": publisher.username, "password": publisher.password}
    env = {**FAST_CLIENT, "DX_PAGE_SIZE": "5", "REPORT_PART_RECORDS": "10"}  # parts meet hostile data too
    with LocalAws(
        credentials, parameters=stack_of(publisher), retry_time_scale=0.01, function_env=env
    ) as local:
        yield local
    forget_all()


def check(dx: Simulator, aws: LocalAws) -> CheckRun:
    execution_input = {
        "publisher": {"hostname": dx.hostname, "dxProtocol": "http", "dxPort": dx.port},
        "poll": POLL,
        "notifyPolicy": "always",
    }
    return aws.run_check(execution_input)


def sent_by_dx(dx: Simulator) -> list[dict[str, Any]]:
    """The records as the simulator sent them, page after page."""
    records: list[dict[str, Any]] = []
    for exchange in dx.exchanges:
        if exchange.endpoint == MISMATCHES_ENDPOINT and exchange.status == 200:
            records.extend(json.loads(exchange.response_body))
    return records


def report_objects(aws: LocalAws, run: CheckRun) -> dict[str, bytes]:
    [item] = run.outcomes
    prefix = item["outcome"]["summaryKey"].rpartition("/")[0] + "/"
    return {key.removeprefix(prefix): body for key, body in bucket_objects(aws, prefix).items()}


def test_hostile_fields_stay_data_in_every_artefact(publisher: Simulator, aws: LocalAws) -> None:
    sub = publisher.add_subscriber(
        "sub.example.com", drift={"COLLECTION": {"CREATE": 12}, "MEDIA_ITEM": {"UPDATE": 8}}
    )
    publisher.inject_fault(MISMATCHES_ENDPOINT, "hostile_records")
    first = check(publisher, aws)
    publisher.clear_exchanges()
    publisher.set_drift(
        sub, {"COLLECTION": {"CREATE": 12}, "MEDIA_ITEM": {"UPDATE": 8}, "KEYWORD": {"DELETE": 4}}
    )

    run = check(publisher, aws)  # the second run has NEW records for the HTML report to show

    assert [item["status"] for item in first.outcomes + run.outcomes] == ["DRIFT", "DRIFT"], first.outcomes[
        0
    ]["outcome"]["error"]
    assert first.outcomes[0]["outcome"]["changes"].get("error") is None, first.outcomes[0]["outcome"][
        "changes"
    ]
    changes = run.outcomes[0]["outcome"]["changes"]
    assert changes.get("error") is None, changes  # the diff with the previous run copes too
    assert changes["new"] == 4
    sent = sent_by_dx(publisher)
    assert len(sent) == 24 and any(r["recordType"] == HOSTILE_RECORD_TYPE for r in sent)
    objects = report_objects(aws, run)

    # JSON Lines: every record exactly as DX sent it (lone surrogates and NULs included).
    lines = gzip.decompress(objects["records.jsonl.gz"]).decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == sent

    # CSV: one row per record, five cells each; no cell a spreadsheet can run as a formula.
    rows = list(csv.reader(io.StringIO(objects["report.csv"].decode("utf-8"), newline="")))
    assert rows[0] == ["subscriberId", "recordType", "recordAction", "recordId", "created"]
    assert len(rows) == 1 + len(sent)
    for row, record in zip(rows[1:], sent, strict=True):
        assert len(row) == 5
        assert not any(cell.startswith(FORMULA_START) for cell in row), row
        expected = record["recordId"].replace("\ud800", "\ufffd")
        assert row[3] in (expected, "'" + expected)
        assert row[1] == record["recordType"]

    # HTML: hostile text is escaped, never markup.
    html = objects["report.html"].decode("utf-8")
    for markup in RAW_MARKUP:
        assert markup not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the hostile record type, shown as text

    # E-mail: a one-line ASCII subject; a body without control or bidi characters, one value a line.
    for notice in first.notices + run.notices:
        assert notice.subject.isascii() and "\n" not in notice.subject and len(notice.subject) < 100
        assert not re.search(
            r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]", notice.message
        )
        for line in notice.message.splitlines():
            assert line.count(HOSTILE_RECORD_TYPE) <= 1
    assert any(HOSTILE_RECORD_TYPE in n.message for n in run.notices)
    assert HOSTILE_TEXTS  # the catalogue the simulator draws from (markup, quotes, formulas, ...)


@pytest.mark.parametrize("hostile", ["absolute", "../..", "../../../.."])
def test_a_subscriber_id_that_names_a_directory_ends_the_check_and_leaves_the_directory_alone(
    publisher: Simulator, aws: LocalAws, tmp_path: Path, hostile: str
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("the operator's")
    subscriber_id = str(victim) if hostile == "absolute" else hostile
    listed = [
        {"id": subscriber_id, "targetHost": "sub.example.com", "resyncStatus": "FIND_MISMATCH_COMPLETED"}
    ]
    publisher.inject_fault("GET /staging/subscriber", "json", body=listed)

    run = check(publisher, aws)

    assert (run.status, run.error) == ("FAILED", "UnexpectedResponse"), run.cause
    assert "GET /staging/subscriber: subscriber 1's 'id' is unusable" in (run.cause or "")
    assert "Traceback" not in (run.cause or "")
    assert (victim / "keep.txt").read_text() == "the operator's"
    assert publisher.endpoint_hits.get("GET /staging/mismatches", 0) == 0


def test_a_report_of_more_distinct_record_types_than_the_bound_errors_and_keeps_the_records_before(
    publisher: Simulator, aws: LocalAws
) -> None:
    publisher.add_subscriber("sub.example.com", drift={"MEDIA_ITEM": {"UPDATE": MAX_PAIRS + 30}})
    publisher.inject_fault(MISMATCHES_ENDPOINT, "distinct_record_types", size=20)

    run = check(publisher, aws)

    [item] = run.outcomes
    outcome = item["outcome"]
    assert item["status"] == "ERRORED" and outcome["error"]["type"] == "UnexpectedResponse", outcome
    assert f"more than {MAX_PAIRS} distinct (recordType, recordAction) pairs" in outcome["error"]["message"]
    assert outcome["partial"] is True and outcome["total"] == MAX_PAIRS
    lines = gzip.decompress(report_objects(aws, run)["records.jsonl.gz"]).splitlines()
    assert len(lines) == MAX_PAIRS
