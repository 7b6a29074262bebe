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


def test_check_takes_a_target_host_in_subscriber_dam_and_two_way_too(
    publisher: Simulator, capfd: pytest.CaptureFixture[str], tmp_path: str
) -> None:
    """`--subscriber-dam HOST=URL` names the subscriber as `--subscriber-id` may; so does `--two-way`,
    whose refusal is what keeps a resync off a two-way subscriber."""
    dam = publisher.subscriber_dam(DRIFTED)
    common = ["check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", str(publisher.port),
              "--subscriber-id", "dx-sub-drifted.example.com", "--out", str(tmp_path),
              "--poll-initial-wait", "1", "--remediate", "auto",
              "--subscriber-dam", f"DX-SUB-DRIFTED.example.com=http://127.0.0.1:{dam.port}"]  # fmt: skip
    assert main([*common, "--two-way", "dx-sub-drifted.example.com"]) == 1
    out, err = capfd.readouterr()
    assert "remediation: REFUSED: the subscriber is two-way staging" in out, out + err
    assert main(common) == 0
    out, err = capfd.readouterr()
    assert "remediation: VERIFIED_IN_SYNC" in out, out + err


@pytest.mark.parametrize("option", ["--subscriber-dam", "--two-way"])
def test_check_refuses_a_subscriber_dam_or_two_way_for_a_subscriber_dx_does_not_know(
    option: str, publisher: Simulator, capfd: pytest.CaptureFixture[str], tmp_path: str
) -> None:
    value = "dx-sub-typo.example.com" + ("=http://127.0.0.1:9" if option == "--subscriber-dam" else "")
    status = main(
        ["check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", str(publisher.port),
         "--out", str(tmp_path), "--remediate", "auto", option, value]
    )  # fmt: skip
    _out, err = capfd.readouterr()
    assert status == 3
    assert err.startswith(f"damdrift: {option} dx-sub-typo.example.com: not registered on 127.0.0.1"), err
