"""`damdrift doctor` as an administrator runs it in the second hour: with dxclient's config.json, and
against a DX whose sessions end every few requests (issue 25, item 3)."""

import json
from pathlib import Path

import pytest

from damdrift.dx.client import DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift_cli.main import main
from damdrift_cli.simulator import ManualClock, Simulator

DRIFTED = "8c72ef60-e8d4-425d-903a-232bb8726222"


def dxclient_config(path: Path, simulator: Simulator) -> Path:
    path.write_text(
        json.dumps(
            {
                "hostname": "127.0.0.1",
                "dxProtocol": "http",
                "dxPort": simulator.port,
                "dxUsername": simulator.username,
                "dxPassword": simulator.password,
            }
        )
    )
    return path


def test_doctor_reads_dxclients_config_json_like_check_does(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DX_PASSWORD", raising=False)
    with Simulator() as simulator:
        status = main(["doctor", "--config", str(dxclient_config(tmp_path / "config.json", simulator))])
    out, err = capfd.readouterr()
    assert status == 0, out + err
    assert "PASS        login" in out and "--hostname is required" not in err


def test_doctor_logs_in_again_when_dx_ends_the_session_and_reports_what_it_saw(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DX_PASSWORD", raising=False)
    clock = ManualClock()
    with Simulator(clock=clock) as simulator:
        client = DxClient(
            DxConnection.model_validate(
                {"hostname": "127.0.0.1", "dxProtocol": "http", "dxPort": simulator.port}
            ),
            DxCredentials.model_validate({"username": simulator.username, "password": simulator.password}),
        )
        client.login()
        client.start_find_mismatch(DRIFTED)
        clock.advance(3600)  # the find is done: its rows are in the mismatch log
        client.logout()
        for n in range(1, 40):  # every session ends after 5 more requests
            simulator.inject_fault("*", "expire_sessions", after=5 * n, times=1)
        status = main(["doctor", "--config", str(dxclient_config(tmp_path / "config.json", simulator)),
                       "-subscriberId", DRIFTED])  # fmt: skip
    out, _ = capfd.readouterr()
    # No read failed on the ended sessions (the logout line's own 401 is the session really ending).
    assert not [
        line
        for line in out.splitlines()
        if "HTTP 401" in line and not line.startswith(("PASS        logout", "WARN        session kept"))
    ], out
    assert "PASS        mismatch log dx-sub-drifted.example.com" in out and "590 rows" in out
    assert "no mismatch rows to look at" not in out
    kept = next(line for line in out.splitlines() if "session kept" in line)
    assert kept.startswith("WARN") and "the doctor logged in again each time, as a check does" in kept
    assert status == 1, out  # a warning, not a failure
