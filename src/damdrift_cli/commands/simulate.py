"""``damdrift simulate``: a simulated HCL DX publisher on loopback, for demos and manual testing."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from damdrift_cli.exit_status import TOOL_FAILED
from damdrift_cli.options import PASSWORD_ENV
from damdrift_cli.simulator import Scenario, ScenarioError, Simulator, builtin_scenarios, load_scenario
from damdrift_cli.simulator.scenario import DEFAULT_PASSWORD, drift_of

_DESCRIPTION = """\
Serve a simulated HCL DX publisher on loopback until Ctrl-C.

It speaks the HTTP API that dxclient's staging commands use: Ring API login with an LtpaToken2
cookie, DAM /staging/subscriber, /staging/mismatches and /operations. A scenario sets its
subscribers, their drift, and how long a find-mismatch takes and how it ends. Point
`damdrift check` or curl at the URL it prints.

Subscribers with "dam": true in the scenario (the default scenario's drifted one) also get a DAM of
their own on another port (URL printed under the subscriber): Ring login and /operations, where a
resync's syncStaging* operations run and clear the drift as they succeed.
"""

_EPILOG = """\
examples:
  damdrift simulate --port 8085
  damdrift simulate --scenario large --find-duration 30
  DX_PASSWORD=s3cret damdrift simulate --dx-username dxadmin --scenario ./my-scenario.json

then, e.g.:
  curl -c jar -H 'Content-Type: application/json' \\
       -d '{"username":"wpsadmin","password":"wpsadmin"}' http://127.0.0.1:8085/dx/api/core/v1/auth/login
  curl -b jar http://127.0.0.1:8085/dx/api/dam/v1/staging/subscriber
"""

_OUTCOMES = {"complete": "find completes", "fail": "find fails", "stuck": "find never finishes"}
_RESYNC_OUTCOMES = {
    "complete": "resync completes",
    "fail": "resync fails",
    "partial": "resync partly fails",
    "stuck": "resync never finishes",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="serve a simulated DX publisher (for demos and tests)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port; printed)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument(
        "--scenario",
        default="default",
        metavar="NAME-or-FILE",
        help=f"a built-in scenario ({', '.join(builtin_scenarios())}; default: default) or a JSON file",
    )
    parser.add_argument(
        "--find-duration",
        type=_seconds,
        metavar="SECONDS",
        help="how long a find-mismatch runs before it ends (default: the scenario's)",
    )
    parser.add_argument(
        "--dx-username",
        metavar="USER",
        help=f"the user login accepts (default: the scenario's, wpsadmin); the password is ${PASSWORD_ENV} "
        "if set, else the scenario's",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request line (never cookies)")
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def run(args: argparse.Namespace) -> int:
    """Serves until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return serve(args, stop)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(args: argparse.Namespace, stop: threading.Event, out: TextIO | None = None) -> int:
    """Serves until ``stop`` is set. The first line printed is ``DX simulator listening on <base URL>``."""
    out = out or sys.stdout
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"damdrift simulate: {exc}", file=sys.stderr)
        return TOOL_FAILED
    scenario, password_note = _with_credentials(scenario, args.dx_username, os.environ.get(PASSWORD_ENV))
    if args.verbose:
        logging.basicConfig(format="%(asctime)s %(message)s")
        logging.getLogger("damdrift_cli.simulator").setLevel(logging.DEBUG)
    simulator = Simulator(scenario, host=args.host, port=args.port, find_duration=args.find_duration)
    try:
        simulator.start()
    except OSError as exc:
        print(
            f"damdrift simulate: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return TOOL_FAILED
    try:
        print(f"DX simulator listening on {simulator.base_url}", file=out, flush=True)
        _describe(simulator, scenario, password_note, out)
        if not _is_loopback(args.host):
            print(f"warning: bound to {args.host}, which other machines may reach", file=sys.stderr)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
    print("DX simulator stopped.", file=out, flush=True)
    return 0


def _with_credentials(scenario: Scenario, username: str | None, password: str | None) -> tuple[Scenario, str]:
    """The scenario with the command line's user and ``$DX_PASSWORD``, and how to show the password."""
    changes = {"username": username, "password": password}
    credentials = scenario.credentials.model_copy(update={k: v for k, v in changes.items() if v})
    if password:
        note = f"(password from ${PASSWORD_ENV})"
    elif credentials.password == DEFAULT_PASSWORD:
        note = f"password {DEFAULT_PASSWORD}"
    else:
        note = "(password as set in the scenario)"
    return scenario.model_copy(update={"credentials": credentials}), note


def _describe(simulator: Simulator, scenario: Scenario, password_note: str, out: TextIO) -> None:
    settings = simulator.state.settings
    lines = [
        f"  Ring API (login):  {simulator.ring_base_url}",
        f"  DAM API:           {simulator.dam_base_url}",
        f"  Scenario:          {scenario.name}: {scenario.description}".rstrip(": "),
        f"  Credentials:       user {settings.username}, {password_note}",
        f"  Timings:           find {settings.find_duration_seconds:g} s,"
        f" resync {settings.resync_duration_seconds:g} s"
        f" + operations {settings.operation_duration_seconds:g} s, session {settings.token_ttl_seconds:g} s",
        f"  Subscribers ({len(scenario.subscribers)}):",
    ]
    for sub in scenario.subscribers:
        total = drift_of(sub.drift).total
        outcomes = _OUTCOMES[sub.find_outcome]
        if sub.resync_outcome != "complete":
            outcomes += f", {_RESYNC_OUTCOMES[sub.resync_outcome]}"
        lines.append(f"    {sub.id}  {sub.target_host:<32} {total:>9} mismatches, {outcomes}")
        if sub.dam:
            dam = simulator.subscriber_dam(sub.id)
            lines.append(f"      subscriber DAM: {dam.base_url}  (Ring login and /operations)")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), file=out, flush=True)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m damdrift_cli.commands.simulate [options]``: this command without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="damdrift")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
