"""The cold-start benchmark's set-up: which functions it measures and where their bytecode comes from.

No timing here (that is the benchmark's own business): only that every function is picked up, that the
environment, not the caller's, decides bytecode caching, and that a precompiled layer holds bytecode
Lambda will use as it is.
"""

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def coldstart(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))  # the benchmarks import their helpers as `support`
    return importlib.import_module("coldstart")


def test_every_function_folder_with_a_handler_is_measured(coldstart: ModuleType) -> None:
    expected = sorted(p.parent.name for p in (BENCH.parent / "functions").glob("*/app.py"))
    assert coldstart.handlers() == expected
    assert {"authenticate", "poll_status", "trigger_mismatch", "fetch_report"} <= set(expected)


def test_the_source_tree_is_measured_with_every_module_compiled_once(
    coldstart: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # as this machine's shells set it
    setup = coldstart.Setup.cached(tmp_path)
    assert "PYTHONDONTWRITEBYTECODE" not in setup.env
    assert setup.env["PYTHONPYCACHEPREFIX"] == str(tmp_path)
    assert setup.env["REPORT_BUCKET"] == coldstart.FUNCTION_ENV["REPORT_BUCKET"]


def test_a_built_layer_is_read_as_lambda_reads_it(
    coldstart: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "elsewhere"))
    setup = coldstart.Setup.built(tmp_path, "built")
    assert setup.env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "PYTHONPYCACHEPREFIX" not in setup.env
    assert f"sys.path[:0] = [{str(tmp_path)!r}" in setup.script("import app", None)


def test_a_precompiled_copy_holds_bytecode_that_source_times_cannot_invalidate(
    coldstart: ModuleType, tmp_path: Path
) -> None:
    layer = tmp_path / "layer"
    (layer / "pkg").mkdir(parents=True)
    (layer / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (layer / "pkg" / "__pycache__").mkdir()
    (layer / "pkg" / "__pycache__" / "stale.pyc").write_bytes(b"not bytecode")

    copy = coldstart.precompiled_copy(layer, tmp_path / "out")

    cached = Path(importlib.util.cache_from_source(str(copy / "pkg" / "__init__.py")))
    assert cached.is_file()
    assert not (copy / "pkg" / "__pycache__" / "stale.pyc").exists()
    flags = int.from_bytes(cached.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, source never checked (PycInvalidationMode.UNCHECKED_HASH)
    original = Path(importlib.util.cache_from_source(str(layer / "pkg" / "__init__.py")))
    assert not original.exists()  # the layer itself is left as it was
