"""The CLI's messages say one thing once, in its own words (issue 25, item 5)."""

import argparse
import json
from pathlib import Path

import pytest

from damdrift_cli.commands.check import progress_text
from damdrift_cli.main import main
from damdrift_cli.options import add_connection_arguments, publisher_input, resolve_connection


def options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_arguments(parser)
    return parser.parse_args(list(argv))


def test_a_usage_error_prints_the_error_and_one_hint_not_the_usage_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--dx-protocol", "ftp"])
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "usage:" not in err
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(
        "damdrift check: error: argument --dx-protocol/-dxProtocol: invalid choice: 'ftp'"
    )
    assert lines[1] == "  (`damdrift check --help` lists the options)"


def test_a_long_error_on_the_progress_line_is_cut_before_its_json_not_inside_it() -> None:
    detail = json.dumps({"operation": {"status": "FAILED", "errorInfo": {"message": "x" * 400}}})
    shown = progress_text(f"DX answered 500 on GET /operations: {detail}")
    assert shown == "DX answered 500 on GET /operations ... (cut)"
    assert progress_text("short: {}") == "short: {}"
    words = progress_text("word " * 100)
    assert len(words) < 320 and words.endswith("word ... (cut)")


def test_a_misspelt_config_key_is_named_with_the_key_it_should_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"hostName": "dx.example.com", "dxWASUsername": "wasadmin", "dxPort": 443}))
    args = options("--config", str(config))
    resolve_connection(args)
    err = capsys.readouterr().err
    assert "--config" in err and "'hostName' is not read; did you mean 'hostname'?" in err
    assert "dxWASUsername" not in err  # a dxclient key dam-drift does not need is no mistake
    assert args.hostname is None


def test_the_plain_http_warning_is_for_traffic_that_leaves_the_machine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        publisher_input(options("--hostname", loopback, "--dx-protocol", "http"))
        assert capsys.readouterr().err == "", loopback
    publisher_input(options("--hostname", "dx.example.com", "--dx-protocol", "http"))
    assert "cross the network unencrypted to dx.example.com" in capsys.readouterr().err


def test_check_without_a_host_from_a_misspelt_config_names_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"hostName": "dx.example.com"}')
    assert main(["check", "--config", str(config), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "did you mean 'hostname'?" in err and "give --hostname" in err


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["check", "--hostname", "dx.example.com", "--bogus"], "damdrift check --help"),
        (["report", "show", "sub-1", "--bogus"], "damdrift report show --help"),
    ],
)
def test_an_unknown_option_points_at_the_help_that_lists_the_commands_options(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse reports leftovers from the top parser, whose --help lists no subcommand's options."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 3
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("unrecognized arguments: --bogus"), lines
    assert lines[1] == f"  (`{hint}` lists the options)"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ca-bundle", "ca.pem"], "damdrift: --insecure and --ca-bundle are for --dx-protocol https"),
        (["--insecure"], "damdrift: --insecure and --ca-bundle are for --dx-protocol https"),
    ],
)
def test_tls_options_on_plain_http_are_refused_in_the_options_words(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not the execution input's verifyTls/caBundle/dxProtocol, which nobody typed."""
    common = ["--hostname", "127.0.0.1", "--dx-protocol", "http", "--dx-port", "9", "--out", str(tmp_path)]
    assert main(["check", *common, *argv]) == 3
    assert capsys.readouterr().err.splitlines()[-1] == message
