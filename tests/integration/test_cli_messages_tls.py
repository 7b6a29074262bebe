"""TLS messages against a simulator serving https: one line of ours per condition (issue 25, item 5)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from damdrift_cli.main import main
from damdrift_cli.simulator import Simulator
from tests.certificates import make_pki

DAMDRIFT = str(Path(sys.executable).with_name("damdrift"))


def test_a_trusted_certificate_for_another_name_says_the_name_does_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = make_pki(tmp_path / "pki", host="127.0.0.2")  # issued for 127.0.0.2; we connect to 127.0.0.1
    with Simulator(tls=pki.server_context) as simulator:
        monkeypatch.setenv("DX_PASSWORD", simulator.scenario.credentials.password)
        status = main(["subscribers", "--hostname", "127.0.0.1", "--dx-port", str(simulator.port),
                       "--ca-bundle", str(pki.ca_bundle)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 3
    assert "trusted but not issued for the name '127.0.0.1'" in err and "--hostname" in err
    assert "give its CA with --ca-bundle" not in err


def test_insecure_prints_one_line_of_ours_and_no_urllib3_warning(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with Simulator(tls=pki.server_context) as simulator:
        env = {**os.environ, "DX_PASSWORD": simulator.scenario.credentials.password}
        done = subprocess.run(
            [DAMDRIFT, "subscribers", "--hostname", "127.0.0.1", "--dx-port", str(simulator.port),
             "--insecure"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "damdrift: warning: --insecure: the TLS certificate of 127.0.0.1 is not verified; anyone on the "
        "path can read the DX credentials (use --ca-bundle for a private CA)"
    ]
