"""The report viewer on loopback: the same ``damdrift.viewer.serve.respond`` the Lambda function URL runs,
reading a ``damdrift check --out DIR`` folder instead of S3, so the links a local check prints open in a
browser (``damdrift report serve``).

Bounded on purpose: it listens on 127.0.0.1 only, answers one request at a time, gives each connection
10 seconds, and stops after ``--for`` seconds (default an hour). The links' key is ``DIR/.viewer-key``
(random, created on first use, readable by its owner only); deleting it revokes every local link.
"""

from __future__ import annotations

import json
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
CHAT_CAPTURE_QUEUE = "dam-drift-local-chat-capture"
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


#: The stack parameter that gives a local check the template's chat topic (and fetch-report's grant to
#: publish to it), whose messages the check prints (what AWS Chatbot would post; a topic of the CLI's
#: own was refused by the role, so the chat preview never printed).
CHAT_PARAMETERS = {"ChatNotifications": "true"}


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


def install_chat(aws: Any) -> str:
    """Subscribes a queue to the stack's chat topic (``CHAT_PARAMETERS``), capturing each message as
    Chatbot gets it; returns the queue's URL."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = aws.deployment.topics["ChatTopic"]
    queue: str = sqs.create_queue(QueueName=CHAT_CAPTURE_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return queue


def chat_messages(aws: Any, queue: str) -> list[str]:
    """Every chat message the run published, as posted (JSON)."""
    sqs, found = aws.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        found += [message["Body"] for message in batch]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return found


def print_chat(messages: list[str], out: TextIO) -> None:
    """What AWS Chatbot would post, one JSON document per notice."""
    if not messages:
        return
    print(
        f"\nChat notices (AWS Chatbot custom notifications, as a ChatTopic would get them): {len(messages)}",
        file=out,
    )
    for message in messages:
        print(json.dumps(json.loads(message), indent=2, ensure_ascii=False), file=out)
