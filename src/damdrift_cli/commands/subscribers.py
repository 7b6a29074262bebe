"""``damdrift subscribers``: the publisher's registered staging subscribers, as dxclient lists them.

One login, one ``GET /staging/subscriber``, one logout: id, target host, sync status, resync status
and last resync, so the ids to pass to ``damdrift check --subscriber-id`` are at hand.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any, TextIO

from damdrift.dx.models import Subscriber
from damdrift_cli.commands.check import printable
from damdrift_cli.exit_status import TOOL_FAILED
from damdrift_cli.options import add_connection_arguments, publisher_input, read_password, resolve_connection
from damdrift_cli.preflight import login_once


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "subscribers",
        help="list the publisher's staging subscribers (id, target host, sync and resync status)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    resolve_connection(args)
    if not args.hostname:
        print("damdrift subscribers: give --hostname (or --config with dxclient's config.json)", file=err)
        return TOOL_FAILED
    publisher = publisher_input(args)
    password = read_password(args.dx_username, args.config_password)
    subscribers = login_once(publisher, args.dx_username, password)
    print_table(subscribers, out)
    return 0


def print_table(subscribers: list[Subscriber], out: TextIO) -> None:
    if not subscribers:
        print("No staging subscribers are registered on this publisher.", file=out)
        return
    rows: list[list[str]] = [["ID", "TARGET HOST", "SYNC STATUS", "RESYNC STATUS", "LAST RESYNC"]]
    for s in subscribers:
        last = _when(s.last_resync_time)
        resync = str(s.resync_status) if s.resync_status is not None else "-"
        rows.append([printable(cell) for cell in (s.id, s.target_host, s.sync_status or "-", resync, last)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else "-"
