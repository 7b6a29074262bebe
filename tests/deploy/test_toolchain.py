"""One Python everywhere: what Lambda runs (template.yaml) is what the bytecode step compiles for, what the
venv, the linters and the type checker assume, and what these tests run on; and a machine without it
is told in one line what to install.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from scripts import precompile

from tests.deploy.sam_artifacts import ROOT
from tests.deploy.stack_view import stack

RUNTIME = "python3.13"
FIND_PYTHON = ROOT / "scripts" / "find-python.sh"


def test_the_functions_and_the_layer_run_and_build_on_python_313() -> None:
    view = stack()
    assert view.globals_function["Runtime"] == RUNTIME
    layer = view.resources["SharedLayer"]
    assert layer["Properties"]["CompatibleRuntimes"] == [RUNTIME]
    assert layer["Metadata"]["BuildMethod"] == RUNTIME


def test_the_bytecode_step_the_linters_and_the_type_checker_target_the_functions_runtime() -> None:
    assert precompile.RUNTIME == (3, 13)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.13"
    assert project["tool"]["ruff"]["target-version"] == "py313"
    assert project["tool"]["mypy"]["python_version"] == "3.13"


def test_the_tests_run_on_the_interpreter_lambda_runs() -> None:
    assert sys.version_info[:2] == (3, 13), "the venv is not 3.13: rm -rf .venv && make test"


def run_finder(tmp_path: Path, path_dirs: list[Path], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(FIND_PYTHON)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={"PATH": ":".join(str(d) for d in path_dirs), "HOME": str(tmp_path), **env},
    )


def test_the_finder_takes_a_working_313_from_pyenv_when_path_has_none(tmp_path: Path) -> None:
    bin_dir = tmp_path / "pyenv" / "versions" / "3.13.4" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3.13").symlink_to(sys.executable)
    found = run_finder(tmp_path, [Path("/usr/bin"), Path("/bin")], PYENV_ROOT=str(tmp_path / "pyenv"))
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(bin_dir / "python3.13")


def test_the_finder_refuses_a_python313_command_that_runs_another_version(tmp_path: Path) -> None:
    """A pyenv shim (or any wrapper) named python3.13 that does not run 3.13 is no 3.13."""
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python3.13").write_text(
        "#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n"
    )
    (shims / "python3.13").chmod(0o755)
    impostor = tmp_path / "impostor"
    impostor.mkdir()
    # Answers the finder's probe as a Python 3.11 would.
    (impostor / "python3.13").write_text("#!/bin/sh\necho '3.11 /opt/python3.11/bin/python3.11'\n")
    (impostor / "python3.13").chmod(0o755)
    for where in (shims, impostor):
        found = run_finder(
            tmp_path, [where, Path("/usr/bin"), Path("/bin")], PYENV_ROOT=str(tmp_path / "none")
        )
        if found.returncode == 0 and found.stdout.strip().startswith(("/usr/", "/bin/")):
            pytest.skip(f"this machine has a system python3.13 ({found.stdout.strip()})")
        assert found.returncode == 1
        assert found.stdout == ""
        lines = found.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "Python 3.13" in lines[0]
        assert "pyenv install 3.13" in lines[0]
