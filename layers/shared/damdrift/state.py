"""What flows between the states of one drift check (execution history shows all of it).

Nothing here holds a password or a session cookie: every step logs in on its own (the session is kept
in the warm Lambda's memory, never in the state), so the history can be read by anyone who may read
the report.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from damdrift.dx.connection import DxConnection
from damdrift.execution_input import BusyPolicy, NotifyPolicy, PollPolicy, RemediateMode, RemediationPolicy
from damdrift.model_base import WireModel
from damdrift.remediation.models import ApprovalAnswer, RemediationState


class CheckContext(WireModel):
    """The validated execution input plus what authenticate resolved; the same for every subscriber."""

    execution: str
    publisher: DxConnection
    publisher_id: str
    credentials_secret: str
    poll: PollPolicy
    busy_policy: BusyPolicy
    notify_policy: NotifyPolicy
    max_concurrency: int
    started_at: datetime
    remediation: RemediationPolicy = Field(default_factory=RemediationPolicy)


class SubscriberRef(WireModel):
    subscriber_id: str
    target_host: str | None = None
    registered: bool = True
    #: Resolved from the input's ``remediate`` and ``subscriberOptions`` (the ASL's Choice reads it).
    remediate: RemediateMode = RemediateMode.NEVER
    dam: DxConnection | None = None
    dam_credentials_secret: str | None = None
    two_way_staging: bool = False


class CheckPlan(WireModel):
    """Output of authenticate: the context and the subscribers the Map fans out over."""

    model_config = WireModel.model_config | {"defer_build": True}  # authenticate's alone (cold start)

    check: CheckContext
    subscribers: list[SubscriberRef]


class PollPhase(StrEnum):
    PUBLISHER_BUSY = "PUBLISHER_BUSY"  # staging operations in progress: wait, then trigger again
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"


class PollState(WireModel):
    phase: PollPhase
    wait_seconds: int = Field(ge=0)
    poll_count: int = 0
    joined: bool = False  # a find was already running: we joined it instead of starting another
    find_started_at: datetime
    deadline: datetime
    last_status: str | None = None


class StepError(WireModel):
    """What a Catch puts at ``$.error``: Step Functions' own ``{"Error", "Cause"}`` shape."""

    model_config = WireModel.model_config | {"alias_generator": None}

    Error: str
    Cause: str | None = None

    def message(self) -> str:
        """The raised exception's message when the cause is Lambda's error envelope, else the cause."""
        if not self.Cause:
            return self.Error
        try:
            envelope = json.loads(self.Cause)
        except ValueError:
            return self.Cause
        if isinstance(envelope, dict):
            return str(envelope.get("errorMessage", self.Cause))
        return self.Cause


class SubscriberTask(WireModel):
    """The state of one subscriber check (its own execution); each step reads it and adds its part."""

    check: CheckContext
    subscriber: SubscriberRef
    #: The execution that started this subscriber check (Step Functions links the two in its console).
    started_by: str | None = Field(None, alias="AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
    poll: PollState | None = None
    error: StepError | None = None
    result: dict[str, Any] | None = None
    remediation: RemediationState | None = None
    approval: ApprovalAnswer | None = None
    #: What the Notify state recorded (SENT/FAILED); a remediation's steps run after it.
    notified: dict[str, Any] | None = None
    notify_error: StepError | None = None

    @property
    def report_run(self) -> str:
        """The name the report is filed under: the execution's, or ``<execution>-verify`` for what
        follows a remediation's start — the verifying find, or the failure of any step from StartResync
        on (the state machine records nothing else once ``remediation`` is set), so the first report
        stays as it is."""
        return self.check.execution if self.remediation is None else f"{self.check.execution}-verify"
