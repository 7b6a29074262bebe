"""A listening socket standing for another host, for the tests that prove a redirect is never followed."""

import socket
from collections.abc import Iterator
from contextlib import closing

import pytest


@pytest.fixture
def elsewhere() -> Iterator[socket.socket]:
    """A listening socket standing for another host: a client that followed a redirect would connect."""
    with closing(socket.create_server(("127.0.0.1", 0))) as server:
        server.setblocking(False)
        yield server


def connections_to(server: socket.socket) -> int:
    """How many connections reached ``server`` (accepted and closed here)."""
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1
