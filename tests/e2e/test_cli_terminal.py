"""The real `damdrift` entry point on a terminal: its question is visible on a pseudo-terminal, and
Ctrl-C stops the execution, keeps what was written and exits 130 without a traceback."""

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

DAMDRIFT = str(Path(sys.executable).with_name("damdrift"))
DRIFTED = "8c72ef60-e8d4-425d-903a-232bb8726222"  # the demo scenario's drifting subscriber


def read_until(fd: int, wanted: str, seen: bytearray, deadline: float) -> bool:
    """Reads the terminal until ``wanted`` shows (select's timeout, no sleeping); False at EOF/deadline."""
    while wanted.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        seen += chunk
    return True


def test_remediate_ask_shows_its_question_with_a_default_and_a_timeout_on_a_terminal(tmp_path: Path) -> None:
    """The terminal is stdin and stderr; stdout goes to a file, as with `damdrift check ... | tee log`
    (the question used to go to stdout, buffered in the pipe: the terminal showed nothing)."""
    master, slave = pty.openpty()
    log = (tmp_path / "stdout.log").open("wb")
    process = subprocess.Popen(
        [DAMDRIFT, "check", "--demo", "--remediate", "ask", "--subscriber-id", DRIFTED,
         "--out", str(tmp_path / "out")],
        stdin=slave, stdout=log, stderr=slave, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    log.close()
    seen = bytearray()
    try:
        asked = read_until(master, "Start the staging resync now? [y/N]", seen, time.monotonic() + 60)
        assert asked, seen.decode(errors="replace")
        assert b"no answer in 300 s: no" in seen
        os.write(master, b"n\n")
        read_until(master, "denied", seen, time.monotonic() + 60)
        assert process.wait(timeout=60) == 1  # drift, not remediated
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    stdout = (tmp_path / "stdout.log").read_text()
    assert "denied" in text and "not approved: nothing was changed" in stdout
    assert "Traceback" not in text + stdout


def test_ctrl_c_stops_the_execution_copies_what_exists_and_exits_130(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [DAMDRIFT, "check", "--demo", "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    seen = bytearray()
    try:
        started = read_until(process.stderr.fileno(), "[PollStatus]", seen, time.monotonic() + 120)
        assert started, seen.decode(errors="replace")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    text = (seen + err).decode(errors="replace")
    assert process.returncode == 130
    assert "Interrupted: the execution was stopped" in text and f"are in {tmp_path}/" in text
    assert "Traceback" not in text + out.decode(errors="replace")
