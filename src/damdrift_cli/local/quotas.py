"""How close a run came to Step Functions' per-execution quotas, read from its real histories.

AWS fails an execution whose history would pass 25,000 events, and a state whose input or output
would pass 256 KiB (``States.DataLimitExceeded``); moto enforces neither, so a local run reports the
largest figures it saw (docs/deploy.md, "Quotas").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

#: Step Functions' hard quotas (Standard workflows).
HISTORY_EVENTS_QUOTA: Final = 25_000
PAYLOAD_BYTES_QUOTA: Final = 256 * 1024

#: The event-detail fields that carry a state's (or task's) input or output.
_PAYLOAD_FIELDS: Final = ("input", "output", "parameters")


@dataclass(frozen=True)
class QuotaUse:
    executions: int
    history_events_max: int
    history_events_total: int
    payload_bytes_max: int

    @classmethod
    def of(cls, histories: Sequence[Sequence[Mapping[str, Any]]]) -> QuotaUse:
        sizes = [len(history) for history in histories]
        payload = max((largest_payload(event) for history in histories for event in history), default=0)
        return cls(len(sizes), max(sizes, default=0), sum(sizes), payload)

    def line(self) -> str:
        return (
            f"quotas: executions={self.executions} history_events_max={self.history_events_max} "
            f"history_events_total={self.history_events_total} payload_bytes_max={self.payload_bytes_max}"
        )

    @property
    def within(self) -> bool:
        events, payload = self.history_events_max, self.payload_bytes_max
        return events <= HISTORY_EVENTS_QUOTA and payload <= PAYLOAD_BYTES_QUOTA


def largest_payload(event: Mapping[str, Any]) -> int:
    """The UTF-8 size of the largest input, output or parameters one history event carries."""
    largest = 0
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, Mapping):
            for field in _PAYLOAD_FIELDS:
                value = details.get(field)
                if isinstance(value, str):
                    largest = max(largest, len(value.encode("utf-8")))
    return largest


#: History events of a state that succeeds at once, by kind (AWS's history event types: a Lambda or
#: request-response task is Entered, Scheduled, Started, Succeeded, Exited; ``.sync`` and
#: ``.waitForTaskToken`` add Submitted; Pass, Choice and Wait are Entered and Exited).
_TASK_EVENTS: Final = 5
_CALLBACK_TASK_EVENTS: Final = 6
_OTHER_STATE_EVENTS: Final = 2
#: One failed attempt of a task: Scheduled, Started, Failed.
FAILED_ATTEMPT_EVENTS: Final = 3
#: An execution's own Started and Succeeded; an inline Map's Entered, Started, Succeeded, Exited; each
#: Map iteration's Started and Succeeded.
EXECUTION_EVENTS: Final = 2
MAP_EVENTS: Final = 4
MAP_ITERATION_EVENTS: Final = 2


def state_events(state: Mapping[str, Any]) -> int:
    """Events of one visit that succeeds at the first attempt."""
    if state["Type"] != "Task":
        return _OTHER_STATE_EVENTS
    resource = str(state["Resource"])
    return _CALLBACK_TASK_EVENTS if ".sync" in resource or "waitForTaskToken" in resource else _TASK_EVENTS


def retry_events(state: Mapping[str, Any]) -> int:
    """Events of every retry the state's policies allow (each a failed attempt)."""
    return FAILED_ATTEMPT_EVENTS * sum(int(retry.get("MaxAttempts", 3)) for retry in state.get("Retry", []))


@dataclass(frozen=True)
class WorstCase:
    """The largest history any execution of a check can have, counted from the definitions.

    Assumed: every wait loop (busy publisher, find, resync) runs to its deadline and uses its whole
    poll budget; every look in a loop fails once and is retried; every other Lambda or service state
    uses its whole retry allowance; the subscriber check remediates (plan, approval, resync, verify).
    """

    parent_events: int
    child_events: int
    per_subscriber_parent_events: int

    @classmethod
    def of(
        cls, parent: Mapping[str, Any], child: Mapping[str, Any], subscribers: int, poll_budget: int
    ) -> WorstCase:
        s = child["States"]

        def visit(name: str) -> int:
            return state_events(s[name]) + retry_events(s[name])

        def loop(*names: str) -> int:
            return sum(state_events(s[name]) for name in names) + FAILED_ATTEMPT_EVENTS

        busy = poll_budget * loop("TriggerMismatch", "PublisherBusy?", "WaitForPublisher")
        find = (poll_budget + 1) * loop("WaitForFind", "PollStatus", "FindFinished?")
        resync = (poll_budget + 1) * loop("WaitForResync", "PollResync", "ResyncDone?")
        path = (
            "TriggerMismatch",
            "PublisherBusy?",
            "FetchReport",
            "RemediationWanted?",
            "PlanRemediation",
            "AskFirst?",
            "AskApproval",
            "Approved?",
            "StartResync",
            "Verify",
            "VerifiedOutcome",
        )
        child_events = EXECUTION_EVENTS + busy + find + resync + sum(visit(name) for name in path)

        p = parent["States"]
        item = p["CheckSubscribers"]["ItemProcessor"]["States"]
        start = item["CheckSubscriber"]
        # Every start attempt but the last is refused (throttled); the last starts a child that fails.
        per_subscriber = (
            MAP_ITERATION_EVENTS
            + state_events(start)
            + retry_events(start)
            + state_events(item["SubscriberCheckFailed"])
        )
        parent_events = (
            EXECUTION_EVENTS
            + state_events(p["Authenticate"])
            + retry_events(p["Authenticate"])
            + MAP_EVENTS
            + subscribers * per_subscriber
            + state_events(p["SummariseRun"])
            + retry_events(p["SummariseRun"])
            + state_events(p["Report"])
        )
        return cls(parent_events, child_events, per_subscriber)
