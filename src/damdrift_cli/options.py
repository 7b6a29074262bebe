"""Command-line options shared by the subcommands, named like dxclient's (``-dxProtocol``: ``--dx-protocol``).

dxclient's own single-dash camelCase spellings (``-hostname``, ``-dxProtocol``, ``-dxPort``, ...) are
accepted as aliases, and ``--config PATH`` reads the same settings from dxclient's ``config.json``
(keys named like its options); an option on the command line wins over the file.

The password is deliberately not an option: it comes from ``DX_PASSWORD``, dxclient's config.json
(``dxPassword``) or a prompt, so it never lands in shell history or a process list.
"""

from __future__ import annotations

import argparse
import difflib
import getpass
import ipaddress
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from damdrift_cli.exit_status import CommandFailed

PASSWORD_ENV = "DX_PASSWORD"  # noqa: S105 - the variable's name, not a password  # nosec B105

#: option dest -> (dxclient's spelling and config.json key, type, default)
CONNECTION_SETTINGS: dict[str, tuple[str, type, Any]] = {
    "hostname": ("hostname", str, None),
    "dx_protocol": ("dxProtocol", str, "https"),
    "dx_port": ("dxPort", int, None),
    "ring_api_port": ("ringAPIPort", int, None),
    "dam_api_port": ("damAPIPort", int, None),
    "ring_api_version": ("ringAPIVersion", str, "v1"),
    "dam_api_version": ("damAPIVersion", str, "v1"),
    "dx_username": ("dxUsername", str, "wpsadmin"),
}


class _PasswordOption(argparse.Action):
    """``--dx-password``/``-dxPassword``: answered with how the password is passed instead."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.error(
            f"the password is not an option (it would land in the shell history and the process list): "
            f"set {PASSWORD_ENV}, give --config with dxclient's config.json, or type it at the prompt"
        )


def add_connection_arguments(parser: argparse.ArgumentParser, *, hostname_required: bool = False) -> None:
    group = parser.add_argument_group(
        "DX publisher (dxclient's options; its spellings such as -hostname and -dxPort work too)"
    )
    group.add_argument(
        "--hostname", "-hostname", required=hostname_required, help="publisher host name, e.g. dx.example.com"
    )
    group.add_argument("--dx-protocol", "-dxProtocol", choices=["https", "http"], help="default: https")
    group.add_argument(
        "--dx-port",
        "-dxPort",
        type=int,
        help="port of both APIs unless the next two say otherwise (default: the protocol's, 443 or 80)",
    )
    group.add_argument(
        "--ring-api-port",
        "-ringAPIPort",
        type=int,
        help="port of the DX Core (Ring) API, where login lives (default: --dx-port)",
    )
    group.add_argument(
        "--dam-api-port", "-damAPIPort", type=int, help="port of the DAM API (default: --dx-port)"
    )
    group.add_argument("--ring-api-version", "-ringAPIVersion", help="default: v1")
    group.add_argument("--dam-api-version", "-damAPIVersion", help="default: v1")
    group.add_argument(
        "--dx-username",
        "-dxUsername",
        help="a DX administrator (default: wpsadmin); the password comes "
        f"from {PASSWORD_ENV}, --config or a prompt",
    )
    group.add_argument("--dx-password", "-dxPassword", "--password", action=_PasswordOption)
    group.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="dxclient's config.json: connection settings (and dxPassword) not given as options",
    )
    group.add_argument(
        "--ca-bundle", help="CA bundle (PEM) of a DX ingress with a private CA (default: the public CAs)"
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify TLS certificates (logged as a warning on every run)",
    )


def resolve_connection(args: argparse.Namespace) -> None:
    """Fills the connection options not given on the command line from ``--config``, then the defaults.

    Also keeps dxclient's ``dxPassword`` from the file (never printed) for :func:`read_password`.
    """
    config = _read_config(args.config) if getattr(args, "config", None) else {}
    for dest, (key, kind, default) in CONNECTION_SETTINGS.items():
        if getattr(args, dest, None) is not None:
            continue
        value = config.get(key)
        if value in (None, ""):
            setattr(args, dest, default)
            continue
        try:
            setattr(args, dest, kind(value))
        except (TypeError, ValueError):
            expected = "a port number" if kind is int else "text"
            raise CommandFailed(f"--config {args.config}: {key} is {value!r}; expected {expected}") from None
    password = config.get("dxPassword")
    args.config_password = password if isinstance(password, str) and password else None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandFailed(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CommandFailed(f"--config {path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CommandFailed(f"--config {path}: expected dxclient's config.json, a JSON object")
    for key in data:
        meant = _meant(key)
        if meant is not None:
            print(
                f"damdrift: warning: --config {path}: {key!r} is not read; did you mean {meant!r}?",
                file=sys.stderr,
            )
    return data


#: The config.json keys dam-drift reads (dxclient's spelling).
CONFIG_KEYS = [key for key, _, _ in CONNECTION_SETTINGS.values()] + ["dxPassword"]


def _meant(key: str) -> str | None:
    """The key dam-drift reads that ``key`` misspells (``hostName``: ``hostname``), else None (a key
    of dxclient's that dam-drift does not need is no mistake)."""
    if key in CONFIG_KEYS:
        return None
    folded = {known.lower(): known for known in CONFIG_KEYS}
    close = difflib.get_close_matches(key.lower().replace("_", "").replace("-", ""), folded, n=1, cutoff=0.9)
    return folded[close[0]] if close else None


def publisher_input(args: argparse.Namespace) -> dict[str, Any]:
    """The execution input's ``publisher`` object built from the options (validated by the state machine)."""
    if not hasattr(args, "config_password"):
        resolve_connection(args)
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
        _said_insecure_once()
    if args.dx_protocol == "http" and not is_loopback(args.hostname):
        print(
            f"damdrift: warning: dxProtocol http: the DX password and session cookie cross the network "
            f"unencrypted to {args.hostname}",
            file=sys.stderr,
        )
    return publisher


def is_loopback(hostname: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1``: traffic that never leaves the machine."""
    name = hostname.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _DropClientInsecureWarning(logging.Filter):
    """The DX client's own verifyTls=false warning: the line above already said it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("TLS certificate verification is OFF")


def _said_insecure_once() -> None:
    """--insecure is one line of ours: urllib3's per-request InsecureRequestWarning (with its source
    line) and the DX client's warning say the same again, so the CLI process turns them off."""
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    client_log = logging.getLogger("damdrift.dx.client")
    if not any(isinstance(f, _DropClientInsecureWarning) for f in client_log.filters):
        client_log.addFilter(_DropClientInsecureWarning())


def read_password(username: str, from_config: str | None = None) -> str:
    password = os.environ.get(PASSWORD_ENV) or from_config
    if password:
        return password
    if not sys.stdin.isatty():
        raise CommandFailed(f"set {PASSWORD_ENV} (no terminal to prompt for the password of {username!r})")
    return getpass.getpass(f"DX password for {username}: ")
