"""The exit statuses of every ``damdrift`` command, in one place.

0, 1 and 2 are a check's verdict, like diff(1): in sync, drift found, a check errored. Anything from 3
up means the tool itself could not do its job, so a script never mistakes a broken run for a verdict.
"""

from __future__ import annotations

IN_SYNC = 0
DRIFT = 1
ERRORED = 2
#: The command could not run: a usage error, bad settings, an unreachable publisher, an unwritable --out.
TOOL_FAILED = 3
#: A defect in damdrift itself (an exception nobody expected); the message asks for a bug report.
INTERNAL_ERROR = 4
#: Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130
#: The reader of stdout went away (``damdrift ... | head``; 128 + SIGPIPE).
BROKEN_PIPE = 141

MEANING = {
    IN_SYNC: "all in sync",
    DRIFT: "drift found",
    ERRORED: "a check errored",
    TOOL_FAILED: "damdrift could not run",
    INTERNAL_ERROR: "damdrift failed (a bug)",
    INTERRUPTED: "interrupted",
    BROKEN_PIPE: "output closed",
}


class CommandFailed(Exception):
    """A failure a person can fix, with its one-sentence cause; the command exits with ``status``."""

    def __init__(self, message: str, status: int = TOOL_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
