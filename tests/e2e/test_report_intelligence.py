"""Report intelligence, end to end: consecutive runs of the real state machine against the simulator,
diffed (NEW / RESOLVED / UNCHANGED), filtered by ignore rules and baselines, announced by policy, with an
HTML report the notice links to."""

import gzip
import io
import json
import re
import threading
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from damdrift.dx.sessions import forget_all
from damdrift_cli.commands import baseline
from damdrift_cli.local import viewer as local_viewer
from damdrift_cli.local.runner import CheckRun, LocalAws
from damdrift_cli.main import build_parser
from damdrift_cli.simulator import Simulator
from damdrift_cli.simulator.dataset import record_id
from tests.e2e.conftest import FAST_CLIENT, check_input, stack_of

pytestmark = pytest.mark.e2e

SEED = 7  # the e2e scenario's seed: record ids are record_id(SEED, subscriber, type, action, index)
FIRST = {"COLLECTION": {"CREATE": 5}, "MEDIA_ITEM": {"UPDATE": 3}}
# Two COLLECTION records resolved (0, 1), two new (5, 6), one new KEYWORD record; the rest unchanged.
SECOND = {
    "COLLECTION": {"CREATE": {"count": 5, "start": 2}},
    "MEDIA_ITEM": {"UPDATE": 3},
    "KEYWORD": {"DELETE": 1},
}


def ids(sub: str, rtype: str, action: str, indices: range) -> set[tuple[str, str, str]]:
    return {(rtype, action, record_id(SEED, sub, rtype, action, i)) for i in indices}


def outcome_of(run: CheckRun, subscriber_id: str) -> dict[str, Any]:
    [item] = [item for item in run.outcomes if item["subscriberId"] == subscriber_id]
    return item


def s3_object(aws: LocalAws, key: str) -> bytes:
    body: bytes = aws.client("s3").get_object(Bucket=aws._deployed.bucket, Key=key)["Body"].read()
    return body


def s3_json(aws: LocalAws, key: str) -> Any:
    return json.loads(s3_object(aws, key))


def s3_identities(aws: LocalAws, key: str) -> set[tuple[str, str, str]]:
    lines = gzip.decompress(s3_object(aws, key)).splitlines()
    return {(r["recordType"], r["recordAction"], r["recordId"]) for r in map(json.loads, lines)}


def drift_notices(run: CheckRun) -> list[Any]:
    return [notice for notice in run.notices if notice.topic == "DriftTopic"]


def test_the_second_run_reports_exactly_what_is_new_resolved_and_unchanged(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("sub-changing.example.com", drift=FIRST)
    first = aws.run_check(check_input(publisher))
    publisher.set_drift(sub, SECOND)

    second = aws.run_check(check_input(publisher))

    outcome = outcome_of(second, sub)["outcome"]
    assert outcome["status"] == "DRIFT"
    summary = s3_json(aws, outcome["summaryKey"])
    assert summary["changes"] | {"previousFinishedAt": None} == {
        "previousExecution": first.name,
        "previousSummaryKey": outcome_of(first, sub)["outcome"]["summaryKey"],
        "previousStatus": "DRIFT",
        "previousFinishedAt": None,
        "new": 3,
        "resolved": 2,
        "unchanged": 6,
        "newIgnored": 0,
        "resolvedIgnored": 0,
        "unchangedIgnored": 0,
        "statusChanged": False,
        "error": None,
    }
    diff = s3_json(aws, summary["files"]["diff"])
    assert diff["new"]["counts"] == {"COLLECTION": {"CREATE": 2}, "KEYWORD": {"DELETE": 1}}
    assert diff["resolved"]["counts"] == {"COLLECTION": {"CREATE": 2}}
    assert diff["unchanged"]["counts"] == {"COLLECTION": {"CREATE": 3}, "MEDIA_ITEM": {"UPDATE": 3}}
    assert diff["previousKeys"] == "record-keys"
    expected_new = ids(sub, "COLLECTION", "CREATE", range(5, 7)) | ids(sub, "KEYWORD", "DELETE", range(1))
    expected_resolved = ids(sub, "COLLECTION", "CREATE", range(2))
    assert s3_identities(aws, summary["files"]["new"]) == expected_new
    assert s3_identities(aws, summary["files"]["resolved"]) == expected_resolved
    assert {
        (s["recordType"], s["recordAction"], s["recordId"]) for s in diff["new"]["samples"]
    } == expected_new

    [notice] = drift_notices(second)
    assert notice.subject.endswith(": 9 mismatches (+3 new, -2 resolved)")
    assert "Since previous: +3 new, -2 resolved, 6 unchanged" in notice.message
    for _rtype, _action, new_id in expected_new:
        assert new_id in notice.message  # the top new records


def test_drift_age_is_carried_per_subscriber_type_and_record_and_the_overview_lists_the_subscriber(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("sub-aging.example.com", drift=FIRST)
    first = aws.run_check(check_input(publisher))
    publisher.set_drift(sub, SECOND)

    second = aws.run_check(check_input(publisher))

    summary = s3_json(aws, outcome_of(second, sub)["outcome"]["summaryKey"])
    age = summary["driftAge"]
    assert (age["checks"], age["sinceExecution"]) == (2, first.name)
    assert age["byType"]["MEDIA_ITEM"]["checks"] == 2 and age["byType"]["KEYWORD"]["checks"] == 1
    diff = s3_json(aws, summary["files"]["diff"])
    streaks = {(r["recordType"], r["recordId"]): r["checks"] for r in diff["oldest"]}
    unchanged = ids(sub, "MEDIA_ITEM", "UPDATE", range(3)) | ids(sub, "COLLECTION", "CREATE", range(2, 5))
    assert {streaks[(t, i)] for t, _a, i in unchanged} == {2}
    assert summary["files"]["ages"].endswith("/record-age.bin")
    page = s3_object(aws, summary["files"]["html"]).decode()
    assert 'id="table-oldest"' in page and 'id="drift-age-subscriber"' in page
    overview = s3_object(aws, summary["publisher"].join(["reports/", "/overview.html"])).decode()
    assert "sub-aging.example.com" in overview and "(2 checks)" in overview


def test_the_html_report_is_stored_and_the_notice_links_to_it_through_the_local_viewer(
    publisher: Simulator, tmp_path: Path
) -> None:
    """The link a local check prints opens over real HTTP on loopback, served by the viewer's code from
    the --out folder; the same path altered gets 403."""
    sub = publisher.add_subscriber("sub-drifted.example.com", drift=FIRST)
    server = HTTPServer(("127.0.0.1", 0), local_viewer.handler_for(tmp_path))
    server.log = io.StringIO()  # type: ignore[attr-defined]
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    forget_all()
    try:
        credentials = {"username": publisher.username, "password": publisher.password}
        environment = {**FAST_CLIENT, **local_viewer.function_env(port)}
        with LocalAws(
            credentials, parameters=stack_of(publisher), retry_time_scale=0.01, function_env=environment
        ) as aws:
            local_viewer.install_key(aws, tmp_path)
            run = aws.run_check(check_input(publisher))
            outcome = outcome_of(run, sub)["outcome"]
            page = s3_object(aws, outcome["reportHtml"])
            aws.download_reports(tmp_path)
        assert outcome["reportHtml"] == outcome["summaryKey"].replace("summary.json", "report.html")
        assert b'<svg id="chart-by-type"' in page and run.name.encode() in page
        [notice] = drift_notices(run)
        report_url, overview_url = re.findall(r"http://127\.0\.0\.1:\d+/\S+", notice.message)
        assert "console.aws.amazon.com" not in notice.message  # no S3 console locally
        opened = requests.get(report_url, timeout=10)
        assert opened.status_code == 200 and opened.content == page
        assert opened.headers["Cache-Control"] == "no-store"
        assert "script-src 'sha256-" in opened.headers["Content-Security-Policy"]
        csv = requests.get(report_url.rsplit("/", 1)[0] + "/report.csv", timeout=10)
        assert csv.status_code == 200 and csv.content.startswith(b"subscriberId,")
        overview = requests.get(overview_url, timeout=10)
        assert overview.status_code == 200 and sub.encode() in overview.content
        report_from_overview = overview_url.rsplit("/", 1)[0] + "/" + outcome["reportHtml"].split("/", 2)[2]
        assert requests.get(report_from_overview, timeout=10).content == page  # the overview's own link
        other = report_url.replace(sub, "another-subscriber")
        assert requests.get(other, timeout=10).status_code == 403
        (tmp_path / local_viewer.KEY_FILENAME).write_text("x" * 64)  # a new key: old links are revoked
        assert requests.get(report_url, timeout=10).status_code == 403
    finally:
        server.shutdown()
        server.server_close()
        forget_all()


def test_on_change_is_silent_while_nothing_changes_and_skips_an_errored_run(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("sub-watched.example.com", drift=FIRST)
    on_change = check_input(publisher, notifyPolicy="on-change")

    first = aws.run_check(on_change)  # nothing to compare with: that is news
    same = aws.run_check(on_change)
    publisher.configure_subscriber(sub, find_outcome="fail")
    errored = aws.run_check(on_change)
    publisher.configure_subscriber(sub, find_outcome="complete")
    publisher.set_drift(sub, SECOND)
    changed = aws.run_check(on_change)

    assert [len(drift_notices(run)) for run in (first, same, errored, changed)] == [1, 0, 0, 1]
    assert outcome_of(same, sub)["notified"]["status"] == "SKIPPED"
    assert [n.topic for n in errored.notices] == ["OpsTopic"]  # errored: the ops topic, whatever the policy
    changes = outcome_of(changed, sub)["outcome"]["changes"]
    assert changes["previousExecution"] == same.name  # the errored run is skipped
    assert (changes["new"], changes["resolved"]) == (3, 2)
    latest = s3_json(
        aws, outcome_of(changed, sub)["outcome"]["summaryKey"].rsplit("/", 5)[0] + "/latest.json"
    )
    assert latest["lastGood"]["execution"] == changed.name


def test_always_announces_in_sync_and_on_drift_only_drift(publisher: Simulator, aws: LocalAws) -> None:
    in_sync = publisher.add_subscriber("sub-in-sync.example.com")
    drifted = publisher.add_subscriber("sub-drifted.example.com", drift=FIRST)

    # per-subscriber notices, to see which subscriber each is about (the run's notice lists them all)
    always = aws.run_check(check_input(publisher, notifyPolicy="always", notices="subscriber"))
    on_drift = aws.run_check(check_input(publisher, notifyPolicy="on-drift", notices="subscriber"))
    per_run = aws.run_check(check_input(publisher, notifyPolicy="always"))

    announced = lambda run: {n.attributes["subscriberId"] for n in drift_notices(run)}  # noqa: E731
    assert announced(always) == {in_sync, drifted}
    assert announced(on_drift) == {drifted}
    [quiet] = [n for n in drift_notices(always) if n.attributes["subscriberId"] == in_sync]
    assert quiet.subject.endswith(": no mismatches")
    [digest] = drift_notices(per_run)
    assert "sub-in-sync.example.com" in digest.message and "sub-drifted.example.com" in digest.message


RULES = {
    "rules": [
        {"recordType": "RENDITION", "comment": "regenerated on the subscriber"},
        {"recordType": "KEYWORD", "expires": "2020-01-31", "comment": "old migration"},
        {"subscriberId": "someone-else", "recordType": "VERSION"},
    ]
}


def test_ignore_rules_count_records_as_ignored_and_an_expired_rule_is_reported(
    publisher: Simulator, aws: LocalAws
) -> None:
    mixed = publisher.add_subscriber(
        "sub-mixed.example.com",
        drift={"RENDITION": {"CREATE": 4}, "KEYWORD": {"CREATE": 2}, "VERSION": {"CREATE": 1}},
    )
    ignorable = publisher.add_subscriber("sub-renditions.example.com", drift={"RENDITION": {"UPDATE": 3}})
    aws.put_ignore_rules(json.dumps(RULES))

    run = aws.run_check(check_input(publisher))

    outcome = outcome_of(run, mixed)["outcome"]
    assert (outcome["status"], outcome["total"], outcome["ignoredTotal"], outcome["effectiveTotal"]) == (
        "DRIFT",
        7,
        4,
        3,
    )
    summary = s3_json(aws, outcome["summaryKey"])
    assert summary["ignored"] == {"RENDITION": {"CREATE": 4}}
    assert summary["counts"]["RENDITION"] == {"CREATE": 4}  # counted, never dropped
    rules = summary["ignoreRules"]
    assert (rules["active"], rules["hits"]) == (1, {"0": 4})
    assert [(r["index"], r["comment"]) for r in rules["expired"]] == [(1, "old migration")]
    quiet = outcome_of(run, ignorable)["outcome"]
    assert (quiet["status"], quiet["ignoredTotal"], quiet["effectiveTotal"]) == ("IN_SYNC", 3, 0)
    [notice] = drift_notices(run)  # on-drift: the subscriber whose drift is all ignored stays quiet
    assert notice.attributes["subscriberId"] == mixed
    assert "Expired ignore rules" in notice.message and "old migration" in notice.message
    assert "3 (and 4 ignored by rules, 7 in all)" in notice.message


def test_a_baseline_of_run_one_makes_run_two_with_the_same_drift_in_sync(
    publisher: Simulator, aws: LocalAws, tmp_path: Path
) -> None:
    sub = publisher.add_subscriber("sub-baselined.example.com", drift=FIRST)
    first = aws.run_check(check_input(publisher))
    aws.download_reports(tmp_path / "reports")
    run_folder = tmp_path / "reports" / Path(outcome_of(first, sub)["outcome"]["summaryKey"]).parent
    rules_file = tmp_path / "ignore-rules.json"
    args = build_parser().parse_args(
        ["baseline", "create", str(run_folder), "--out", str(rules_file), "--comment", "accepted on day one"]
    )
    assert baseline.run_create(args) == 0
    aws.put_ignore_rules(rules_file.read_bytes())

    second = aws.run_check(check_input(publisher))

    outcome = outcome_of(second, sub)["outcome"]
    assert (outcome["status"], outcome["ignoredTotal"], outcome["effectiveTotal"]) == ("IN_SYNC", 8, 0)
    assert outcome["changes"]["unchanged"] == outcome["changes"]["unchangedIgnored"] == 8
    assert outcome["changes"]["statusChanged"] is True  # DRIFT, then IN_SYNC: the baseline took effect
    assert drift_notices(second) == []
