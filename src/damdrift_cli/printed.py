"""The ``damdrift check`` command a check prints for what to do next, with every option it ran with.

A next step that drops ``--dx-protocol http`` or ``--out`` fails (or writes elsewhere) when pasted, so
the command is rebuilt from the parsed options, each in the spelling ``--help`` shows, shell-quoted.
The password is never an option, so it never appears here.
"""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any

from damdrift_cli.options import CONNECTION_SETTINGS

#: dest -> option, for the connection settings a later command needs to reach the same publisher.
_CONNECTION_OPTIONS = {
    "hostname": "--hostname",
    "dx_protocol": "--dx-protocol",
    "dx_port": "--dx-port",
    "ring_api_port": "--ring-api-port",
    "dam_api_port": "--dam-api-port",
    "ring_api_version": "--ring-api-version",
    "dam_api_version": "--dam-api-version",
    "dx_username": "--dx-username",
}
#: dest -> option, for the check policy: a rerun waits and notifies as the check did.
_POLICY_OPTIONS = {
    "poll_initial_wait": "--poll-initial-wait",
    "poll_max_wait": "--poll-max-wait",
    "max_find_duration": "--max-find-duration",
    "busy_policy": "--busy-policy",
    "notify_policy": "--notify-policy",
    "max_concurrency": "--max-concurrency",
}
_DAM_PATH = re.compile(r"\(subscriberOptions\.(?P<id>[^ )]+)\.dam\)")


def check_command(args: argparse.Namespace) -> str:
    """``damdrift check`` with the connection, output and remediation-connection options of ``args``
    (not ``--subscriber-id`` or ``--remediate``: each next step adds its own)."""
    words = ["damdrift", "check", *(["--demo"] if args.demo else _connection(args)), "--out", str(args.out)]
    for dest, option in _POLICY_OPTIONS.items():
        if getattr(args, dest, None) is not None:
            words += [option, str(getattr(args, dest))]
    for subscriber_id, dam in args.subscriber_dam:
        words += ["--subscriber-dam", f"{subscriber_id}={dam_url(dam)}"]
    for subscriber_id in args.two_way:
        words += ["--two-way", subscriber_id]
    return shlex.join(words)


def subscribers_command(args: argparse.Namespace) -> str | None:
    """``damdrift subscribers`` against the publisher ``args`` name (None for the demo's, which is gone
    once the check ends)."""
    return None if args.demo else shlex.join(["damdrift", "subscribers", *_connection(args)])


def _connection(args: argparse.Namespace) -> list[str]:
    words = ["--config", str(args.config)] if args.config is not None else []
    for dest, option in _CONNECTION_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None and value != CONNECTION_SETTINGS[dest][2]:
            words += [option, str(value)]
    if args.ca_bundle:
        words += ["--ca-bundle", args.ca_bundle]
    if args.insecure:
        words.append("--insecure")
    return words


def dam_url(dam: dict[str, Any]) -> str:
    """A subscriber DAM connection as ``--subscriber-dam`` takes it: ``https://host[:port]``."""
    port = f":{dam['dxPort']}" if dam.get("dxPort") else ""
    return f"{dam.get('dxProtocol', 'https')}://{dam['hostname']}{port}"


def refusal_for_the_cli(reason: str) -> str:
    """A remediation refusal in the CLI's words: the execution input's path becomes the option."""
    reason = _DAM_PATH.sub(r"(give --subscriber-dam \g<id>=https://HOST[:PORT], its own DX)", reason)
    return reason.replace("remediation.force is true", "--force-remediation is given")


def missing_dam(
    remediation: dict[str, Any] | None, subscriber_id: str, target_host: str | None
) -> str | None:
    """After a refusal for want of the subscriber's DAM: the ``--subscriber-dam`` value to try (its
    target host over https, what DX knows the subscriber by), else None."""
    if not remediation or remediation.get("phase") != "REFUSED":
        return None
    if not _DAM_PATH.search(str(remediation.get("reason") or "")):
        return None
    return f"{subscriber_id}=https://{target_host or 'HOST'}"
