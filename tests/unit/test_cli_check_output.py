"""What `damdrift check` prints for a failed execution: one line, no Lambda stack trace."""

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from damdrift.remediation.approval import PendingApproval
from damdrift_cli.commands.check import _Approver, _Progress, changes_text, failure_text, printable
from damdrift_cli.local.lambda_adapter import Invocation


def test_a_lambda_error_envelope_prints_as_its_type_and_message_without_the_stack() -> None:
    cause = json.dumps(
        {
            "errorMessage": "publisher.hostname: expected a bare host name",
            "errorType": "InvalidInput",
            "stackTrace": ['  File "/var/task/app.py", line 20, in handler\n'],
        }
    )
    assert (
        failure_text("InvalidInput", cause) == "InvalidInput: publisher.hostname: expected a bare host name"
    )


def test_a_plain_cause_is_kept_and_a_missing_one_leaves_the_error() -> None:
    assert failure_text("Interrupted", "stopped by Ctrl-C") == "Interrupted: stopped by Ctrl-C"
    assert failure_text("States.Timeout", None) == "States.Timeout"


def test_text_from_dx_cannot_drive_the_terminal() -> None:
    assert printable("sub\x1b]0;owned\x07\nhost\x9b2J") == "sub ]0;owned  host 2J"


def test_the_terminal_says_which_changes_were_ignored_as_the_notice_does() -> None:
    """Not '579 unchanged (13 of them ignored)': the 13 were resolved records, the 579 all ignored."""
    changes = {
        "previousExecution": "local-1",
        "new": 12,
        "resolved": 13,
        "unchanged": 579,
        "newIgnored": 0,
        "resolvedIgnored": 13,
    }
    assert changes_text(changes) == (
        "+12 new, -13 resolved, 579 unchanged (0 of the new, 13 of the resolved ignored)"
    )
    assert changes_text({**changes, "resolvedIgnored": 0}) == "+12 new, -13 resolved, 579 unchanged"


def test_progress_lines_wait_until_the_approval_question_is_answered(tmp_path: Path) -> None:
    """A step that ends while the question waits (RequestApproval's own 'done', another subscriber's
    poll) is printed after the answer, not onto the question's line where the answer is typed."""
    stream = io.StringIO()
    watcher = _Progress(stream)
    read, write = os.pipe()
    os.write(write, b"y\n")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

        def fileno(self) -> int:
            return read

        def readline(self, size: int | None = -1) -> str:
            watcher.invoked(Invocation("dam-drift-RequestApprovalFunction", {}, "{}", False, ""))
            return "y\n"

    pending = PendingApproval(
        approval_id=None, handle="3fa2c1d9" + "0" * 56, execution="local-1", publisher="dx.example.com",
        subscriber_id="sub-1", target_host="dx-sub.example.com", mismatches=590, summary_key=None,
        expires_at=datetime(2026, 12, 6, 19, 10, tzinfo=UTC),
    )  # fmt: skip
    try:
        assert _Approver("prompt", stream, 5, Terminal(), progress=watcher)(pending) is True
    finally:
        os.close(read)
        os.close(write)
    text = stream.getvalue()  # on a terminal the typed answer's echo ends the question's line
    assert text.endswith("[y/N] (no answer in 5 s: no)   approved\n  [RequestApproval]  done\n"), text
