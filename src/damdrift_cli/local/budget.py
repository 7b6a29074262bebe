"""How long a local check may run: the longest the state machine itself can take, from the input's budgets.

A local run must not give up before the execution would have ended by itself (a find is abandoned by
the state machine after ``poll.maxDurationSeconds``; HCL documents finds of 30 minutes and more), so the
wait is the input's budgets added up, not a fixed number: per subscriber the busy wait and the find
(each capped at ``maxDurationSeconds``, plus one poll interval), and with remediation the approval
(``remediation.approvalTimeoutSeconds`` for ``ask``), the resync (``remediation.maxDurationSeconds``)
and the verifying find; subscribers run ``maxConcurrency`` at a time.
"""

from __future__ import annotations

import math

from damdrift.execution_input import CheckInput, RemediateMode

#: The steps around the waits (login, trigger, fetch and their retries, the notices), per subscriber.
STEP_ALLOWANCE_SECONDS = 600


def wait_budget(check_input: CheckInput, subscribers: int) -> float:
    """Seconds after which the execution is past every budget of ``check_input`` for ``subscribers``."""
    poll = check_input.poll
    find = poll.max_duration_seconds + poll.max_wait_seconds + poll.jitter_seconds
    each = 2 * find + STEP_ALLOWANCE_SECONDS  # waiting out a busy publisher, then the find
    modes = {check_input.options_for(s).remediate for s in check_input.subscriber_options} | {
        check_input.remediate
    }
    if modes != {RemediateMode.NEVER}:
        remediation = check_input.remediation
        ask = remediation.approval_timeout_seconds if RemediateMode.ASK in modes else 0
        each += ask + remediation.max_duration_seconds + find
    rounds = math.ceil(max(subscribers, 1) / check_input.max_concurrency)
    return float(rounds * each)
