"""``damdrift simulate``: starts, prints its URL, serves, stops on SIGTERM."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from damdrift_cli.commands import simulate

pytestmark = pytest.mark.integration

SECRET = "not-the-default-pw-4711"


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="damdrift")
    simulate.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["simulate", *argv])


def test_the_command_runs_as_a_process_and_stops_on_sigterm() -> None:
    env = {**os.environ, "DX_PASSWORD": SECRET}
    command = [sys.executable, "-m", "damdrift_cli.commands.simulate", "--port", "0", "--scenario", "empty"]
    with subprocess.Popen(
        [*command, "--dx-username", "dxadmin"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        try:
            assert first.startswith("DX simulator listening on http://127.0.0.1:")
            base_url = first.split()[-1]
            credentials = {"username": "dxadmin", "password": SECRET}
            login = requests.post(f"{base_url}/dx/api/core/v1/auth/login", json=credentials, timeout=5)
            assert login.status_code == 200
            listed = requests.get(
                f"{base_url}/dx/api/dam/v1/staging/subscriber", cookies=login.cookies, timeout=5
            )
            assert listed.json() == []
        finally:
            process.terminate()
        process.wait(timeout=10)
        # Read through the text wrappers: readline() above may already hold the next lines.
        rest, errors = process.stdout.read(), process.stderr.read()

    assert process.returncode == 0, errors
    assert "user dxadmin" in rest and "DX_PASSWORD" in rest
    assert SECRET not in first + rest + errors
    assert "DX simulator stopped." in rest


def test_serve_prints_the_url_subscribers_and_the_default_password() -> None:
    out = io.StringIO()
    stop = threading.Event()
    args = _parse("--port", "0", "--find-duration", "0.5")
    worker = threading.Thread(target=lambda: simulate.serve(args, stop, out))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while "Press Ctrl-C" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.01)
        printed = out.getvalue()
        base_url = printed.splitlines()[0].split()[-1]
        assert requests.post(f"{base_url}/dx/api/core/v1/auth/logout", timeout=5).status_code == 200
    finally:
        stop.set()
        worker.join(timeout=10)

    assert not worker.is_alive()
    assert "user wpsadmin, password wpsadmin" in printed
    assert "find 0.5 s" in printed
    for host in ("dx-sub-in-sync.example.com", "dx-sub-drifted.example.com", "dx-sub-find-fails.example.com"):
        assert host in printed
    assert "find fails" in printed


def test_serve_prints_each_subscriber_dams_url_and_serves_it() -> None:
    out = io.StringIO()
    stop = threading.Event()
    worker = threading.Thread(target=lambda: simulate.serve(_parse("--port", "0"), stop, out))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while "Press Ctrl-C" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.01)
        lines = out.getvalue().splitlines()
        [dam_line] = [line for line in lines if "subscriber DAM:" in line]
        dam_url = dam_line.split()[2]
        credentials = {"username": "wpsadmin", "password": "wpsadmin"}
        login = requests.post(f"{dam_url}/dx/api/core/v1/auth/login", json=credentials, timeout=5)
        operations = requests.get(f"{dam_url}/dx/api/dam/v1/operations", cookies=login.cookies, timeout=5)
    finally:
        stop.set()
        worker.join(timeout=10)

    publisher_url = lines[0].split()[-1]
    assert dam_url.startswith("http://127.0.0.1:") and dam_url != publisher_url
    assert "dx-sub-drifted.example.com" in lines[lines.index(dam_line) - 1], "printed under its subscriber"
    assert (login.status_code, operations.json()) == (200, [])


def test_a_bad_scenario_exits_3_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate.serve(_parse("--scenario", "nope"), threading.Event()) == 3
    assert "no scenario 'nope'" in capsys.readouterr().err


def test_a_negative_find_duration_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse("--find-duration", "-1")
    assert exited.value.code == 2
    assert "--find-duration" in capsys.readouterr().err


def test_help_names_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse("--help")
    text = capsys.readouterr().out
    for option in (
        "--port",
        "--host",
        "--scenario",
        "--find-duration",
        "--dx-username",
        "DX_PASSWORD",
        "large",
    ):
        assert option in text


def test_the_damdrift_command_has_the_subcommand() -> None:
    main = pytest.importorskip("damdrift_cli.main", reason="the damdrift CLI also needs the check command")

    args = main.build_parser().parse_args(["simulate", "--port", "0"])

    assert args.run is simulate.run
