"""The command line's TLS options: verification unless --insecure, which warns every time it is used."""

import argparse

import pytest

from damdrift.execution_input import CheckInput
from damdrift_cli.options import add_connection_arguments, publisher_input


def options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_arguments(parser, hostname_required=True)
    return parser.parse_args(["--hostname", "dx.example.com", *argv])


def test_tls_is_verified_by_default_and_a_ca_bundle_is_passed_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert "verifyTls" not in publisher_input(options())
    publisher = publisher_input(options("--ca-bundle", "/etc/dx/ca.pem"))
    assert publisher["caBundle"] == "/etc/dx/ca.pem"
    assert capsys.readouterr().err == ""


def test_insecure_turns_verification_off_and_warns_each_time(capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        publisher = publisher_input(options("--insecure"))
        assert publisher["verifyTls"] is False
        assert "not verified" in capsys.readouterr().err
    assert CheckInput.model_validate({"publisher": publisher}).publisher.verify_tls is False
