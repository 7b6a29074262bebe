"""What to do after a check: the same words in the terminal, the HTML report and the notice.

A DRIFT check ends with ready-to-run commands (accept the drift as a baseline, remediate through
damdrift, or resync by hand with dxclient); an ERRORED one with HCL's hint when DX's diagnosis matches
one. Every value that came from DX (the subscriber id, the publisher) is shell-quoted, so a command
copied from a report runs exactly what it shows.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from damdrift.models.summary import CheckStatus, ErrorInfo, Summary

VOLUME_HINT = (
    "HCL: a find that fails, or runs for more than 30 minutes, usually means too much data. Look at DX's "
    "findStagingMismatch operations: status FAILED with retryCounter > 0 means it failed on volume. "
    "HCL's remedy is to deregister and register the subscriber again (which restages everything); "
    "from CF218 HCL recommends maxRecordsToCompare = 1000."
)
FAILED_ON_VOLUME_HINT = (
    "DX's findStagingMismatch operation is FAILED with retryCounter > 0: by HCL's documentation it "
    "failed on volume (too much data). HCL's remedy is to deregister and register the subscriber again "
    "(which restages everything); from CF218 HCL recommends maxRecordsToCompare = 1000."
)
FIND_ERRORS = frozenset({"FindMismatchFailed", "FindMismatchTimedOut"})
#: The rules file the baseline step writes and the check step reads.
RULES_FILE = "ignore-rules.json"


@dataclass(frozen=True)
class NextStep:
    """One thing to do: what it achieves, and the command that does it."""

    what: str
    command: str


def error_hint(error: ErrorInfo | None) -> str | None:
    """HCL's advice for an ERRORED check, when its error or DX's diagnosis calls for one."""
    if error is None:
        return None
    if failed_on_volume(error.diagnosis):
        return FAILED_ON_VOLUME_HINT
    if error.type in FIND_ERRORS:
        return VOLUME_HINT
    return None


def failed_on_volume(diagnosis: Mapping[str, Any] | None) -> bool:
    """Whether the diagnosis shows a FAILED operation with ``retryCounter > 0`` (top level or one down)."""
    if not diagnosis:
        return False
    if diagnosis.get("failedOnVolume") is True:
        return True
    candidates = [diagnosis, *(value for value in diagnosis.values() if isinstance(value, Mapping))]
    for candidate in candidates:
        retries = candidate.get("retryCounter")
        if (
            str(candidate.get("status", "")).upper() == "FAILED"
            and isinstance(retries, int | float)
            and retries > 0
        ):
            return True
    return False


def next_steps(
    summary: Summary,
    *,
    check_folder: str | None = None,
    rerun: str | None = None,
    subscriber_dam: str | None = None,
) -> list[NextStep]:
    """A DRIFT check's next steps, each a command that runs as printed from where the reader is.

    ``check_folder`` is the run's folder as the reader can reach it (the terminal knows it); without
    it the run is named by its stored key, which ``damdrift baseline create`` finds under its
    ``--reports`` folder (default ``dam-drift-reports``, where ``check`` and ``report pull`` write).
    ``rerun`` is the ``damdrift check`` command with every option the check ran with (default: the
    publisher's host, protocol and port as the summary names them). ``subscriber_dam`` is the
    ``--subscriber-dam`` option a remediation needs and the check did not have (after a refusal).
    """
    if summary.status is not CheckStatus.DRIFT:
        return []
    host, port = publisher_host_port(summary.publisher)
    subscriber = shlex.quote(summary.subscriber_id)
    http = summary.dx_protocol == "http"
    ours = f"--hostname {shlex.quote(host)}" + (" --dx-protocol http" if http else "")
    ours += f" --dx-port {port}" if port else ""
    theirs = f"-hostname {shlex.quote(host)}" + (" -dxProtocol http" if http else "")
    theirs += f" -dxPort {port}" if port else ""
    check = rerun or f"damdrift check {ours}"
    run = check_folder or (summary.report_prefix or "").rstrip("/") or "."
    remediate = f"{check} --subscriber-id {subscriber} --remediate ask"
    if subscriber_dam:
        remediate += f" --subscriber-dam {shlex.quote(subscriber_dam)}"
    return [
        NextStep(
            "accept this drift as the baseline (later checks count these records as ignored)",
            f"damdrift baseline create {shlex.quote(run)} --out {RULES_FILE}",
        ),
        NextStep(
            "then check with the baseline", f"{check} --subscriber-id {subscriber} --ignore-file {RULES_FILE}"
        ),
        NextStep(
            "remediate: resync the subscriber after you approve, then verify with a new find", remediate
        ),
        NextStep(
            "or by hand with dxclient (connection settings from its config.json)",
            f"dxclient manage-dam-staging start-staging-resync {theirs} -subscriberId {subscriber}",
        ),
    ]


def publisher_host_port(publisher: str) -> tuple[str, int | None]:
    """``dx.example.com_8443`` -> (``dx.example.com``, 8443): reports name a publisher host[_port]."""
    host, sep, port = publisher.rpartition("_")
    if sep and port.isdigit() and host:
        return host, int(port)
    return publisher, None
