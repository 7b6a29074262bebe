"""What a doctor run found: one :class:`Check` per line, and the facts a developer needs from a real DX."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 - a check's status, not a password  # nosec B105
    WARN = "WARN"
    FAIL = "FAIL"
    NOT_CHECKED = "NOT CHECKED"


#: The exit status of ``damdrift doctor``: 0 every checked thing passed, 1 a warning, 2 a failure.
EXIT_CODES = {Status.PASS: 0, Status.NOT_CHECKED: 0, Status.WARN: 1, Status.FAIL: 2}


class Check(BaseModel):
    """One line of the report: what was checked, how it went, and what DX said that shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: Status
    evidence: str

    def line(self, width: int = 44) -> str:
        return f"{self.status.value:<11} {self.id:<{width}} {self.evidence}"


class DoctorReport(BaseModel):
    """The whole probe's result; ``to_wire()`` is what ``--json`` prints and the function stores."""

    model_config = ConfigDict(populate_by_name=True)

    publisher: str
    checks: list[Check] = Field(default_factory=list)
    record_fields: list[str] | None = Field(None, alias="recordFields")
    page_size: int | None = Field(None, alias="pageSize")
    requests_sent: list[str] = Field(default_factory=list, alias="requestsSent")

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        for worst in (Status.FAIL, Status.WARN):
            if worst in statuses:
                return worst
        return Status.PASS

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def summary(self) -> str:
        counts = {s: sum(c.status is s for c in self.checks) for s in Status}
        parts = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        return f"doctor: {self.publisher}: {parts}; exit {self.exit_code} ({self.status.value})"

    def text(self) -> str:
        width = max((len(c.id) for c in self.checks), default=10)
        return "\n".join([*(c.line(width) for c in self.checks), self.summary()])

    def to_wire(self) -> dict[str, Any]:
        wire = self.model_dump(mode="json", by_alias=True)
        wire["status"], wire["exitCode"] = self.status.value, self.exit_code
        return wire
