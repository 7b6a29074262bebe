"""What keeps the functions' cold start small without changing behaviour: settings do not pull in the
ignore rules' models, the DX models few functions use are built on first use, validating as before, and
imports point down (tests/unit/test_layer_imports.py), so a handler loads only the layers below it."""

import subprocess
import sys
from pathlib import Path

import pytest

from damdrift.dx.models import MismatchRecord, Operation
from damdrift.report.records import ignore
from damdrift.settings import DEFAULT_RULES_KEY, FetchReportSettings

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
#: What a function's cold start needs beyond its settings: a region for its boto3 clients, and no
#: shared AWS files of whoever runs the tests.
LAMBDA_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "POWERTOOLS_SERVICE_NAME": "dam-drift",
    "POWERTOOLS_METRICS_NAMESPACE": "DamDrift",
}


def _modules_after(
    statement: str, *, path: tuple[Path, ...] = (), env: dict[str, str] | None = None
) -> set[str]:
    """The modules a fresh interpreter holds after ``statement`` (this process's are shared by tests);
    ``path`` comes first on ``sys.path``, before the layer (as Lambda puts the function's own folder)."""
    folders = [str(p) for p in (*path, LAYER)]
    script = f"import sys\nsys.path[:0] = {folders!r}\n{statement}\nprint(*sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"REPORT_BUCKET": "reports", "PATH": "", **(env or {})},
        check=True,
    )
    return set(done.stdout.split())


def _cold_start(function: str, **env: str) -> set[str]:
    """The modules ``functions/<function>/app.py`` loads at its cold start, imported as Lambda does."""
    return _modules_after("import app", path=(ROOT / "functions" / function,), env={**LAMBDA_ENV, **env})


@pytest.mark.parametrize(
    ("function", "env"),
    [
        ("approve", {}),
        ("request_approval", {}),
        ("summarise_run", {}),
        ("report_viewer", {"REPORT_VIEWER_KEY_SECRET": "dam-drift/report-link-key"}),
    ],
)
def test_a_function_that_never_talks_to_dx_does_not_load_the_dx_client_at_cold_start(
    function: str, env: dict[str, str]
) -> None:
    loaded = _cold_start(function, **env)
    assert "app" in loaded  # the handler module itself was imported
    assert {"requests", "damdrift.dx.client"} & loaded == set()


def test_the_report_viewer_serves_pages_without_loading_the_report_renderer() -> None:
    """It sends the pages' Content-Security-Policy (damdrift.report_page), not the code that renders them."""
    loaded = _cold_start("report_viewer", REPORT_VIEWER_KEY_SECRET="dam-drift/report-link-key")
    assert "damdrift.viewer.serve" in loaded
    assert sorted(m for m in loaded if m == "damdrift.report" or m.startswith("damdrift.report.")) == []


@pytest.mark.parametrize("function", ["authenticate", "trigger_mismatch", "poll_status"])
def test_a_step_that_only_talks_to_dx_loads_the_check_models_but_not_the_report_or_remediation(
    function: str,
) -> None:
    """The check's state holds a summary's status and a remediation's state: those models are at the
    bottom of the layer (damdrift.models), so the state no longer pulls in report/ and remediation/."""
    loaded = _cold_start(function)
    assert {"damdrift.report", "damdrift.remediation"} & loaded == set()
    assert {"damdrift.state", "damdrift.models.summary", "damdrift.models.remediation"} <= loaded


def test_settings_do_not_import_the_ignore_rules() -> None:
    loaded = _modules_after("import damdrift.settings")
    assert "damdrift.settings" in loaded
    assert "damdrift.report.records.ignore" not in loaded


def test_the_rules_key_default_has_one_value_wherever_it_is_read() -> None:
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": "reports"})
    assert settings.ignore_rules_key == DEFAULT_RULES_KEY == "config/ignore-rules.json"
    assert ignore.DEFAULT_RULES_KEY is DEFAULT_RULES_KEY


def test_a_deferred_operation_validates_as_before() -> None:
    operation = Operation.model_validate(
        {
            "id": "op-1",
            "triggerFunction": "findStagingMismatch",
            "status": "FAILED",
            "retryCounter": 2,
            "errorInfo": {"message": "too many rows"},
            "created": "2026-11-01T05:00:00Z",
            "futureField": "kept",
        }
    )
    assert operation.trigger_function == "findStagingMismatch"
    assert operation.retry_counter == 2
    assert operation.created is not None and operation.created.year == 2026
    assert operation.model_extra == {"futureField": "kept"}


def test_a_deferred_mismatch_record_accepts_both_spellings() -> None:
    table = MismatchRecord.model_validate({"type": "RENDITION", "action": "DELETE", "recordId": "r-1"})
    api = MismatchRecord.model_validate({"recordType": "RENDITION", "recordAction": "DELETE"})
    assert (table.record_type, table.record_action, table.record_id) == ("RENDITION", "DELETE", "r-1")
    assert (api.record_type, api.record_action, api.record_id) == ("RENDITION", "DELETE", None)


def test_the_report_key_layout_does_not_import_boto3() -> None:
    loaded = _modules_after("import damdrift.report_layout")
    assert "damdrift.report_layout" in loaded
    assert not {"boto3", "botocore"} & loaded
