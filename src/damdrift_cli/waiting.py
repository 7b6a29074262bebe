"""How long ``damdrift check`` waits for the local execution, and what it says if it stops waiting.

The wait is the input's budgets added up (:func:`~damdrift_cli.local.budget.wait_budget`) unless
``--wait`` says otherwise. Stopping the local execution does not stop a find on DX, so the sentence
says which subscribers were left, whether DX still runs their finds (asked once more), and how to look
again with commands that run as printed.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from damdrift.dx.models import ResyncStatus, Subscriber


def duration(seconds: float) -> str:
    """``4 h 10 min``, ``12 min 5 s``, ``42 s``: a wait as a person reads it."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


@dataclass(frozen=True)
class Left:
    """A subscriber the run stopped waiting for, and what DX said about it afterwards."""

    subscriber_id: str
    target_host: str | None
    started: bool
    #: DX's resyncStatus when asked after giving up (None: DX could not be asked).
    dx_status: ResyncStatus | None = None

    @property
    def name(self) -> str:
        return self.target_host or self.subscriber_id


def left_behind(
    planned: Sequence[Subscriber],
    running: Sequence[str],
    finished: Sequence[str],
    now_on_dx: Sequence[Subscriber],
) -> list[Left]:
    """The planned subscribers without a finished check: still running, or never started."""
    status = {s.id: s.resync_status for s in now_on_dx}
    return [
        Left(s.id, s.target_host, s.id in running, status.get(s.id))
        for s in planned
        if s.id not in finished or s.id in running
    ]


def gave_up_sentence(
    limit: float, left: Sequence[Left], check_command: str, subscribers_command: str | None
) -> str:
    """One sentence: the limit, who was left, what DX still does, how to look again (two commands)."""
    running = [item.name for item in left if item.started]
    waiting = [item.name for item in left if not item.started]
    finding = [item.name for item in left if item.dx_status is ResyncStatus.FIND_MISMATCH_START]
    parts = [f"Gave up waiting after {duration(limit)}"]
    if running:
        parts.append(f"the checks of {_names(running)} were still running")
    if waiting:
        parts.append(f"{_names(waiting)} had not started")
    if finding:
        parts.append(
            f"DX is still running the find of {_names(finding)} (stopping the check does not stop it)"
        )
    elif left and all(item.dx_status is not None for item in left):
        parts.append("DX runs no find for them now")
    again = " ".join(f"--subscriber-id {shlex.quote(item.subscriber_id)}" for item in left)
    longer = f"--wait {round(limit * 2)}"
    look = f"`{subscribers_command}` (their resyncStatus), then " if subscribers_command else ""
    return "; ".join(parts) + f". Look again with {look}`{check_command} {again} {longer}`."


def _names(names: Sequence[str], shown: int = 10) -> str:
    listed = ", ".join(names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")
