"""What flows between the states of a drift check (execution history shows all of it): every state's
input and output, as models. The drift check (statemachine/src/drift_check.asl.yaml) turns the input into a
``CheckPlan`` and keeps a ``SubscriberResult`` per subscriber (``DriftCheckOutput``); each subscriber
check (statemachine/src/subscriber_check.asl.yaml) carries a ``SubscriberTask`` from step to step and ends
with a ``SubscriberCheckResult``. tests/unit/test_state_models.py holds every path the definitions read
to these fields.

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
from damdrift.execution_input import (
    BusyPolicy,
    NoticeScope,
    NotifyPolicy,
    PollPolicy,
    RemediateMode,
    RemediationPolicy,
)
from damdrift.model_base import WireModel
from damdrift.models.remediation import ApprovalAnswer, RemediationState
from damdrift.models.summary import CheckStatus


class CheckContext(WireModel):
    """The validated execution input plus what authenticate resolved; the same for every subscriber."""

    execution: str
    #: The drift check's execution ARN: a subscriber check reads a subscriber's own DAM connection from
    #: that execution's input (damdrift.subscriber_dam), which is the same for its Verify child.
    execution_arn: str
    publisher: DxConnection
    publisher_id: str
    credentials_secret: str
    poll: PollPolicy
    busy_policy: BusyPolicy
    notify_policy: NotifyPolicy
    #: One notice per run (the fleet step's) or one per subscriber; a context without it is per run.
    notices: NoticeScope = NoticeScope.RUN
    max_concurrency: int
    started_at: datetime
    remediation: RemediationPolicy = Field(default_factory=RemediationPolicy)


class SubscriberRef(WireModel):
    subscriber_id: str
    target_host: str | None = None
    registered: bool = True
    #: Resolved from the input's ``remediate`` and ``subscriberOptions`` (the ASL's Choice reads it).
    remediate: RemediateMode = RemediateMode.NEVER
    #: Whether the input names the subscriber's own DAM API (subscriberOptions.<id>.dam). The connection
    #: itself stays in the execution input and is read from there by the steps that use it: 500 of them
    #: (a CA bundle path each) would push the fan-out list past 256 KiB (docs/deploy.md, "Quotas").
    own_dam: bool = False
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


class ErrorDetails(WireModel):
    """A Catch's ``Cause`` as the state machine reads it: a Lambda's error envelope parsed (its
    ``errorType``, ``requestId`` and ``stackTrace`` are there too, never quoted), or a text cause."""

    model_config = WireModel.model_config | {"extra": "ignore"}

    error_message: str


class DescribedError(WireModel):
    details: ErrorDetails


class Unrecorded(WireModel):
    """Both failures of a check whose ERRORED summary could not be stored, described for the ops notice
    and the output by their message (the subscriber check's DescribeUnrecordedError states)."""

    error: DescribedError | None = None
    record_error: DescribedError | None = None


class Outcome(WireModel):
    """One subscriber's outcome, as fetch-report (or RecordErrored) decided it; summary.json has more."""

    subscriber_id: str
    target_host: str | None = None
    status: CheckStatus
    total: int
    counts: dict[str, dict[str, int]]
    partial: bool = False
    summary_key: str | None = None
    report_location: str | None = None
    #: The summary's ``error`` (type, message, DX's diagnosis): report content, shown as it is.
    error: dict[str, Any] | None = None
    #: Records an ignore rule matched (included in ``total``), and those left: what decides DRIFT.
    ignored_total: int = 0
    effective_total: int | None = None
    #: Since the previous usable check (summary.json's ``changes``).
    changes: dict[str, Any] | None = None
    report_html: str | None = None


class OutboundNotice(WireModel):
    """Exactly the fields Step Functions' ``sns:publish`` integration takes."""

    model_config = WireModel.model_config | {"alias_generator": None}

    TopicArn: str
    Subject: str
    Message: str
    MessageAttributes: dict[str, dict[str, str]]


class FetchResult(WireModel):
    """fetch-report's result, at ``$.result``: the outcome, and the notice if one should go out."""

    outcome: Outcome
    notify: bool
    notification: OutboundNotice | None = None


class NoticeStatus(StrEnum):
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    SENT_WITH_APPROVAL_REQUEST = "SENT_WITH_APPROVAL_REQUEST"


class Notified(WireModel):
    """What the Notify states recorded at ``$.notified``."""

    status: NoticeStatus
    message_id: str | None = None
    error: str | None = None


class SubscriberCheckResult(WireModel):
    """A subscriber check's output (its End states): the newest outcome (the verifying check's, after
    a remediation), the notice, and the remediation if one was planned."""

    subscriber_id: str
    status: CheckStatus
    outcome: Outcome | None = None
    notified: Notified | None = None
    remediation: RemediationState | None = None
    #: Only when not even the ERRORED summary could be stored (or the verifying check could not run).
    error: StepError | None = None
    record_error: StepError | None = None


class RemediationNote(WireModel):
    remediation: RemediationState


class Verified(WireModel):
    """The Verify state's result: the verifying check's output, and the remediation to merge into it."""

    output: SubscriberCheckResult
    with_remediation: RemediationNote


class SubscriberTask(WireModel):
    """The state of one subscriber check (its own execution); each step reads it and adds its part."""

    check: CheckContext
    subscriber: SubscriberRef
    #: The execution that started this subscriber check (Step Functions links the two in its console).
    started_by: str | None = Field(None, alias="AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
    poll: PollState | None = None
    error: StepError | None = None
    result: FetchResult | None = None
    remediation: RemediationState | None = None
    approval: ApprovalAnswer | None = None
    #: What the Notify state recorded (SENT/FAILED); a remediation's steps run after it.
    notified: Notified | None = None
    #: What Catch clauses record beside the task (no step reads them; the End states report them).
    notify_error: StepError | None = None
    record_error: StepError | None = None
    unrecorded: Unrecorded | None = None
    remediation_error: StepError | None = None
    approval_error: StepError | None = None
    verified: Verified | None = None

    @property
    def report_run(self) -> str:
        """The name the report is filed under: the execution's, or ``<execution>-verify`` for what
        follows a remediation's start — the verifying find, or the failure of any step from StartResync
        on (the state machine records nothing else once ``remediation`` is set), so the first report
        stays as it is."""
        return self.check.execution if self.remediation is None else f"{self.check.execution}-verify"


class SubscriberItem(WireModel):
    """One iteration of the drift check's Map: what starts a subscriber check."""

    check: CheckContext
    subscriber: SubscriberRef
    index: int
    error: StepError | None = None


class SubscriberResult(WireModel):
    """What the drift check keeps per subscriber (small: 1,000 of them fit one state payload)."""

    subscriber_id: str
    status: CheckStatus
    #: Only when the subscriber check itself failed (it records its steps' errors in its own result).
    error: str | None = None


class RunEvent(WireModel):
    """summarise-run's input (the fleet step after the Map): the check and the Map's small results."""

    check: CheckContext
    subscribers: list[SubscriberResult]


class RunNoticeResult(WireModel):
    topic: str
    status: str
    subscribers: int


class RunResult(WireModel):
    """summarise-run's result, at ``$.run``: where run.json and the overview are, and what was sent."""

    run_key: str
    overview: str | None = None
    by_status: dict[str, int]
    notices: list[RunNoticeResult] = []


class RunNotSummarised(WireModel):
    """What RunNotSummarised records at ``$.run`` when the fleet step failed (the reports are stored)."""

    error: str


class DriftCheckOutput(WireModel):
    """The drift check's output."""

    execution: str
    publisher: str
    started_at: datetime
    outcomes: list[SubscriberResult]
    run: RunResult | RunNotSummarised
