"""The drift check's execution input: what a schedule or a person hands the state machine.

It names the credentials *secret*, never a password. Anything unknown or malformed fails the execution
at its first step with an error naming the field.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from damdrift.dx.connection import DxConnection
from damdrift.model_base import WireModel

_SUBSCRIBER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")


class BusyPolicy(StrEnum):
    """What to do when staging operations are already in progress for the subscriber."""

    WAIT = "wait"  # wait (with the poll schedule) until the publisher is free or the cap is reached
    REPORT = "report"  # end this subscriber at once as ERRORED "publisher busy"


class NotifyPolicy(StrEnum):
    """When a finished check publishes to the drift topic. An ERRORED check always reaches the ops topic.

    ``on-change`` compares with the subscriber's previous usable check: NEW or RESOLVED records that
    no ignore rule matches, a different status, or no previous check to compare with.
    """

    ALWAYS = "always"
    ON_DRIFT = "on-drift"  # the status is DRIFT (drift that no ignore rule matches)
    ON_CHANGE = "on-change"


class NoticeScope(StrEnum):
    """How many notices a run sends (docs/operating.md).

    ``run``: at most one drift notice and one ops notice per run, each listing every subscriber that
    needs attention (the fleet step after the Map sends them). ``subscriber``: one notice per subscriber
    as its check ends, for subscriptions that filter on the ``subscriberId`` attribute. Chat follows the
    same choice; remediation verdicts and approval requests are always per subscriber.
    """

    RUN = "run"
    SUBSCRIBER = "subscriber"


class RemediateMode(StrEnum):
    """Whether dam-drift may ask DX to repair drift (``start-staging-resync``) after a DRIFT result.

    HCL warns a resync is unsafe for two-way staging, so the default is ``never``; ``ask`` waits for a
    person to approve from the drift notice; ``auto`` starts at once (after the guard rails).
    """

    NEVER = "never"
    ASK = "ask"
    AUTO = "auto"

    def exceeds(self, ceiling: RemediateMode) -> bool:
        """Whether this mode does more than ``ceiling`` allows (never < ask < auto)."""
        order = list(RemediateMode)
        return order.index(self) > order.index(ceiling)


class SubscriberOptions(WireModel):
    """What only applies to one subscriber: its remediation mode and how to reach its own DAM API.

    ``dam`` is the subscriber's DX (another host: the resync's operations run there and are watched
    there); ``credentialsSecret`` defaults to the publisher's. Which subscribers are two-way staging is
    the stack's fact (parameter ``TwoWaySubscribers``); ``twoWayStaging: true`` can add one for this
    check, never take one off.
    """

    # Only authenticate validates the input: the other functions do not build it at cold start.
    model_config = WireModel.model_config | {"defer_build": True}

    remediate: RemediateMode | None = None
    dam: DxConnection | None = None
    credentials_secret: str | None = None
    two_way_staging: bool = False

    @field_validator("credentials_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return _secret_name(value)


class RemediationPolicy(WireModel):
    """Limits of a remediation: how long a person has to approve, how long the resync may take.

    ``force`` lifts the at-most-once-a-day limit per subscriber (never the other guard rails).
    """

    approval_timeout_seconds: int = Field(86_400, ge=1, le=7 * 86_400)
    max_duration_seconds: int = Field(7200, ge=1, le=86_400)
    force: bool = False


class PollPolicy(WireModel):
    """How often to ask DX whether the find has finished.

    Waits grow from ``initialWaitSeconds`` by ``backoffRate`` up to ``maxWaitSeconds`` with full
    jitter on top, and the whole find is abandoned after ``maxDurationSeconds`` (HCL: a find running
    over 30 minutes usually means too much data; the default cap is 2 hours). A demo shortens the
    numbers; the logic stays the same.
    """

    initial_wait_seconds: int = Field(10, ge=0, le=3600)
    max_wait_seconds: int = Field(60, ge=0, le=3600)
    backoff_rate: float = Field(1.5, ge=1.0, le=10.0)
    jitter_seconds: int = Field(5, ge=0, le=600)
    max_duration_seconds: int = Field(7200, ge=1, le=86_400)

    @model_validator(mode="after")
    def _ordered(self) -> PollPolicy:
        if self.max_wait_seconds < self.initial_wait_seconds:
            raise ValueError("maxWaitSeconds must be at least initialWaitSeconds")
        return self


class CheckInput(WireModel):
    model_config = WireModel.model_config | {"defer_build": True}  # authenticate's alone (cold start)

    publisher: DxConnection
    credentials_secret: str | None = Field(
        None, description="Secrets Manager name or ARN; default from settings"
    )
    subscriber_ids: list[str] = Field(default_factory=list, max_length=500)
    poll: PollPolicy = Field(default_factory=PollPolicy)
    busy_policy: BusyPolicy = BusyPolicy.WAIT
    notify_policy: NotifyPolicy = NotifyPolicy.ON_DRIFT
    notices: NoticeScope = NoticeScope.RUN
    max_concurrency: int = Field(2, ge=1, le=40)
    remediate: RemediateMode = RemediateMode.NEVER
    remediation: RemediationPolicy = Field(default_factory=RemediationPolicy)
    subscriber_options: dict[str, SubscriberOptions] = Field(default_factory=dict, max_length=500)

    def options_for(self, subscriber_id: str) -> SubscriberOptions:
        """The subscriber's options with the check-wide remediation mode filled in."""
        options = self.subscriber_options.get(subscriber_id, SubscriberOptions())
        return options.model_copy(update={"remediate": options.remediate or self.remediate})

    @field_validator("subscriber_ids")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _SUBSCRIBER_ID.fullmatch(value):
                raise ValueError(
                    f"expected ids of letters, digits and . _ : - (at most 128), got {value[:60]!r}"
                )
        if len(set(values)) != len(values):
            raise ValueError("subscriber ids must not repeat")
        return values

    @field_validator("credentials_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return _secret_name(value)

    @field_validator("subscriber_options")
    @classmethod
    def _option_ids(cls, values: dict[str, SubscriberOptions]) -> dict[str, SubscriberOptions]:
        for key in values:
            if not _SUBSCRIBER_ID.fullmatch(key):
                raise ValueError(f"expected subscriber ids as keys, got {key[:60]!r}")
        return values


def _secret_name(value: str | None) -> str | None:
    if value is not None and not _SECRET_NAME.fullmatch(value):
        raise ValueError("expected a Secrets Manager secret name or ARN")
    return value
