"""``damdrift doctor``: a read-only probe of a DX publisher: which of dam-drift's assumptions hold there.

It logs in (``POST /auth/login``, then ``POST /auth/validate``; again if DX ends the session midway),
logs out at the end (``POST /auth/logout``, then ``/auth/validate`` to see the session is over) and
otherwise only reads: it never triggers a find or a resync, never deletes mismatch rows, never
changes a subscriber. One line per
check: PASS, WARN, FAIL or NOT CHECKED, with what DX answered. Exit status: 0 every checked thing
passed, 1 a warning, 2 a failure. ``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from pydantic import ValidationError

from damdrift.doctor import run_doctor
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift_cli.exit_status import CommandFailed
from damdrift_cli.options import add_connection_arguments, publisher_input, read_password, resolve_connection

EXIT_ERRORED = 2

_EPILOG = """\
example, against the bundled simulator (`damdrift simulate --port 8085` in another terminal):
  DX_PASSWORD=wpsadmin damdrift doctor --hostname 127.0.0.1 --dx-protocol http --dx-port 8085
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="probe a DX publisher read-only and report which of dam-drift's assumptions hold",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--subscriber-id",
        "-subscriberId",
        action="append",
        default=[],
        help="read only this subscriber's mismatch log (id or target host; repeatable; default all)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    add_connection_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, progress: TextIO | None = None) -> int:
    out, progress = out or sys.stdout, progress or sys.stderr
    resolve_connection(args)
    if not args.hostname:
        raise CommandFailed("give --hostname (or --config with dxclient's config.json)")
    try:
        connection = DxConnection.model_validate(publisher_input(args))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"damdrift doctor: {problems}", file=progress)
        return EXIT_ERRORED
    password = read_password(args.dx_username, args.config_password)
    credentials = DxCredentials(username=args.dx_username, password=password)
    print(f"Probing {connection.ring_base_url} and {connection.dam_base_url} (read-only) ...", file=progress)
    report = run_doctor(connection, credentials, args.subscriber_id)
    if args.json:
        print(json.dumps(report.to_wire(), indent=2), file=out)
    else:
        print(report.text(), file=out)
    return report.exit_code
