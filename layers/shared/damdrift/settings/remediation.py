"""What the stack allows remediation to do, whatever an execution input asks (issue 23 item 3).

Anyone who may start an execution writes its input; only whoever deploys the stack sets these (template
parameters ``MaxRemediation`` and ``TwoWaySubscribers``). Authenticate refuses an input above the ceiling;
the remediate function checks both again before it plans or starts a resync.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from damdrift.execution_input import RemediateMode
from damdrift.settings.base import FunctionSettings


class RemediationLimits(FunctionSettings):
    #: The most remediation an input may ask for: never < ask (a person approves each resync) < auto.
    max_remediation: RemediateMode = Field(RemediateMode.ASK, alias="MAX_REMEDIATION")
    #: Subscribers (ids or target hosts) that also publish back (two-way staging): HCL does not support a
    #: resync there.
    two_way_subscribers: frozenset[str] = Field(frozenset(), alias="TWO_WAY_SUBSCRIBERS")

    @field_validator("two_way_subscribers", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    def is_two_way(self, subscriber_id: str, target_host: str | None) -> bool:
        """Whether the stack lists the subscriber as two-way, by id or by target host (any case): DX
        and dxclient name a subscriber either way."""
        listed = {name.lower() for name in self.two_way_subscribers}
        return subscriber_id.lower() in listed or (target_host or "").lower() in listed

    def above_ceiling(self, mode: RemediateMode, field: str) -> str | None:
        """Why ``mode`` (asked for by ``field``) is refused, or None when the stack allows it."""
        if not mode.exceeds(self.max_remediation):
            return None
        return (
            f"{field} {mode.value!r} is more than this stack allows "
            f"(stack parameter MaxRemediation is {self.max_remediation.value!r})"
        )
