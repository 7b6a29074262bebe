"""``damdrift check``'s remediation options: they build the execution input's remediation fields, and
the stack parameters the local run deploys with.

A subscriber's own DX is given as a URL (``--subscriber-dam ID=https://sub.example.com[:port]``),
because it has a host, a protocol and a port of its own; ``--approve`` answers ``remediate: ask``
requests while the local execution waits (``prompt`` asks on the terminal). What a deployed stack
decides (``MaxRemediation``, ``TwoWaySubscribers``), the local stack is deployed with: the person at
the terminal is both the one who deploys and the one who starts the check.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit


def add_remediation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("remediation (opt-in: start-staging-resync after DRIFT, then verify)")
    group.add_argument(
        "--remediate",
        choices=["never", "ask", "auto"],
        help="after DRIFT: never (default), ask before a resync, or resync automatically",
    )
    group.add_argument(
        "--subscriber-dam",
        action="append",
        default=[],
        metavar="ID=URL",
        type=_subscriber_dam,
        help="the subscriber's own DX, e.g. 8c72...=https://dx-sub.example.com (the subscriber by its id "
        "or target host; repeatable)",
    )
    group.add_argument(
        "--two-way",
        action="append",
        default=[],
        metavar="ID",
        help="declare two-way staging for this subscriber (its id or target host): remediation refuses "
        "(repeatable; the local stack is deployed with TwoWaySubscribers=ID)",
    )
    group.add_argument(
        "--force-remediation", action="store_true", help="lift the one-remediation-a-day limit"
    )
    group.add_argument(
        "--approval-timeout",
        type=int,
        help="seconds the execution waits for an answer (remediate ask; default 86400); "
        "the terminal prompt denies after 300 s without one",
    )
    group.add_argument(
        "--approve",
        choices=["prompt", "yes", "no"],
        default="prompt",
        help="answer remediate-ask requests: prompt on the terminal (default), or yes/no for all",
    )


def remediation_input(args: argparse.Namespace, demo_dams: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The remediation fields of the execution input (empty when no option asked for any)."""
    fields: dict[str, Any] = {}
    if args.remediate:
        fields["remediate"] = args.remediate
    policy: dict[str, Any] = {}
    if args.force_remediation:
        policy["force"] = True
    if args.approval_timeout is not None:
        policy["approvalTimeoutSeconds"] = args.approval_timeout
    if policy:
        fields["remediation"] = policy
    options: dict[str, dict[str, Any]] = {sub: {"dam": dam} for sub, dam in demo_dams.items()}
    for subscriber_id, dam in args.subscriber_dam:
        options.setdefault(subscriber_id, {})["dam"] = dam
    if options and (args.remediate or args.subscriber_dam):
        fields["subscriberOptions"] = options
    return fields


def remediation_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The stack parameters the local run deploys with: the ceiling is the mode the user asked for
    (``--remediate auto`` deploys ``MaxRemediation=auto``), and ``--two-way`` lists the subscribers."""
    parameters = {"MaxRemediation": args.remediate or "never"}
    if args.two_way:
        parameters["TwoWaySubscribers"] = ",".join(args.two_way)
    return parameters


def _subscriber_dam(value: str) -> tuple[str, dict[str, Any]]:
    subscriber_id, sep, url = value.partition("=")
    parts = urlsplit(url)
    if not sep or not subscriber_id or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected SUBSCRIBER_ID=https://host[:port] (the subscriber's own DX), got {value!r}"
        )
    dam: dict[str, Any] = {"hostname": parts.hostname, "dxProtocol": parts.scheme}
    if parts.port is not None:
        dam["dxPort"] = parts.port
    return subscriber_id, dam
