"""`damdrift report show|diff|open` and `damdrift baseline create` on a local reports folder."""

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from damdrift.models.summary import ReportKeys, Summary, status_for
from damdrift.report.ingest.tracker import RecordTracker
from damdrift.report.ingest.writer import ReportWriter
from damdrift.report.records.ignore import IgnoreRules
from damdrift.report.records.keyset import KEYS_FILENAME, SortedKeys
from damdrift_cli.main import build_parser, main

PUBLISHER, SUBSCRIBER, HOST = "dx.example.com", "sub-1", "sub-host.example.com"
DAY = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)


def store_run(reports: Path, execution: str, ids: list[str], hours: int = 0) -> Path:
    """A run folder as `damdrift check --out` leaves it (minus what these commands do not read)."""
    key = f"reports/{PUBLISHER}/{SUBSCRIBER}/2026/11/27/{execution}/"
    folder = reports / key
    tracker = RecordTracker()
    records = [{"recordType": "MEDIA_ITEM", "recordAction": "CREATE", "recordId": i} for i in ids]
    with ReportWriter(folder, observer=tracker.observe) as writer:
        writer.add_many(records)
    with open(folder / KEYS_FILENAME, "wb") as out:
        SortedKeys.from_collector(tracker.collector).write(out)
    summary = Summary(
        publisher=PUBLISHER,
        subscriber_id=SUBSCRIBER,
        target_host=HOST,
        status=status_for(len(ids)),
        counts=writer.result.counts,
        total=len(ids),
        execution=execution,
        finished_at=DAY + timedelta(hours=hours),
        files=ReportKeys(records=key + "records.jsonl.gz", summary=key + "summary.json"),
    )
    (folder / "summary.json").write_text(summary.model_dump_json(by_alias=True), encoding="utf-8")
    latest = {"summaryKey": key + "summary.json", "status": str(summary.status), "execution": execution}
    (reports / f"reports/{PUBLISHER}/{SUBSCRIBER}/latest.json").write_text(
        json.dumps(latest), encoding="utf-8"
    )
    return folder


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    store_run(tmp_path, "run-1", ["a", "b", "c"], hours=0)
    store_run(tmp_path, "run-2", ["b", "c", "d", "e"], hours=24)
    return tmp_path


def cli(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code: int = args.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


def run_folder(reports: Path, execution: str) -> Path:
    return reports / f"reports/{PUBLISHER}/{SUBSCRIBER}/2026/11/27/{execution}"


@pytest.mark.parametrize("subscriber", [SUBSCRIBER, HOST])
def test_show_prints_the_latest_check_by_subscriber_id_or_host(reports: Path, subscriber: str) -> None:
    code, out, _err = cli("report", "show", subscriber, "--reports", str(reports))
    assert code == 0
    assert out.startswith(f"DRIFT    {HOST}\n")
    assert "run-2, finished 2026-11-28T05:00:00Z" in out
    assert "  MEDIA_ITEM   CREATE      4\n" in out


def test_show_accepts_the_reports_subfolder_itself(reports: Path) -> None:
    code, out, err = cli("report", "show", SUBSCRIBER, "--reports", str(reports / "reports"))
    assert code == 0, err
    assert "run-2" in out


def test_show_words_an_errored_checks_mismatches_as_the_notice_does(tmp_path: Path) -> None:
    folder = store_run(tmp_path, "run-1", [])
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(status="ERRORED", error={"type": "FindMismatchFailed", "message": "find failed"})
    (folder / "summary.json").write_text(json.dumps(summary))
    code, out, _err = cli("report", "show", SUBSCRIBER, "--reports", str(tmp_path))
    assert code == 0
    assert "Mismatches:     unknown (the check did not finish)" in out


def test_show_lists_the_subscribers_it_knows_when_asked_for_another(reports: Path) -> None:
    code, _out, err = cli("report", "show", "nobody", "--reports", str(reports))
    assert code == 3
    assert "no reports for 'nobody'" in err and SUBSCRIBER in err


def test_diff_lists_new_resolved_and_unchanged_records(reports: Path) -> None:
    old, new = run_folder(reports, "run-1"), run_folder(reports, "run-2") / "summary.json"
    code, out, _err = cli("report", "diff", str(old), str(new))
    assert code == 0
    assert "+2 new, -1 resolved, 2 unchanged" in out
    assert "MEDIA_ITEM CREATE d" in out and "MEDIA_ITEM CREATE e" in out
    assert "Resolved (1 of 1):\n    MEDIA_ITEM CREATE a" in out


def test_diff_as_json_is_diff_json(reports: Path) -> None:
    code, out, _err = cli(
        "report", "diff", str(run_folder(reports, "run-1")), str(run_folder(reports, "run-2")), "--json"
    )
    document = json.loads(out)
    assert code == 0
    assert (document["new"]["total"], document["resolved"]["total"], document["unchanged"]["total"]) == (
        2,
        1,
        2,
    )


def test_open_writes_an_html_report_with_the_trend_and_prints_its_path(reports: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "page.html"
    code, out, _err = cli("report", "open", str(run_folder(reports, "run-2")), "--out", str(target))
    assert code == 0
    assert out.strip() == str(target.resolve())
    page = target.read_text(encoding="utf-8")
    assert page.count('class="run"') == 2  # run-1 and run-2 in the trend
    assert (run_folder(reports, "run-2") / "records.jsonl.gz").resolve().as_uri() in page


def test_open_prints_the_stored_report_when_there_is_one(reports: Path) -> None:
    folder = run_folder(reports, "run-1")
    assert cli("report", "open", str(folder))[1].strip() == str((folder / "report.html").resolve())
    (folder / "report.html").write_text("stored", encoding="utf-8")
    assert cli("report", "open", str(folder))[1].strip() == str((folder / "report.html").resolve())
    assert (folder / "report.html").read_text(encoding="utf-8") == "stored"


def test_open_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    code, _out, err = cli("report", "open", str(tmp_path))
    assert code == 3 and "is not a run" in err


def test_baseline_create_prints_rules_for_every_record_of_the_run(reports: Path) -> None:
    code, out, err = cli("baseline", "create", str(run_folder(reports, "run-2")), "--expires", "2026-12-31")
    rules = IgnoreRules.parse(out)
    assert code == 0
    assert [(r.record_type, r.record_ids, r.subscriber_id, str(r.expires)) for r in rules.rules] == [
        ("MEDIA_ITEM", ("b", "c", "d", "e"), SUBSCRIBER, "2026-12-31")
    ]
    assert "4 records in 1 rules, printed" in err


def test_baseline_create_adds_to_an_existing_rules_file(reports: Path, tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.json"
    rules_file.write_text('{"rules": [{"recordType": "RENDITION"}]}', encoding="utf-8")
    code, _out, err = cli(
        "baseline", "create", str(run_folder(reports, "run-1")), "--out", str(rules_file), "--comment", "ok"
    )
    rules = IgnoreRules.parse(rules_file.read_bytes())
    assert code == 0 and f"added to {rules_file}" in err
    assert [(r.record_type, r.comment) for r in rules.rules] == [("RENDITION", None), ("MEDIA_ITEM", "ok")]


def test_baseline_create_refuses_a_broken_rules_file_instead_of_overwriting_it(
    reports: Path, tmp_path: Path
) -> None:
    rules_file = tmp_path / "rules.json"
    rules_file.write_text("{broken", encoding="utf-8")
    code, _out, err = cli("baseline", "create", str(run_folder(reports, "run-1")), "--out", str(rules_file))
    assert code == 3 and "invalid ignore rules" in err
    assert rules_file.read_text(encoding="utf-8") == "{broken"


@pytest.mark.parametrize(
    "command",
    [["report"], ["report", "show"], ["report", "diff"], ["report", "open"], ["baseline", "create"]],
)
def test_every_command_explains_itself(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: damdrift {' '.join(command)}" in capsys.readouterr().out


def test_check_accepts_the_on_change_policy_and_an_ignore_file() -> None:
    args: Any = build_parser().parse_args(
        ["check", "--notify-policy", "on-change", "--ignore-file", "rules.json"]
    )
    assert (args.notify_policy, args.ignore_file) == ("on-change", Path("rules.json"))


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("next week", "expected a date as YYYY-MM-DD, e.g. 2026-12-31; got 'next week'"),
        ("31/12/2030", "expected a date as YYYY-MM-DD"),
        ("2020-01-01", "2020-01-01 is in the past: give today"),
    ],
)
def test_baseline_expires_takes_only_a_future_iso_date_and_says_so(
    reports: Path, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = run_folder(reports, "run-2")
    with pytest.raises(SystemExit) as exited:
        main(["baseline", "create", str(folder), "--expires", value])
    assert exited.value.code == 3
    assert said in capsys.readouterr().err


def test_baseline_expires_accepts_a_future_date(reports: Path) -> None:
    code, out, _err = cli("baseline", "create", str(run_folder(reports, "run-2")), "--expires", "2099-12-31")
    assert code == 0
    assert '"expires": "2099-12-31"' in out


@pytest.mark.parametrize("subscriber", [SUBSCRIBER, HOST])
def test_diff_of_a_subscriber_compares_its_latest_check_with_the_one_before_from_a_relative_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subscriber: str
) -> None:
    """`report diff <subscriber> --reports reports-demo`, as a newcomer types it after `make demo`."""
    store_run(tmp_path / "reports-demo", "run-1", ["a", "b", "c"], hours=0)
    store_run(tmp_path / "reports-demo", "run-2", ["b", "c", "d", "e"], hours=24)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("report", "diff", subscriber, "--reports", "reports-demo")
    assert code == 0, err
    assert out.startswith("From run-1 (")
    assert "\n  to run-2 (" in out
    assert "+2 new, -1 resolved, 2 unchanged" in out


def test_without_reports_a_command_names_the_reports_folder_it_sees_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `make demo`, `report show <subscriber>` looks in dam-drift-reports: say to add
    `--reports reports-demo`, not to run a check into a folder nobody asked for."""
    store_run(tmp_path / "reports-demo", "run-1", ["a"])
    monkeypatch.chdir(tmp_path)
    code, _out, err = cli("report", "show", HOST)
    assert code == 3
    assert err == (
        "damdrift report show: dam-drift-reports holds no reports (no dam-drift-reports/reports/); "
        "reports-demo does: add --reports reports-demo\n"
    )
    code, _out, err = cli("report", "show", HOST, "--reports", "reports-demo")
    assert code == 0, err
