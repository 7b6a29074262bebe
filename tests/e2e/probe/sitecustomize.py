"""Loaded by a ``damdrift`` child of tests/e2e/test_lying_dx.py (this folder is first on its PYTHONPATH):
an audit hook (PEP 578) that writes down, one JSON line each, every network contact (DNS lookups,
connects, datagrams, binds), every file system change (a file opened for writing, mkdir, rename, remove,
rmtree, chmod, links) and every process it starts. It only observes: nothing is refused or changed.

The test then checks that the child spoke to no host but DX and wrote nothing outside ``--out``.
Without ``DAMDRIFT_PROBE_LOG`` in the environment it does nothing.
"""

import json
import os
import sys
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_NETWORK = {
    "socket.getaddrinfo": "lookup",
    "socket.gethostbyname": "lookup",
    "socket.gethostbyaddr": "lookup",
    "socket.connect": "connect",
    "socket.sendto": "send",
    "socket.sendmsg": "send",
    "socket.bind": "bind",
}
#: Event: (positions of the paths it changes, position of the dir_fd they are relative to, or None).
_PATHS: dict[str, tuple[tuple[int, ...], int | None]] = {
    "os.mkdir": ((0,), 2),
    "os.remove": ((0,), 1),
    "os.rmdir": ((0,), 1),
    "os.rename": ((0, 1), 2),
    "os.link": ((1,), 3),
    "os.symlink": ((1,), 2),
    "os.truncate": ((0,), None),
    "os.chmod": ((0,), 2),
    "os.chown": ((0,), 3),
    "os.utime": ((0,), 3),
    "shutil.rmtree": ((0,), 1),
}
_PROCESSES = ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.system", "os.fork", "os.forkpty")


def _path(value: object, dir_fd: object = None) -> str | None:
    """The absolute path an event names (relative to its ``dir_fd`` if it has one); None for an fd."""
    if isinstance(value, int) or value is None:  # a file descriptor: opened (and seen) before
        return None
    path = os.fsdecode(os.fspath(value))  # type: ignore[call-overload]
    if isinstance(dir_fd, int) and not os.path.isabs(path):
        return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
    return os.path.abspath(path)


def _event(event: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    if event in _NETWORK:
        if event.startswith("socket.get"):
            return {
                "kind": _NETWORK[event],
                "host": str(args[0]),
                "port": str(args[1]) if len(args) > 1 else "",
            }
        sock, address = args[0], args[-1]
        family = getattr(sock, "family", None)
        shown = list(address) if isinstance(address, tuple) else os.fsdecode(address)
        return {
            "kind": _NETWORK[event],
            "family": int(family) if family is not None else None,
            "address": shown,
        }
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
            (flags or 0) & _WRITE_FLAGS
        )
        where = _path(path)
        return {"kind": "write", "event": "open", "paths": [where]} if writes and where else None
    if event in _PATHS:
        positions, dir_fd = _PATHS[event]
        base = args[dir_fd] if dir_fd is not None and dir_fd < len(args) else None
        paths = [_path(args[i], base) for i in positions]
        return {"kind": "write", "event": event, "paths": [p for p in paths if p]}
    if event in _PROCESSES:
        return {"kind": "process", "event": event, "args": repr(args)[:300]}
    return None


def _install(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in _NETWORK and event not in _PATHS and event != "open" and event not in _PROCESSES:
            return
        try:
            seen = _event(event, args)
        except Exception as exc:  # an event we cannot read is itself worth a look
            seen = {"kind": "unreadable", "event": event, "error": repr(exc)}
        if seen is not None:
            os.write(fd, (json.dumps(seen) + "\n").encode())

    sys.addaudithook(hook)


if os.environ.get("DAMDRIFT_PROBE_LOG"):
    _install(os.environ["DAMDRIFT_PROBE_LOG"])
