"""The report viewer on loopback: the same ``damdrift.viewer.serve.respond`` the Lambda function URL runs,
reading a ``damdrift check --out DIR`` folder instead of S3, so the links a local check prints open in a
browser (``damdrift report serve``).

Bounded on purpose: it listens on 127.0.0.1 only, answers one request at a time, gives each connection
10 seconds, and stops after ``--for`` seconds (default an hour). The links' key is ``DIR/.viewer-key``
(random, created on first use, readable by its owner only); deleting it revokes every local link.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from damdrift.viewer.serve import FolderReports, ViewerResponse, respond

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765
KEY_FILENAME = ".viewer-key"
CONNECTION_TIMEOUT_SECONDS = 10


def viewer_url(port: int = DEFAULT_PORT) -> str:
    return f"http://{LOOPBACK}:{port}/"


def local_key(reports: Path) -> bytes:
    """The folder's link key, created (0600) when missing."""
    path = reports / KEY_FILENAME
    if not path.is_file():
        reports.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def function_env(port: int = DEFAULT_PORT) -> dict[str, str]:
    """What the local fetch function needs to sign links this server opens (no S3 console locally)."""
    return {"REPORT_VIEWER_URL": viewer_url(port), "REPORT_CONSOLE_LINKS": "false"}


def handler_for(reports: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> type:
    """An HTTP request handler answering through :func:`respond` from the folder ``reports``."""
    source = FolderReports(reports)

    class ViewerHandler(BaseHTTPRequestHandler):
        timeout = CONNECTION_TIMEOUT_SECONDS
        server_version = "dam-drift-viewer"
        sys_version = ""

        def _answer(self) -> None:
            # Re-read per request: deleting or replacing the key revokes links at once.
            key = local_key(reports)
            answer = respond(self.command, urlsplit(self.path).path, key, clock(), source)
            self._send(answer)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _answer

        def _send(self, answer: ViewerResponse) -> None:
            self.send_response(answer.status)
            headers = dict(answer.headers)
            if answer.file is None:
                headers["Content-Length"] = str(len(answer.body))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            if answer.file is not None:
                with answer.file.open("rb") as stream:
                    shutil.copyfileobj(stream, self.wfile)
            else:
                self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Only the status: the path is the link, a capability, and stays out of logs."""
            status = args[1] if len(args) > 1 else "-"
            print(f"  {self.command} -> {status}", file=self.server.log)  # type: ignore[attr-defined]

    return ViewerHandler


def serve(reports: Path, *, port: int, seconds: float, log: TextIO) -> None:
    """Serve ``reports`` on loopback until ``seconds`` have passed (or Ctrl-C)."""
    server = HTTPServer((LOOPBACK, port), handler_for(reports))
    server.log = log  # type: ignore[attr-defined]
    server.timeout = 1.0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            server.handle_request()
    finally:
        server.server_close()


def install_key(aws: Any, reports: Path) -> None:
    """Puts the folder's link key into the local stack's link key secret, so the local check signs
    links that ``damdrift report serve --reports`` the same folder opens."""
    arn = aws.deployment.physical.get("ReportLinkKey")
    if arn:
        aws.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=local_key(reports).decode())
