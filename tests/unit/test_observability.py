"""The observability module every handler imports: what it keeps out of the logs."""

import subprocess
import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "shared"


def test_a_step_that_emitted_no_metric_does_not_warn_about_it() -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(LAYER)!r})\n"
        "from damdrift.observability import metrics\n"
        "metrics.flush_metrics()\n"
        "import warnings; warnings.warn('a warning that still shows', UserWarning)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert "No application metrics to publish" not in done.stderr
    assert "a warning that still shows" in done.stderr  # only that one warning is silenced


def test_library_loggers_stay_at_info_when_the_root_logger_is_lowered_to_debug_later() -> None:
    script = (
        f"import sys, logging; sys.path.insert(0, {str(LAYER)!r})\n"
        "import damdrift.observability\n"
        "logging.getLogger().setLevel(logging.DEBUG)\n"
        "print([logging.getLogger(n).isEnabledFor(logging.DEBUG) for n in "
        "('botocore', 'botocore.parsers', 'boto3', 'urllib3', 'requests')])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[False, False, False, False, False]"
