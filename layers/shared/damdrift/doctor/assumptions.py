"""One line per assumption in docs/dx-assumptions.md's table: confirmed, contradicted, or
not checkable read-only (and why). The probe notes verdicts as it reads; the rest say what they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from damdrift.doctor.models import Check, Status


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    CONTRADICTED = "contradicted"


#: Every assumption id of docs/dx-assumptions.md's table (a test keeps the two equal), with what a read-only
#: probe cannot do to check it; the ones the probe can check say what it looks at when it has no data.
ASSUMPTIONS: dict[str, str] = {
    "trigger-via-patch": "needs a write: triggering a find",
    "mismatch-record-shape": "no mismatch rows to look at",
    "offset-limit-integers": "no mismatch log with 2 rows or more",
    "operations-comma-lists": "needs operations of two statuses",
    "csv-columns": "dxclient's CSV is written by dxclient, not served by DX",
    "second-trigger-409": "needs a write: two triggers",
    "find-appends-rows": "needs a write: a find while rows are in the log",
    "resync-status-null-before-first-run": "every subscriber has run a find or resync",
    "session-ttl": "the cookie has no expiry: only waiting 2 hours would tell",
    "bad-login-ring-body": "needs a failed login, which can lock the account",
    "last-resync-time-on-finish": "no subscriber has a finished find or resync",
    "find-failed-operation": "no subscriber shows FIND_MISMATCH_FAILED",
    "resync-creates-sync-operations": "needs a write (a resync) and a login on the subscriber's DAM",
    "resync-clears-drift": "needs a write: a resync",
    "subscriber-id-or-target-host": "no subscriber to look up",
    "deregister-aborts-find": "needs a write: deregistering a subscriber",
    "patch-rejects-unknown-resync-status": "needs a write: a PATCH",
    "empty-query-param-absent": "the probe sends no empty query parameter (HCL's spec rejects them)",
    "mismatches-unknown-subscriber-empty": "no mismatch log could be read",
    "operations-oldest-first": "fewer than 2 operations with distinct created times",
    "operations-unknown-status-400": "GET /operations could not be read",
    "logout-without-session-200": "needs a POST /auth/logout without a session (the probe logs out with one)",
    "undeclared-method-405": "needs a request with another method than GET, which the probe does not send",
    "login-without-fields-401": "needs a failed login, which can lock the account",
}
_STATUS = {Verdict.CONFIRMED: Status.PASS, Verdict.CONTRADICTED: Status.WARN}


@dataclass
class Facts:
    """Verdicts noted during the probe; a contradiction noted once stays (it outweighs a confirmation)."""

    verdicts: dict[str, tuple[Verdict, str]] = field(default_factory=dict)

    def note(self, assumption: str, verdict: Verdict, evidence: str) -> None:
        if assumption not in ASSUMPTIONS:
            raise KeyError(f"unknown assumption {assumption!r}")
        current = self.verdicts.get(assumption)
        if current is None or current[0] is Verdict.CONFIRMED:
            self.verdicts[assumption] = (verdict, evidence)


def assumption_checks(facts: Facts) -> list[Check]:
    checks = []
    for assumption, unchecked in ASSUMPTIONS.items():
        noted = facts.verdicts.get(assumption)
        check_id = f"assumption {assumption}"
        if noted is None:
            checks.append(
                Check(
                    id=check_id, status=Status.NOT_CHECKED, evidence=f"not checkable read-only: {unchecked}"
                )
            )
        else:
            verdict, evidence = noted
            checks.append(
                Check(id=check_id, status=_STATUS[verdict], evidence=f"{verdict.value}: {evidence}")
            )
    return checks
