"""What `damdrift check` prints for a failed execution: one line, no Lambda stack trace."""

import json

from damdrift_cli.commands.check import changes_text, failure_text, printable


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
