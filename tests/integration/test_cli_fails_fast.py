"""`damdrift` as a new user meets it: a wrong host, port, protocol or password fails at the first login,
before the state machine starts, with the cause in one sentence, no traceback and exit status 3."""

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from damdrift_cli.main import main
from damdrift_cli.simulator import Scenario, Simulator, load_scenario
from tests.certificates import make_pki

PASSWORD = "cli-Pa55-word-17"


@pytest.fixture
def publisher(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    demo = load_scenario("default").model_dump(by_alias=True)
    scenario = Scenario.model_validate({**demo, "credentials": {"password": PASSWORD}})
    monkeypatch.setenv("DX_PASSWORD", PASSWORD)
    with Simulator(scenario) as simulator:
        yield simulator


def damdrift(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def test_a_port_where_nothing_listens_fails_before_the_check_starts_naming_the_address(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DX_PASSWORD", PASSWORD)
    port = free_port()
    status, _, err = damdrift(
        capsys, "check", "--hostname", "127.0.0.1", "--dx-port", str(port), "--out", str(tmp_path)
    )
    assert status == 3
    assert f"nothing listens on 127.0.0.1:{port}" in err
    assert "Running the drift check" not in err


def test_https_against_a_plain_http_publisher_says_to_use_http(
    publisher: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = damdrift(
        capsys, "check", "--hostname", "127.0.0.1", "--dx-port", str(publisher.port), "--out", str(tmp_path)
    )
    assert status == 3
    assert f"127.0.0.1:{publisher.port} answers plain http: use --dx-protocol http" in err
    assert "CA bundle" not in err


def test_a_wrong_password_fails_at_the_first_login_and_is_never_printed(
    publisher: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DX_PASSWORD", "not-the-Pa55word")
    status, out, err = damdrift(
        capsys, "check", "-hostname", "127.0.0.1", "-dxPort", str(publisher.port), "-dxProtocol", "http",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 3
    assert "refused the login of user 'wpsadmin'" in err and "--dx-username" in err
    assert "not-the-Pa55word" not in out + err


def test_an_unknown_subscriber_id_is_refused_listing_the_registered_ones(
    publisher: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = damdrift(
        capsys, "check", "--hostname", "127.0.0.1", "--dx-port", str(publisher.port), "--dx-protocol", "http",
        "--subscriber-id", "no-such-id", "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 3
    assert "--subscriber-id no-such-id: not registered" in err
    for subscriber in publisher.scenario.subscribers:
        assert subscriber.id in err


def test_subscribers_lists_id_target_host_and_statuses_with_dxclient_spellings(
    publisher: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = damdrift(
        capsys, "subscribers", "-hostname", "127.0.0.1", "-dxPort", str(publisher.port), "-dxProtocol", "http"
    )
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "TARGET", "HOST", "SYNC", "STATUS", "RESYNC", "STATUS", "LAST", "RESYNC"]
    assert sorted(row.split()[0] for row in rows) == sorted(s.id for s in publisher.scenario.subscribers)


def test_config_reads_dxclients_config_json_and_options_on_the_command_line_win(
    publisher: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DX_PASSWORD")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "dxProtocol": "http",
                "hostname": "127.0.0.1",
                "dxPort": str(free_port()),  # dxclient keeps ports as text
                "dxUsername": "wpsadmin",
                "dxPassword": PASSWORD,
            }
        )
    )
    port = str(publisher.port)
    status, out, err = damdrift(capsys, "subscribers", "--config", str(config), "--dx-port", port)
    assert status == 0, err
    assert publisher.scenario.subscribers[0].id in out
    assert PASSWORD not in out + err


def test_a_broken_config_file_is_named_with_what_is_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"hostname": "dx.example.com", "dxPort": "https"}')
    status, _, err = damdrift(capsys, "subscribers", "--config", str(config))
    assert status == 3
    assert f"--config {config}: dxPort is 'https'; expected a port number" in err


def test_a_hostname_with_a_scheme_is_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DX_PASSWORD", PASSWORD)
    status, _, err = damdrift(capsys, "check", "--hostname", "http://dx.example.com", "--out", str(tmp_path))
    assert status == 3
    assert "--hostname 'http://dx.example.com': expected a bare host name" in err
    assert "stackTrace" not in err


def test_the_password_option_is_answered_with_how_the_password_is_passed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for spelling in ("--dx-password", "-dxPassword"):
        with pytest.raises(SystemExit) as exited:
            main(["check", "--hostname", "dx.example.com", spelling, "secret"])
        assert exited.value.code == 3
        err = capsys.readouterr().err
        assert "set DX_PASSWORD" in err and "prompt" in err and "secret" not in err


def test_a_usage_error_exits_3_because_2_means_a_check_errored(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--dx-protocol", "ftp"])
    assert exited.value.code == 3


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("damdrift 0.")


@pytest.mark.parametrize("kind", ["file", "folder under a file", "read-only folder"])
def test_an_out_that_cannot_take_reports_fails_before_the_check_with_status_3(
    kind: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("not a folder")
    elif kind == "folder under a file":
        out.write_text("not a folder")
        out = out / "reports"
    else:
        out.mkdir()
        out.chmod(0o500)
        if os.access(out, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: a read-only folder is writable")
    status, _, err = damdrift(capsys, "check", "--demo", "--out", str(out))
    assert status == 3
    assert f"--out {out}: cannot write reports there" in err
    assert "DX simulator" not in err, "fails before anything starts"


def test_a_reader_that_goes_away_ends_the_command_quietly(publisher: Simulator) -> None:
    """`damdrift subscribers | head -0`: the real entry point, its stdout a pipe nobody reads."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = subprocess.run(
            [str(Path(sys.executable).with_name("damdrift")), "subscribers", "--hostname", "127.0.0.1",
             "--dx-port", str(publisher.port), "--dx-protocol", "http"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert process.returncode == 141
    assert "Traceback" not in process.stderr and "BrokenPipe" not in process.stderr


def test_approve_needs_no_aws_settings_and_an_unreachable_approval_url_is_one_sentence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    link = f"http://127.0.0.1:{free_port()}/?id=" + "k" * 32
    status, _, err = damdrift(capsys, "approve", link)
    assert status == 3
    assert err.count("\n") == 1 and "cannot reach the approval URL" in err and "k" * 32 not in err


@pytest.mark.parametrize(
    ("command", "option", "default"),
    [
        (["check"], "--out OUT", "(default: dam-drift-reports)"),
        (["check"], "--dx-protocol", "default: https"),
        (["check"], "--dx-username", "(default: wpsadmin)"),
        (["check"], "--busy-policy", "(default: wait)"),
        (
            ["report", "show"],
            "--reports REPORTS",
            "default: dam-drift-reports; make demo's is",
        ),
        (["report", "open"], "--trend TREND", "(default 30)"),
    ],
)
def test_help_shows_the_defaults(
    command: list[str], option: str, default: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    options = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())
    assert default in options.split(option, 1)[1].split(" --", 1)[0]


def test_dx_protocol_http_on_loopback_does_not_warn_about_the_network(
    publisher: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = damdrift(
        capsys,
        "subscribers",
        "--hostname",
        "127.0.0.1",
        "--dx-port",
        str(publisher.port),
        "--dx-protocol",
        "http",
    )
    assert status == 0
    # 127.0.0.1 never leaves the machine (test_cli_messages: another host is warned about)
    assert "unencrypted" not in err


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("-dxport", "-dxPort"), ("--host-name", "--hostname"), ("-dxusername", "-dxUsername")],
)
def test_a_misspelt_option_is_answered_with_the_closest_spelling(
    typed: str, meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", typed, "x"])
    assert exited.value.code == 3
    assert f"(did you mean {meant}?)" in capsys.readouterr().err


@pytest.fixture
def tls_publisher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, Path]]:
    pki = make_pki(tmp_path / "pki")
    demo = load_scenario("default").model_dump(by_alias=True)
    scenario = Scenario.model_validate({**demo, "credentials": {"password": PASSWORD}})
    monkeypatch.setenv("DX_PASSWORD", PASSWORD)
    with Simulator(scenario, tls=pki.server_context) as simulator:
        yield simulator, pki.ca_bundle


def test_an_untrusted_certificate_is_named_with_the_option_that_fixes_it(
    tls_publisher: tuple[Simulator, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, ca_bundle = tls_publisher
    where = ["--hostname", "127.0.0.1", "--dx-port", str(simulator.port)]
    status, _, err = damdrift(capsys, "subscribers", *where)
    assert status == 3
    assert f"the TLS certificate of 127.0.0.1:{simulator.port} is not trusted" in err and "--ca-bundle" in err
    status, out, _ = damdrift(capsys, "subscribers", *where, "--ca-bundle", str(ca_bundle))
    assert status == 0 and simulator.scenario.subscribers[0].id in out


def test_http_against_an_https_publisher_says_to_use_https(
    tls_publisher: tuple[Simulator, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, _ = tls_publisher
    status, _, err = damdrift(
        capsys,
        "subscribers",
        "--hostname",
        "127.0.0.1",
        "--dx-port",
        str(simulator.port),
        "--dx-protocol",
        "http",
    )
    assert status == 3
    assert f"127.0.0.1:{simulator.port} answers https: use --dx-protocol https" in err


def test_a_subscriber_list_naming_a_directory_fails_before_the_check_and_leaves_it_alone(
    publisher: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("the operator's")
    listed = [{"id": str(victim), "targetHost": "sub.example.com"}]
    publisher.inject_fault("GET /staging/subscriber", "json", body=listed)
    out = tmp_path / "out"
    status, _, err = damdrift(
        capsys, "check", "--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", str(publisher.port),
        "--out", str(out),
    )  # fmt: skip
    assert status == 3
    assert "listing the subscribers failed: GET /staging/subscriber: subscriber 1's 'id' is unusable" in err
    assert "first login failed" not in err  # the login went through
    assert (victim / "keep.txt").read_text() == "the operator's"
