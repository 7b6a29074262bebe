"""`damdrift check --demo` twice, through the real entry point: the second run is compared with the
first (one publisher identity), its drift moved a little, and every outcome says what to do next."""

import re
import socket
from pathlib import Path

import pytest

from damdrift_cli import demo
from damdrift_cli.main import main


@pytest.fixture(autouse=True)
def own_demo_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """A free port instead of 10039, so this test never meets another demo on the machine."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setattr(demo, "DEMO_PORT", sock.getsockname()[1])


def test_a_second_demo_run_shows_new_and_resolved_records_and_the_next_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--demo", "--out", str(tmp_path / "out")]) == 2
    first = capsys.readouterr()
    assert "none (the first check)" in first.out

    rules = tmp_path / "rules.json"
    rules.write_text('{"rules": [{"recordType": "MEDIA_ITEM", "subscriberId": "deregistered-sub"}]}')
    assert main(["check", "--demo", "--out", str(tmp_path / "out"), "--ignore-file", str(rules)]) == 2
    second = capsys.readouterr()
    assert "rules.0 names subscriber 'deregistered-sub', which is not registered" in second.err
    assert "(demo run 2)" in second.err
    drift = second.out.split("  DRIFT    ", 1)[1].split("\n\n", 1)[0]
    changes = re.search(r"since previous check: \+(\d+) new, -(\d+) resolved, (\d+) unchanged", drift)
    assert changes is not None, drift
    assert int(changes.group(1)) + int(changes.group(2)) > 0, "the demo's data moved between runs"

    report = re.search(r"report: (\S+)", drift)
    assert report is not None and report.group(1).endswith("/report.html") and Path(report.group(1)).is_file()
    assert "/reports/reports/" not in second.out
    folder = str(Path(report.group(1)).parent)
    assert f"damdrift baseline create {folder} --out ignore-rules.json" in drift
    assert "--remediate ask" in drift and "dxclient manage-dam-staging start-staging-resync" in drift

    errored = second.out.split("  ERRORED  ", 1)[1].split("\n\n", 1)[0]
    assert "mismatches unknown (the check did not finish)" in errored
    assert "hint:  DX's findStagingMismatch operation is FAILED" in errored
    assert "Traceback" not in second.out + second.err
    # the run's notices (one drift, one ops) list them; the run's cost is counted from its calls
    assert "notice: in the run's notice (SENT)" in drift and "notice: in the run's notice (SENT)" in errored
    assert re.search(r"^cost: transitions=\d+ .* total=\$[0-9.]+ at us-east-1 list prices$", second.out, re.M)
