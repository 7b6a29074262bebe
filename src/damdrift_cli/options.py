"""Command-line options shared by the subcommands, named like dxclient's (``-dxProtocol``: ``--dx-protocol``).

The password is deliberately not an option: it comes from ``DX_PASSWORD`` or a prompt, so it never
lands in shell history or a process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

PASSWORD_ENV = "DX_PASSWORD"  # noqa: S105 - the variable's name, not a password  # nosec B105


def add_connection_arguments(parser: argparse.ArgumentParser, *, hostname_required: bool = False) -> None:
    group = parser.add_argument_group("DX publisher (as dxclient's options)")
    group.add_argument(
        "--hostname", required=hostname_required, help="publisher host name, e.g. dx.example.com"
    )
    group.add_argument("--dx-protocol", choices=["https", "http"], default="https", help="default: https")
    group.add_argument("--dx-port", type=int, help="port of both APIs unless the next two say otherwise")
    group.add_argument("--ring-api-port", type=int, help="port of the DX Core (Ring) API, where login lives")
    group.add_argument("--dam-api-port", type=int, help="port of the DAM API")
    group.add_argument("--ring-api-version", default="v1", help="default: v1")
    group.add_argument("--dam-api-version", default="v1", help="default: v1")
    group.add_argument("--dx-username", default="wpsadmin", help="a DX administrator (default: wpsadmin)")
    group.add_argument("--ca-bundle", help="CA bundle (PEM) for a DX ingress with a private CA")
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify TLS certificates (logged as a warning on every run)",
    )


def publisher_input(args: argparse.Namespace) -> dict[str, Any]:
    """The execution input's ``publisher`` object built from the options (validated by the state machine)."""
    publisher: dict[str, Any] = {
        "hostname": args.hostname,
        "dxProtocol": args.dx_protocol,
        "ringAPIVersion": args.ring_api_version,
        "damAPIVersion": args.dam_api_version,
    }
    for key, value in (
        ("dxPort", args.dx_port),
        ("ringAPIPort", args.ring_api_port),
        ("damAPIPort", args.dam_api_port),
    ):
        if value is not None:
            publisher[key] = value
    if args.ca_bundle:
        publisher["caBundle"] = args.ca_bundle
    if args.insecure:
        publisher["verifyTls"] = False
        print(
            f"damdrift: warning: --insecure: the TLS certificate of {args.hostname} is not verified; anyone "
            "on the path can read the DX credentials (use --ca-bundle for a private CA)",
            file=sys.stderr,
        )
    return publisher


def read_password(username: str) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit(
            f"damdrift: set {PASSWORD_ENV} (no terminal to prompt for the password of {username!r})"
        )
    return getpass.getpass(f"DX password for {username}: ")
