"""What ``sam build`` produced: the layer holds its pinned dependencies for the right architecture and
the library, and each built handler imports from the built function folder plus the built layer in a
clean interpreter, as Lambda would load it.

The builds come from scripts/check-template.sh (``.aws-sam/check/<arch>/``); a test skips when they
are absent or older than the working tree, and the script runs these tests with
``DAMDRIFT_REQUIRE_SAM_BUILD=1`` so that in CI a skip is a failure.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml

from tests.deploy.sam_artifacts import (
    DEPLOYED_ARCHITECTURE,
    ELF_MACHINE,
    ROOT,
    SAM,
    build_architectures,
    current_build_dir,
    elf_machine,
    host_architecture,
)
from tests.deploy.stack_view import stack

FUNCTIONS = {
    "AuthenticateFunction": "authenticate",
    "TriggerMismatchFunction": "trigger_mismatch",
    "PollStatusFunction": "poll_status",
    "FetchReportFunction": "fetch_report",
    "RemediateFunction": "remediate",
    "RequestApprovalFunction": "request_approval",
    "SummariseRunFunction": "summarise_run",
    "ApproveFunction": "approve",
    "DoctorFunction": "doctor",
}
#: The bytecode Lambda's python3.13 runtime loads without recompiling: CPython 3.13's magic number
#: (importlib.util.MAGIC_NUMBER of 3.13.x), written out so that a build by any other Python fails here.
PYTHON_313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"


@pytest.fixture(scope="module")
def builds() -> Path:
    found = current_build_dir()
    if found is not None:
        return found
    reason = (
        "no current sam build: run scripts/check-template.sh (it builds into .aws-sam/check/)"
        if SAM.exists()
        else f"the SAM CLI virtualenv is absent ({SAM}): run scripts/check-template.sh, which creates it"
    )
    if os.environ.get("DAMDRIFT_REQUIRE_SAM_BUILD") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def layer_dir(builds: Path, architecture: str) -> Path:
    return builds / architecture / "SharedLayer" / "python"


def pinned_requirements() -> dict[str, str]:
    """Every package of the layer's lock (requirements.txt: exact pins, each with its hashes)."""
    pins = {}
    text = (ROOT / "layers" / "shared" / "requirements.txt").read_text(encoding="utf-8")
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            requirement = line.split()[0]
            name, _, version = requirement.partition("==")
            assert version, f"layer requirement not pinned exactly: {line}"
            pins[re.sub(r"[-_.]+", "_", name).lower()] = version
    return pins


@pytest.mark.parametrize("architecture", build_architectures())
def test_layer_holds_every_pinned_requirement(builds: Path, architecture: str) -> None:
    layer = layer_dir(builds, architecture)
    installed = {}
    for info in layer.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        installed[re.sub(r"[-_.]+", "_", name).lower()] = version
    for name, version in pinned_requirements().items():
        assert installed.get(name) == version, f"{name}=={version} missing from the {architecture} layer"
    # The SDK ships in the layer (the runtime's own boto3 may predate S3 conditional writes), and
    # nothing the lock does not name is installed beside it.
    assert {"boto3", "botocore", "s3transfer", "urllib3"} <= installed.keys()
    assert installed.keys() == pinned_requirements().keys()


@pytest.mark.parametrize("architecture", build_architectures())
def test_layer_holds_the_whole_library(builds: Path, architecture: str) -> None:
    source = ROOT / "layers" / "shared" / "damdrift"
    built = layer_dir(builds, architecture) / "damdrift"
    expected = {
        p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    shipped = {p.relative_to(built) for p in built.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert expected == shipped


@pytest.mark.parametrize("architecture", build_architectures())
def test_compiled_extensions_are_built_for_the_functions_architecture(
    builds: Path, architecture: str
) -> None:
    extensions = list(layer_dir(builds, architecture).rglob("*.so"))
    assert any("pydantic_core" in p.parts for p in extensions)
    for extension in extensions:
        assert elf_machine(extension) == ELF_MACHINE[architecture], extension


@pytest.mark.parametrize("architecture", build_architectures())
def test_built_template_points_each_function_at_its_built_code(builds: Path, architecture: str) -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    built = yaml.load((builds / architecture / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506
    for logical_id, folder in FUNCTIONS.items():
        code = builds / architecture / built["Resources"][logical_id]["Properties"]["CodeUri"]
        assert (code / "app.py").read_bytes() == (ROOT / "functions" / folder / "app.py").read_bytes()
    assert (builds / architecture / built["Resources"]["SharedLayer"]["Properties"]["ContentUri"]).is_dir()


def import_in_clean_interpreter(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    function_env = {
        k: str(v) for k, v in stack().function("AuthenticateFunction")["Environment"]["Variables"].items()
    }
    function_env |= {
        "REPORT_BUCKET": "dam-drift-reports-check",
        "DRIFT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:drift",
        "OPS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:ops",
        "CREDENTIALS_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dx-AbC123",
        # the report viewer's own variable (template.yaml sets it on that function only)
        "REPORT_VIEWER_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:link-AbC123",
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        # Any network use at import would fail fast instead of passing by luck.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        **function_env,
    }
    probe = (
        "import importlib, json, sys\n"
        "app = importlib.import_module('app')\n"
        "assert callable(app.lambda_handler)\n"
        "print(json.dumps({m: getattr(sys.modules[m], '__file__', None) for m in "
        "('app', 'damdrift', 'pydantic', 'pydantic_core', 'aws_lambda_powertools', 'requests', 'boto3', "
        "'botocore') if m in sys.modules}))\n"
    )
    # -S: no site-packages at all; only the paths given (function, layer, runtime) and the stdlib.
    return subprocess.run(
        [sys.executable, "-S", "-c", probe],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


#: The functions whose handlers load the DX client (and so requests) at cold start.
TALKS_TO_DX = {
    "AuthenticateFunction",
    "TriggerMismatchFunction",
    "PollStatusFunction",
    "FetchReportFunction",
    "RemediateFunction",
    "DoctorFunction",
}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_built_handler_imports_from_its_build_and_the_layer(
    builds: Path, logical_id: str, tmp_path: Path
) -> None:
    architecture = host_architecture()
    function_dir = builds / architecture / logical_id
    layer = layer_dir(builds, architecture)
    # The layer alone: it ships boto3 too, so nothing from this machine's site-packages is needed.
    result = import_in_clean_interpreter([function_dir, layer], tmp_path)
    if result.returncode != 0:
        source = import_in_clean_interpreter(
            [ROOT / "functions" / FUNCTIONS[logical_id], ROOT / "layers" / "shared", *site_packages()],
            tmp_path,
        )
        if source.returncode != 0:
            pytest.skip(
                f"{logical_id} does not import from the source tree either (work in progress, not a "
                f"packaging problem): {source.stderr.strip().splitlines()[-1]}"
            )
    assert result.returncode == 0, result.stderr
    origins = json.loads(result.stdout)
    assert origins["app"] == str(function_dir / "app.py")
    for module in ("damdrift", "pydantic", "pydantic_core", "aws_lambda_powertools", "botocore"):
        assert origins[module].startswith(str(layer) + os.sep), (module, origins[module])
    # requests only where the function talks to DX (approve, request-approval, the viewer never do)
    assert ("requests" in origins) == (logical_id in TALKS_TO_DX), logical_id
    if "requests" in origins:
        assert origins["requests"].startswith(str(layer) + os.sep), origins["requests"]


def site_packages() -> list[Path]:
    spec = find_spec("pydantic")
    assert spec is not None and spec.origin is not None
    return [Path(spec.origin).parent.parent]


def test_the_deployable_build_is_arm64() -> None:
    assert DEPLOYED_ARCHITECTURE == "arm64" == stack().raw["Parameters"]["Architecture"]["Default"]


@pytest.mark.parametrize("architecture", build_architectures())
def test_the_build_ships_python_313_bytecode_that_lambda_can_use_without_recompiling(
    builds: Path, architecture: str
) -> None:
    layer = layer_dir(builds, architecture)
    modules = ("damdrift/steps/fetch.py", "pydantic/main.py", "aws_lambda_powertools/logging/logger.py")
    for module in (*modules, "botocore/client.py"):
        source = layer / module
        cached = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        assert cached.is_file(), cached
        header = cached.read_bytes()[:16]
        assert header[:4] == PYTHON_313_MAGIC, module  # compiled by 3.13, what Lambda runs
        flags = int.from_bytes(header[4:8], "little")
        assert flags == 0b01, (module, flags)  # hash-based and unchecked: zip mtimes cannot stale it
    for logical_id in FUNCTIONS:
        handler = builds / architecture / logical_id / "app.py"
        assert Path(importlib.util.cache_from_source(str(handler))).is_file(), logical_id
