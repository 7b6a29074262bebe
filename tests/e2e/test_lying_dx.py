"""Issue 23's done-means, end to end: against a DX that lies, ``damdrift check`` and ``damdrift doctor`` end
by themselves, exit with the status their case calls for, print no traceback, stay under 400 MB, write
nothing outside ``--out``, send nothing anywhere but the DX host, and show nobody the password or a
session cookie.

Each cell is one lie (told by the DX simulator over real HTTP on loopback; nothing in the client is
patched) and one command, run as a real ``python -m damdrift_cli.main`` child with ``DX_PASSWORD`` in its
environment, in a sandbox: its HOME, current directory, TMPDIR and WORK_DIR (the functions' scratch,
Lambda's /tmp) are folders of the test's own, beside a victim folder a lying subscriber id names.
What each cell proves, and how:

1. it ends by itself: a wall-clock bound (:data:`BOUND`); past it the child is killed and the cell fails;
2. its exit status is the one the case calls for (docs/cli.md: 0/1/2 a verdict, 3 the tool could not do
   its job; the doctor: 0 PASS, 1 WARN, 2 FAIL);
3. no ``Traceback`` on stdout or stderr;
4. a peak RSS under :data:`MAX_RSS_MB` (``os.wait4``'s rusage of that one child);
5. nothing written outside ``--out``: the sandbox is the same after as before (scratch files gone), and
   the child's own audit trail (tests/e2e/probe/sitecustomize.py, a PEP 578 hook that only observes)
   shows no file created, changed or removed anywhere else;
6. nothing sent anywhere but the DX host: the audit trail shows no name looked up, no connection and no
   datagram but to the simulator's address, and a listener standing for another host (the target of
   every redirect) was never reached;

and no password or cookie the simulator issued, in any form an echo gives it (JSON ``\\/`` escapes, HTML
entities, URL-encoding, base64 at any alignment, mojibake), appears in stdout, stderr or any file under
``--out``. The lie itself is checked to have been told (each fault hit, each lying subscriber listed).

Measured figures (seconds, peak RSS) go to the JUnit XML as properties of each cell
(``--junitxml=…``). A cell ending at the CLI's first login takes ~1 s of CPU; one running the state
machine (moto deploy, poll jitter, the ASL's own retry waits) 5-10 s, up to ~25 s on a loaded machine.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest

from damdrift_cli.simulator import ActiveFault, Scenario, Simulator
from damdrift_cli.simulator.httpd import ECHO_ENCODINGS
from damdrift_cli.simulator.scenario import parse_drift
from damdrift_cli.simulator.state import SubscriberState
from tests.e2e.leaks import issued_cookies
from tests.listener import connections_to

pytestmark = pytest.mark.e2e

#: Characters every encoding of #23.4 changes: ``/`` (JSON ``\\/``), ``'`` and ``&`` (HTML), ``+`` (URL),
#: ``ä`` (``\\u00e4``, entities, mojibake).
PASSWORD = "Sweep/Pä55'w&rd+93"
MAX_RSS_MB = 400
#: Seconds a command may take before the cell fails: a check runs moto and the state machine (~16 s on a
#: loaded 2-core machine), the doctor a few seconds.
BOUND = {"check": 120.0, "doctor": 60.0}
PROBE = Path(__file__).with_name("probe")
LOOPBACK = "127.0.0.1"
DRIFT = {"COLLECTION": {"CREATE": 3}}

LOGIN = "POST /auth/login"
SUBSCRIBERS = "GET /staging/subscriber"
MISMATCHES = "GET /staging/mismatches"

# -- the world of one cell ------------------------------------------------------------------------------


@dataclass
class World:
    """The simulator telling the lie, a listener standing for another host, and the child's sandbox."""

    dx: Simulator
    elsewhere: socket.socket
    command: str
    root: Path
    faults: list[ActiveFault] = field(default_factory=list)
    #: Ids of subscribers the lie registered (checked to have been listed to the command).
    lying_ids: list[str] = field(default_factory=list)

    @property
    def sandbox(self) -> Path:
        return self.root / "sandbox"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def victim(self) -> Path:
        return self.sandbox / "victim"

    @property
    def elsewhere_url(self) -> str:
        return f"http://{LOOPBACK}:{self.elsewhere.getsockname()[1]}/dx/api/core/v1/auth/login"

    def fault(self, endpoint: str, kind: Any, **options: Any) -> None:
        self.faults.append(self.dx.inject_fault(endpoint, kind, **options))

    def lying_subscriber(
        self, subscriber_id: str, target_host: str, drift: Mapping[str, Any] = DRIFT, **wire: Any
    ) -> None:
        """Registers a subscriber as a lying DX lists it: any id, any target host, any other ``wire``
        field (the simulator's own ``add_subscriber`` insists on a UUID, as DX assigns)."""
        fields = {"cycleLength": 2, "status": True, "syncStatus": "SUCCESS", **wire}
        self.dx.state.add_subscriber(SubscriberState(subscriber_id, target_host, parse_drift(drift), fields))
        self.lying_ids.append(subscriber_id)

    def find_done(self, subscriber_id: str) -> None:
        """A find has run (the doctor reads only the mismatch log DX already has)."""
        self.dx.state.update(subscriber_id, {"resyncStatus": "FIND_MISMATCH_START"})


@dataclass(frozen=True)
class Lie:
    """One way DX lies: how the simulator tells it, and the exit status each command owes it."""

    tell: Callable[[World], None]
    #: Command -> the exit status its case calls for. A lie told only inside the state machine (after the
    #: CLI's own first login) has no doctor cell: the doctor has one path, covered by the lie told always.
    exits: Mapping[str, int]
    scenario: Mapping[str, Any] = field(default_factory=dict)
    #: Command -> why the cell fails on main today: the fix it waits for (strict xfail: it fails loudly
    #: once the fix lands, so the marker goes with it).
    needs: Mapping[str, str] = field(default_factory=dict)
    also: Callable[[World, Run], None] | None = None


# -- the lies ---------------------------------------------------------------------------------------------


def _honest(world: World) -> str:
    return world.dx.add_subscriber("sub.example.com", drift=DRIFT)


def subscriber_id_naming(where: str) -> Callable[[World], None]:
    """#23.1: DX lists a subscriber whose id is a path (the victim folder, or ``../..`` out of WORK_DIR)."""

    def tell(world: World) -> None:
        _honest(world)
        world.lying_subscriber(str(world.victim) if where == "absolute" else where, "victim.example.com")

    return tell


def unknown_resync_status(world: World) -> None:
    """A resyncStatus none of the six (a later DX may add one): check's model refuses the list."""
    _honest(world)
    world.lying_subscriber(
        "6a1e0c1b-2f3d-4e5f-8a9b-0c1d2e3f4a5b", "queued.example.com", resyncStatus="FIND_MISMATCH_QUEUED"
    )


def slack_markup_target_host(world: World) -> None:
    """#23.6: a target host that Slack would render as a link."""
    world.lying_subscriber("0f6c1f2e-5f0e-4d43-9a55-1b2c3d4e5f60", SLACK_LINK)


SLACK_LINK = "<https://evil.example|Approve the resync>"


def markup_stays_text(world: World, run: Run) -> None:
    """The chat notice check prints (what AWS Chatbot would post to Slack), the HTML report and the
    overview show the target host as text; nobody looked up evil.example."""
    if world.command == "check":
        chat = run.stdout.partition("Chat notices")[2]
        assert "&lt;https://evil.example|Approve the resync&gt;" in chat, (
            "no chat notice with the host escaped"
        )
        assert SLACK_LINK not in chat, "the chat notice carries DX's Slack markup as markup"
        pages = {k: v for k, v in everything_under(world.out).items() if k.endswith(".html")}
        assert pages and all(SLACK_LINK not in page for page in pages.values()), sorted(pages)
        assert any("&lt;https://evil.example|Approve the resync&gt;" in page for page in pages.values())
    assert not [e for e in run.events if "evil.example" in json.dumps(e)]


def echo(endpoint: str, encoding: str, after: int = 0) -> Callable[[World], None]:
    """#23.2/#23.4: DX answers 400 with the request (Cookie header, body) reflected in ``encoding``."""

    def tell(world: World) -> None:
        sub = _honest(world)
        if endpoint == MISMATCHES and world.command == "doctor":
            world.find_done(sub)
        world.fault(endpoint, "echo", status=400, encoding=encoding, after=after)

    return tell


def answer(endpoint: str, kind: str, after: int = 0, **options: Any) -> Callable[[World], None]:
    def tell(world: World) -> None:
        _honest(world)
        world.fault(endpoint, kind, after=after, **options)

    return tell


def redirect_elsewhere(endpoint: str) -> Callable[[World], None]:
    """First pass (#12), kept: a 3xx to another host is never followed, the password never goes there."""

    def tell(world: World) -> None:
        _honest(world)
        world.fault(endpoint, "redirect", status=307, location=world.elsewhere_url)

    return tell


def record_types(count: int, length: int) -> Callable[[World], None]:
    """#23.8: every mismatch row has a recordType of its own, ``length`` characters long."""

    def tell(world: World) -> None:
        sub = world.dx.add_subscriber("sub.example.com", drift={"MEDIA_ITEM": {"UPDATE": count}})
        if world.command == "doctor":
            world.find_done(sub)
        world.fault(MISMATCHES, "distinct_record_types", size=length)

    return tell


PASSWORD_ENCODINGS = ("plain", "json", "html", "xml", "url", "base64", "latin1")
#: The cookie is hex: only base64 (and a plain echo) show it differently.
COOKIE_ENCODINGS = ("plain", "base64")

LIES: dict[str, Lie] = {
    # The doctor FAILs a subscriber list check would refuse (what check refuses, the probe says).
    "subscriber-id-absolute-path": Lie(
        subscriber_id_naming("absolute"),
        {"check": 3, "doctor": 2},
    ),
    "subscriber-id-dot-dot": Lie(
        subscriber_id_naming("../.."),
        {"check": 3, "doctor": 2},
    ),
    "resync-status-none-of-the-six": Lie(unknown_resync_status, {"check": 3, "doctor": 2}),
    "target-host-slack-markup": Lie(
        slack_markup_target_host,
        {"check": 1, "doctor": 0},
        also=markup_stays_text,
    ),
    **{
        f"echo-password-{encoding}": Lie(echo(LOGIN, encoding), {"check": 3, "doctor": 2})
        for encoding in PASSWORD_ENCODINGS
    },
    **{
        f"echo-cookie-{encoding}": Lie(echo(SUBSCRIBERS, encoding), {"check": 3, "doctor": 2})
        for encoding in COOKIE_ENCODINGS
    },
    # Past the CLI's first login, inside the state machine: the execution's cause, printed.
    "echo-password-to-the-state-machine-base64": Lie(echo(LOGIN, "base64", after=1), {"check": 2}),
    # The subscriber's report, its notice and the terminal.
    "echo-cookie-on-the-mismatch-log-json": Lie(echo(MISMATCHES, "json"), {"check": 2, "doctor": 2}),
    "empty-objects-8mib-login": Lie(
        answer(LOGIN, "empty_objects"),
        {"check": 3, "doctor": 2},
    ),
    "empty-objects-8mib-subscriber-list": Lie(
        answer(SUBSCRIBERS, "empty_objects"),
        {"check": 3, "doctor": 2},
    ),
    "empty-objects-8mib-login-in-the-state-machine": Lie(
        answer(LOGIN, "empty_objects", after=1), {"check": 2}
    ),
    # 3,000 rows of 100 KB types, 50 a page (DX's own cap): #23.8's 305 MiB, each page within the byte cap;
    # refused at the first page (8 KiB a record on average at most), so the read-ahead never holds them.
    # The doctor WARNs (types not in the spec's enums): it reads, it does not keep.
    "record-types-3000-of-100kb": Lie(
        record_types(3000, 100_000),
        {"check": 2, "doctor": 1},
        scenario={"maxPageSize": 50},
    ),
    "record-types-500-distinct-short": Lie(record_types(500, 24), {"check": 2}),
    "redirect-login-elsewhere": Lie(redirect_elsewhere(LOGIN), {"check": 3, "doctor": 2}),
    "redirect-mismatch-log-elsewhere": Lie(redirect_elsewhere(MISMATCHES), {"check": 2, "doctor": 2}),
    "gzip-bomb-subscriber-list": Lie(answer(SUBSCRIBERS, "gzip_bomb"), {"check": 3, "doctor": 2}),
    "deep-json-subscriber-list": Lie(answer(SUBSCRIBERS, "deep_json"), {"check": 3, "doctor": 2}),
}


def cells() -> Iterator[Any]:
    for name, lie in LIES.items():
        for command in lie.exits:
            marks = (
                [pytest.mark.xfail(strict=True, reason=lie.needs[command])] if command in lie.needs else []
            )
            yield pytest.param(name, command, id=f"{name}-{command}", marks=marks)


# -- running the command ----------------------------------------------------------------------------------


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float
    #: The child's audit trail: network contacts, file system changes, processes (probe/sitecustomize.py).
    events: list[dict[str, Any]]


def damdrift(world: World, command: str) -> Run:
    """Runs ``damdrift <command>`` against the simulator as a person would, in the sandbox, bounded."""
    connection = ["--hostname", LOOPBACK, "--dx-protocol", "http", "--dx-port", str(world.dx.port)]
    argv = [
        sys.executable,
        "-m",
        "damdrift_cli.main",
        command,
        *connection,
        "--dx-username",
        world.dx.username,
    ]
    if command == "check":
        argv += ["--out", str(world.out), "--poll-initial-wait", "0", "--poll-max-wait", "0"]
    probe_log = world.root / "probe.jsonl"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DX_", "DAMDRIFT_")) and key not in ("PYTHONSTARTUP",)
    }
    env |= {
        "PYTHONPATH": os.pathsep.join([str(PROBE), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "DX_PASSWORD": PASSWORD,
        "HOME": str(world.sandbox / "home"),
        "TMPDIR": str(world.sandbox / "tmp"),
        "WORK_DIR": str(world.sandbox / "scratch" / "work"),
        "DAMDRIFT_PROBE_LOG": str(probe_log),
    }
    stdout_path, stderr_path = world.root / "stdout.txt", world.root / "stderr.txt"
    peak = world.root / "peak.json"
    measured = [sys.executable, "-S", "-E", str(PROBE / "peak_rss.py"), str(peak), "--", *argv]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.monotonic()
        child = subprocess.Popen(
            measured,
            cwd=world.sandbox / "cwd",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # on timeout the whole group goes
        )
        try:
            status = child.wait(timeout=BOUND[command])
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            pytest.fail(f"damdrift {command} did not end by itself within {BOUND[command]:.0f} s (killed)")
        seconds = time.monotonic() - started
    events = [json.loads(line) for line in probe_log.read_text().splitlines()] if probe_log.exists() else []
    return Run(
        status,
        stdout_path.read_text(errors="replace"),
        stderr_path.read_text(errors="replace"),
        seconds,
        json.loads(peak.read_text())["maxrss_kib"] / 1024,
        events,
    )


# -- what the cell checks -----------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``folder``: kind, size and (files) content, by relative path."""
    found: dict[str, tuple[str, int, bytes]] = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            found[relative] = ("link", 0, os.readlink(path).encode())
        elif path.is_dir():
            found[relative] = ("dir", 0, b"")
        else:
            found[relative] = ("file", path.stat().st_size, path.read_bytes())
    return found


def make_sandbox(world: World) -> None:
    """Folders a careless child could write into or delete, each holding something of the user's."""
    for name, content in (
        ("home/.profile", "the user's"),
        ("cwd/notes.txt", "the user's"),
        ("tmp/.keep", "another program's"),
        ("scratch/work/.keep", "another function's"),
        ("victim/keep.txt", "the operator's"),
    ):
        path = world.sandbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def _inside(path: str, folder: Path) -> bool:
    return Path(path) == folder or Path(path).is_relative_to(folder)


def writes_outside_out(world: World, run: Run) -> list[dict[str, Any]]:
    """File system changes the audit trail shows outside --out, leaving out the scratch folders (the
    sandbox snapshot proves they end as they began), the interpreter's bytecode cache and /dev."""
    allowed = (
        world.out,
        world.sandbox / "tmp",
        world.sandbox / "scratch" / "work",
        world.root / "probe.jsonl",
    )
    outside = []
    for event in run.events:
        if event["kind"] != "write":
            continue
        for path in event["paths"]:
            if "__pycache__" in Path(path).parts or path.startswith("/dev/"):
                continue
            if not any(_inside(path, folder) for folder in allowed):
                outside.append(event)
    return outside


def contacts_elsewhere(world: World, run: Run) -> list[dict[str, Any]]:
    """Network contacts the audit trail shows with anything but the simulator (and processes started,
    which the trail cannot follow)."""
    ports = {world.dx.port, *(dam.port for dam in world.dx.subscriber_dams)}
    stray = []
    for event in run.events:
        kind = event["kind"]
        if kind == "write":
            continue
        if kind == "lookup" and event["host"] == LOOPBACK and event["port"] in {str(p) for p in ports}:
            continue
        if kind in ("connect", "send"):
            family, address = event["family"], event["address"]
            if family == socket.AF_INET and address[0] == LOOPBACK and address[1] in ports:
                continue
        if kind == "bind" and event["address"][0] in (LOOPBACK, "::1"):  # urllib3 probing for IPv6
            continue
        stray.append(event)
    return stray


_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))", re.S)


def _unfolded(text: str) -> str:
    """``text`` with JSON escapes, HTML entities and URL escapes undone, until none is left."""
    for _ in range(5):
        plain = unquote(html.unescape(_JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)) if m[1] else m[2], text)))
        if plain == text:
            return text
        text = plain
    return text


def shown_forms(secret: str) -> set[str]:
    """How ``secret`` can show in a text without unfolding: base64 (the characters that depend on the
    secret alone, at each of the 3 alignments), plus the simulator's own echo encodings and URL-encoding
    with ``+`` for a space."""
    raw = secret.encode()
    found = {encode(secret) for encode in ECHO_ENCODINGS.values()} | {
        quote_plus(secret),
        quote(secret, safe=""),
    }
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + raw).decode()
        core = encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6]
        found |= {core, core.replace("+", "-").replace("/", "_")}
    return found


def secrets_shown(secrets: set[str], texts: Mapping[str, str]) -> list[str]:
    """Where a secret shows (``where: secret[:2]…``; never the secret whole, this is printed on failure)."""
    shown = []
    for where, text in texts.items():
        unfolded = _unfolded(text)
        for secret in secrets:
            readings = {secret, secret.encode().decode("latin-1")}
            if any(r in text or r in unfolded for r in readings) or any(
                f in text for f in shown_forms(secret)
            ):
                shown.append(f"{where}: {secret[:2]}…({len(secret)} chars)")
    return shown


def everything_under(folder: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []:
        body = path.read_bytes()
        if path.suffix == ".gz":
            body = gzip.decompress(body)
        texts[str(path.relative_to(folder))] = body.decode("utf-8", "replace")
    return texts


# -- the cells ---------------------------------------------------------------------------------------------


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path, elsewhere: socket.socket) -> Iterator[World]:
    name, command = request.node.callspec.params["lie"], request.node.callspec.params["command"]
    scenario = Scenario.model_validate(
        {
            "name": "lying-dx",
            "findDurationSeconds": 0,
            "seed": 23,
            "credentials": {"password": PASSWORD},
            **LIES[name].scenario,
        }
    )
    with Simulator(scenario, record_exchanges=True, max_body_bytes=1 << 12) as dx:
        cell = World(dx, elsewhere, command, tmp_path)
        make_sandbox(cell)
        yield cell


@pytest.mark.parametrize(("lie", "command"), list(cells()))
def test_a_lying_dx_cannot_make_damdrift_hang_crash_bloat_write_outside_out_or_talk_elsewhere(
    world: World, lie: str, command: str, record_property: Callable[[str, object], None]
) -> None:
    told = LIES[lie]
    told.tell(world)
    before = snapshot(world.sandbox)

    run = damdrift(world, command)

    record_property("seconds", round(run.seconds, 2))
    record_property("peak_rss_mb", round(run.peak_rss_mb, 1))
    record_property("exit_status", run.status)
    secrets = {PASSWORD, *issued_cookies(world.dx)}
    shown = secrets_shown(
        secrets,
        {
            "stdout": run.stdout,
            "stderr": run.stderr,
            **{f"--out/{k}": v for k, v in everything_under(world.out).items()},
        },
    )
    assert not shown, f"a secret shows: {shown}"
    tail = f"\n--- stdout (end)\n{run.stdout[-1500:]}\n--- stderr (end)\n{run.stderr[-1500:]}"
    assert run.status == told.exits[command], (
        f"exit status {run.status}, the case calls for {told.exits[command]}{tail}"
    )
    assert "Traceback" not in run.stdout + run.stderr, tail
    assert run.peak_rss_mb < MAX_RSS_MB, f"peak RSS {run.peak_rss_mb:.0f} MB"
    assert snapshot(world.sandbox) == before, "the sandbox (HOME, cwd, TMPDIR, WORK_DIR, the victim) changed"
    assert writes_outside_out(world, run) == []
    assert contacts_elsewhere(world, run) == []
    assert connections_to(world.elsewhere) == 0, "something went to the redirect's host"
    # The lie was told: every fault met a request, every lying subscriber was listed to the command.
    assert all(fault.applied for fault in world.faults), [f.fault.kind for f in world.faults if not f.applied]
    if world.lying_ids:
        assert world.dx.endpoint_hits.get(SUBSCRIBERS, 0) > 0
    if told.also is not None:
        told.also(world, run)
