"""Every command `damdrift check` prints for what to do next runs as printed: each test parses the
printed command with shlex and runs it through the real entry point (issue 25, items 1 and 6)."""

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from damdrift_cli.main import main
from damdrift_cli.simulator import ManualClock, Simulator

DRIFTED = "8c72ef60-e8d4-425d-903a-232bb8726222"  # the default scenario's drifting subscriber
DRIFTED_HOST = "dx-sub-drifted.example.com"


@pytest.fixture
def publisher(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(find_duration=0.5) as simulator:
        monkeypatch.setenv("DX_PASSWORD", simulator.scenario.credentials.password)
        yield simulator


def damdrift(capfd: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def step(out: str, what: str) -> list[str]:
    """The command printed under the next step that starts with ``what``, as argv (without `damdrift`)."""
    lines = out.splitlines()
    for number, line in enumerate(lines):
        if line.strip().startswith(what):
            words = shlex.split(lines[number + 1], comments=True)
            assert words[0] == "damdrift", lines[number + 1]
            return words[1:]
    raise AssertionError(f"no next step {what!r} in:\n{out}")


def test_a_plain_http_check_prints_remediation_and_baseline_commands_that_run_as_printed(
    publisher: Simulator, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out_dir = "checks"
    status, out, _ = damdrift(
        capfd,
        ["check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", str(publisher.port),
         "--out", out_dir, "--subscriber-id", DRIFTED, "--poll-initial-wait", "1", "--poll-max-wait", "1"],
    )  # fmt: skip
    assert status == 1, out

    remediate = step(out, "remediate:")
    assert remediate[remediate.index("--dx-protocol") + 1] == "http"
    assert remediate[remediate.index("--out") + 1] == out_dir
    status, out, err = damdrift(capfd, remediate)
    assert status == 1, err  # ran against the publisher (no "answers plain http"), found the drift again
    refusal = next(line for line in out.splitlines() if "remediation: REFUSED" in line)
    assert f"--subscriber-dam {DRIFTED}=https://" in refusal and "subscriberOptions" not in refusal
    again = step(out, "remediate:")
    assert again != remediate, "the step under a refusal must not repeat the refused command"
    assert again[again.index("--subscriber-dam") + 1] == f"{DRIFTED}=https://{DRIFTED_HOST}"

    baseline = step(out, "accept this drift")
    assert damdrift(capfd, baseline)[0] == 0
    assert (tmp_path / "ignore-rules.json").is_file()  # where the user is, not in the report folder
    status, out, _ = damdrift(capfd, step(out, "then check with the baseline"))
    assert status == 0, out  # every record of the drift is baselined: IN_SYNC


def test_the_html_reports_baseline_step_runs_from_where_the_reports_folder_is(
    publisher: Simulator, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, _ = damdrift(
        capfd,
        ["check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", str(publisher.port),
         "--subscriber-id", DRIFTED, "--poll-initial-wait", "1", "--poll-max-wait", "1", "--out", "checks"],
    )  # fmt: skip
    assert status == 1
    page = next(Path("checks").glob("reports/*/*/*/*/*/*/report.html")).read_text()
    steps = page.split('id="next-steps"', 1)[1].split("</ol>", 1)[0]
    commands = [shlex.split(pre.split("</pre>", 1)[0]) for pre in steps.split("<pre>")[1:]]
    baseline = next(c for c in commands if c[:3] == ["damdrift", "baseline", "create"])
    assert damdrift(capfd, baseline[1:])[0] == 0
    assert Path("ignore-rules.json").is_file()
    remediate = next(c for c in commands if "--remediate" in c)
    assert remediate[remediate.index("--dx-protocol") + 1] == "http"
    # A local check's page carries the check's own options, --out included, as the terminal does:
    # the check with the baseline is compared with the checks already in that folder.
    assert remediate[remediate.index("--out") + 1] == "checks"
    with_baseline = next(c for c in commands if "--ignore-file" in c)
    status, out, err = damdrift(capfd, with_baseline[1:])
    assert status == 0, out
    assert "Compared with the checks in checks/" in err


def test_baseline_diff_and_open_take_a_subscriber_by_id_or_host_and_use_its_latest_check(
    publisher: Simulator, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    check = ["check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", str(publisher.port),
             "--subscriber-id", DRIFTED, "--poll-initial-wait", "1", "--poll-max-wait", "1"]  # fmt: skip
    assert damdrift(capfd, check)[0] == 1
    assert damdrift(capfd, check)[0] == 1

    status, _, err = damdrift(capfd, ["baseline", "create", DRIFTED_HOST, "--out", "rules.json"])
    assert status == 0 and "Baseline of local-" in err
    status, out, _ = damdrift(capfd, ["report", "diff", DRIFTED])
    assert status == 0 and "unchanged" in out
    status, out, _ = damdrift(capfd, ["report", "open", DRIFTED])
    assert status == 0 and out.strip().endswith("report.html") and Path(out.strip()).is_file()


def test_a_subscriber_checked_against_two_publishers_is_named_not_silently_picked(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # two publishers: what a demo on a taken port leaves behind
        with Simulator(find_duration=0.5) as simulator:
            monkeypatch.setenv("DX_PASSWORD", simulator.scenario.credentials.password)
            check = ["check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port",
                     str(simulator.port), "--subscriber-id", DRIFTED, "--poll-initial-wait", "1"]  # fmt: skip
            assert damdrift(capfd, check)[0] == 1
    status, out, err = damdrift(capfd, ["report", "show", DRIFTED])
    assert status == 0 and "checked against 2 publishers" in err
    assert out.count("Publisher:") == 2
    status, _, err = damdrift(capfd, ["baseline", "create", DRIFTED])
    assert status != 0 and "add --publisher 127.0.0.1_" in err
    publisher = err.split("add --publisher ", 1)[1].split()[0]
    assert damdrift(capfd, ["baseline", "create", DRIFTED, "--publisher", publisher])[0] == 0


def test_a_find_longer_than_the_wait_ends_in_one_sentence_whose_commands_run_as_printed(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator's clock stands still, so its find runs until the test moves the clock: longer than
    any wait, without the test waiting for it."""
    monkeypatch.chdir(tmp_path)
    clock = ManualClock()
    with Simulator(clock=clock, find_duration=1000) as simulator:
        monkeypatch.setenv("DX_PASSWORD", simulator.scenario.credentials.password)
        status, out, err = damdrift(
            capfd,
            ["check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", str(simulator.port),
             "--subscriber-id", DRIFTED, "--poll-initial-wait", "1", "--poll-max-wait", "1", "--wait", "12"],
        )  # fmt: skip
        assert status == 2, out
        assert "Waiting up to 12 s for the check (--wait)" in err
        assert f"[PollStatus] {DRIFTED_HOST}: DX's find started" in err
        sentence = next(line.strip() for line in out.splitlines() if line.strip().startswith("Gave up"))
        assert sentence.startswith(
            f"Gave up waiting after 12 s; the checks of {DRIFTED_HOST} were still running"
        )
        assert f"DX is still running the find of {DRIFTED_HOST}" in sentence
        assert "RUNNING in" not in out and "error: None" not in out
        assert "No notifications were published" in out and "The notices' links" not in err
        look, again = (shlex.split(command)[1:] for command in re.findall(r"`([^`]+)`", sentence))

        status, listed, _ = damdrift(capfd, look)
        assert status == 0 and "FIND_MISMATCH_START" in listed
        clock.advance(1000)  # DX's find ends, and the next one takes no time
        simulator.configure(find_duration_seconds=0)
        status, out, _ = damdrift(capfd, again)
        assert status == 1, out
        assert f"DRIFT    {DRIFTED_HOST}" in out
        assert "could not store a check's outcome" not in out  # the stopped run's child stopped with it
