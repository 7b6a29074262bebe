"""Plumbing shared by the benchmarks: helper services in processes of their own, memory, the result line.

Services (the DX simulator, moto's S3) run as subprocesses so that a measured process holds only our own
code's memory and CPU; a measured case runs in a fresh child process so its peak RSS is its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PYTHON = sys.executable
#: A child process prints its measurements as one line starting with this, as JSON.
RESULT_PREFIX = "RESULT "
#: Fake credentials for moto; nothing here reaches AWS.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Service:
    """A helper server in its own process, listening at ``url``."""

    process: subprocess.Popen[str]
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the service has used so far, from ``/proc/PID/stat``."""
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _die_with_parent() -> None:
    """In the child, before exec: be sent SIGTERM when the benchmark dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@contextlib.contextmanager
def service(args: Sequence[str], ready: str, env: dict[str, str] | None = None) -> Iterator[Service]:
    """Starts ``args``; the server is up when it prints a line starting ``ready`` and ending in its URL.

    A SIGTERM to the benchmark becomes ``SystemExit`` so that the service is still stopped.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    process = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads run in the parent at this point
    )
    started = Service(process, "")
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(ready):
                started.url = line.split()[-1]
                break
        if not started.url:
            raise RuntimeError(f"{' '.join(args)} exited with {process.wait()} before it was ready")
        yield started
    finally:
        started.stop()


def simulator(scenario: str | Path, find_duration: float = 0.0) -> contextlib.AbstractContextManager[Service]:
    """``damdrift simulate`` on loopback in its own process (its row generation is not our CPU or memory)."""
    return service(
        [
            PYTHON,
            "-m",
            "damdrift_cli.commands.simulate",
            "--scenario",
            str(scenario),
            "--port",
            "0",
            "--find-duration",
            str(find_duration),
        ],
        "DX simulator listening on",
    )


def s3_server() -> contextlib.AbstractContextManager[Service]:
    """moto's S3 in its own process (``bench/s3_server.py``)."""
    return service([PYTHON, str(BENCH_DIR / "s3_server.py")], "moto S3 listening on", FAKE_AWS_ENV)


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mb() -> float:
    """This process's resident set now."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def emit_result(result: dict[str, Any]) -> None:
    """What a child process hands its parent: one ``RESULT {json}`` line on stdout."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_child(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 1800
) -> dict[str, Any]:
    """Runs a child process and returns its ``RESULT`` (its other output is ignored unless it fails)."""
    done = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
        preexec_fn=_die_with_parent,  # no threads run in the parent at this point
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(args)} failed with exit {done.returncode}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return result


def _cpu_jiffies() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # total, idle + iowait


def busy_cpus(sample_seconds: float = 0.5) -> float:
    """How many CPUs the whole machine kept busy over a short sample (other people's work included)."""
    total0, idle0 = _cpu_jiffies()
    time.sleep(sample_seconds)
    total1, idle1 = _cpu_jiffies()
    busy = 1 - (idle1 - idle0) / max(total1 - total0, 1)
    return busy * (os.cpu_count() or 1)


def wait_for_quiet(max_wait: float = 120.0, threshold: float = 0.3) -> float:
    """Waits (at most ``max_wait`` s) until the machine is idle, so a timed run has the CPUs to itself.

    Returns the busy CPUs last seen: above ``threshold`` means it gave up waiting and the run will be
    disturbed. This box is shared (other people run tests on it); timings taken under load are not ours.
    """
    deadline = time.monotonic() + max_wait
    while (busy := busy_cpus()) > threshold and time.monotonic() < deadline:
        time.sleep(1.0)
    return busy


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt(value: object) -> str:
    """A figure for the result line: floats with 3 significant decimals at most, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}".removesuffix(".0")
    return str(value)


def result_line(name: str, **values: object) -> str:
    """The one line a benchmark ends with: ``NAME: key=value ...``."""
    return f"{name}: " + " ".join(f"{key}={fmt(value)}" for key, value in values.items())
