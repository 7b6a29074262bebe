"""Drift age: for how many consecutive checks, and since when, a subscriber and each of its record types
have been drifting — "new this morning" or "broken for three weeks".

Carried forward, never recomputed: each usable check's ``summary.json`` holds its ``driftAge``, so the
next check needs only the previous usable summary (which the fetch step reads anyway, to compare): a
type drifting now and in the previous check continues its streak, any other starts one today. ERRORED
checks are skipped (no answer is not "in sync"). Summaries written before drift age existed are
bridged from the newest summaries the fetch step already lists for the trend, so no old report is
read again; a streak longer than that history is marked ``exact: false`` (it began no later than).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from damdrift.models.summary import AgeOf, CheckStatus, DriftAge, Summary


def drifting_types(summary: Summary) -> set[str]:
    """Record types with records that no ignore rule matches."""
    return {
        rtype
        for rtype, actions in summary.counts.items()
        if sum(actions.values()) - sum(summary.ignored.get(rtype, {}).values()) > 0
    }


def drift_age(
    current: Summary, history: Sequence[Summary], previous: Summary | None = None
) -> DriftAge | None:
    """``current``'s drift age; ``history`` holds earlier checks of the subscriber, newest first (the
    fetch step's trend list), and ``previous`` the check it was compared with (taken as the newest when
    the list does not hold it). None for an ERRORED check."""
    if previous is not None and all(s.execution != previous.execution for s in history):
        history = [previous, *history]
    if current.status is CheckStatus.ERRORED:
        return None
    if current.status is not CheckStatus.DRIFT:
        return DriftAge()
    started = current.started_at or current.finished_at
    usable = [s for s in history if s.status is not CheckStatus.ERRORED and s.execution != current.execution]
    newest = usable[0] if usable else None
    if newest is not None and newest.drift_age is not None:
        return _carried(current, newest, newest.drift_age, started)
    return _bridged(current, usable, started)


def _carried(current: Summary, previous: Summary, age: DriftAge, started: datetime | None) -> DriftAge:
    def step(before: AgeOf | None) -> AgeOf:
        if before is None or before.checks == 0:
            return AgeOf(since=started, since_execution=current.execution, checks=1)
        return before.model_copy(update={"checks": before.checks + 1})

    result = DriftAge(**step(age if previous.status is CheckStatus.DRIFT else None).model_dump())
    result.by_type = {rtype: step(age.by_type.get(rtype)) for rtype in sorted(drifting_types(current))}
    return result


def _bridged(current: Summary, usable: Sequence[Summary], started: datetime | None) -> DriftAge:
    """Streaks read off the listed history: the run of consecutive checks that drifted (per type)."""

    def streak(drifting: Callable[[Summary], bool]) -> AgeOf:
        since, execution, checks, exact = started, current.execution, 1, True
        for index, summary in enumerate(usable):
            if not drifting(summary):
                break
            since, execution = summary.started_at or summary.finished_at, summary.execution
            checks += 1
            if index == len(usable) - 1:
                exact = False  # the history ends inside the streak
        return AgeOf(since=since, since_execution=execution, checks=checks, exact=exact)

    result = DriftAge(**streak(lambda s: s.status is CheckStatus.DRIFT).model_dump())
    result.by_type = {rtype: streak(_has_type(rtype)) for rtype in sorted(drifting_types(current))}
    return result


def _has_type(rtype: str) -> Callable[[Summary], bool]:
    return lambda summary: rtype in drifting_types(summary)


def age_text(age: AgeOf | None) -> str:
    """``2026-11-20 (8 checks)``; ``-`` when not drifting."""
    if age is None or age.checks == 0:
        return "-"
    since = age.since.strftime("%Y-%m-%d %H:%M") if age.since else "?"
    bound = "" if age.exact else "at least "
    checks = "1 check: new" if age.checks == 1 else f"{bound}{age.checks} checks"
    return f"{'before ' if not age.exact else ''}{since} ({checks})"
