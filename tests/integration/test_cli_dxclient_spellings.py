"""dxclient's spellings work wherever dam-drift prints them, and a subscriber is its id or its target
host in every command (issue 25, item 4)."""

from collections.abc import Iterator

import pytest

from damdrift_cli.main import main
from damdrift_cli.simulator import Simulator

DRIFTED = "8c72ef60-e8d4-425d-903a-232bb8726222"


@pytest.fixture
def publisher(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(find_duration=0.5) as simulator:
        monkeypatch.setenv("DX_PASSWORD", simulator.scenario.credentials.password)
        yield simulator


@pytest.mark.parametrize("spelling", ["-subscriberId", "--subscriber-id"])
def test_check_takes_dxclients_subscriber_id_spelling_and_a_target_host(
    spelling: str, publisher: Simulator, capfd: pytest.CaptureFixture[str], tmp_path: str
) -> None:
    status = main(
        ["check", "-hostname", "127.0.0.1", "-dxProtocol", "http", "-dxPort", str(publisher.port),
         spelling, "DX-SUB-DRIFTED.example.com", "--out", str(tmp_path), "--poll-initial-wait", "1"]
    )  # fmt: skip
    out, err = capfd.readouterr()
    assert status == 1, err
    assert f"DRIFT    dx-sub-drifted.example.com (subscriber {DRIFTED})" in out
    assert "IN_SYNC" not in out and "ERRORED" not in out  # only the one named subscriber was checked
