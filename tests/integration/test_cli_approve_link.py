"""`damdrift approve` answers a deployed stack's request through the approval URL, as the notice prints
it (issue 25, item 2). The approve function is the real one (``functions/approve/app.py`` in moto),
served on loopback as its function URL would serve it; the notice is the real request-approval step's."""

from __future__ import annotations

import json
import shlex
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

import pytest

from damdrift.remediation.approval import PendingApproval
from damdrift.state import OutboundNotice
from damdrift.steps.approval import _with_approval
from damdrift_cli.commands.approve import describe
from damdrift_cli.main import main
from tests.aws import FakeStepFunctions
from tests.unit import test_approval_page_and_handler as handler_tests
from tests.unit.test_approval_page_and_handler import Aws, ask_for, call, url_event

# The approve function's fixtures (moto with the report bucket, the function loaded as Lambda loads it).
aws, approve, step_functions = handler_tests.aws, handler_tests.approve, handler_tests.step_functions


@pytest.fixture
def approval_url(approve: ModuleType) -> Iterator[str]:
    """The approve function behind a loopback URL: each request becomes a function URL event."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            response = call(approve, url_event("POST", form=form))
            page = response["body"].encode()
            self.send_response(response["statusCode"])
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def notice_commands(pending: PendingApproval, url: str) -> list[list[str]]:
    notice = OutboundNotice(
        TopicArn="arn:aws:sns:us-east-1:123456789012:t", Subject="s", Message="DRIFT\n", MessageAttributes={}
    )
    message = _with_approval(notice, pending, url).Message
    assert f"request {pending.reference}" in message
    return [shlex.split(line)[1:] for line in message.splitlines() if line.strip().startswith("damdrift ")]


def test_the_notices_approve_command_answers_through_the_approval_url_once(
    aws: Aws, approval_url: str, step_functions: FakeStepFunctions, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)  # no region, no bucket: the link is all it needs
    pending = ask_for(aws)
    approve_command, deny_command = notice_commands(pending, approval_url)
    assert deny_command == [*approve_command, "--deny"]

    assert main(approve_command) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith(f"Approved request {pending.reference}: Resync approved.")
    assert pending.approval_id is not None and pending.approval_id not in out + err  # a secret
    answer = json.loads(step_functions.successes[0]["output"])
    assert answer["approved"] is True and len(step_functions.successes) == 1

    assert main(deny_command) == 3  # one use
    err = capsys.readouterr().err
    assert f"request {pending.reference}: This approval link cannot be used." in err
    assert "already answered" in err and pending.approval_id not in err
    assert err.count("\n") == 1


def test_the_terminal_prompt_and_the_notice_name_a_request_alike(aws: Aws) -> None:
    pending = ask_for(aws)
    listed = aws.approvals().pending()[0]  # what damdrift check's prompt sees: the record, not the id
    assert describe(listed).startswith(f"request {pending.reference}: resync sub-1.example.com")
    assert len(pending.reference) == 8 and pending.reference == listed.reference


def test_a_local_runs_notice_points_at_the_checks_prompt_not_at_a_command_that_cannot_answer(
    aws: Aws,
) -> None:
    pending = ask_for(aws)
    notice = OutboundNotice(
        TopicArn="arn:aws:sns:us-east-1:123456789012:t", Subject="s", Message="DRIFT\n", MessageAttributes={}
    )
    message = _with_approval(notice, pending, None).Message
    assert f"damdrift check asks about request {pending.reference}" in message
    assert "damdrift approve" not in message and str(pending.approval_id) not in message


@pytest.mark.parametrize(
    "link",
    ["https://abc.lambda-url.us-east-1.on.aws/", "http://dx.example.com/?id=" + "a" * 32, "not a link"],
)
def test_something_other_than_the_notices_link_is_refused_in_one_sentence(
    link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approve", link]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected the approval link of the drift notice" in err


def test_an_approval_url_nothing_answers_at_is_named_with_its_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not 'ConnectionError': the port nothing listens on, the name that does not resolve."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["approve", f"http://127.0.0.1:{port}/?id=" + "a" * 32]) == 3
    err = capsys.readouterr().err
    assert err == f"damdrift: cannot reach the approval URL http://127.0.0.1:{port}/: nothing listens there\n"

    def no_such_name(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    assert main(["approve", "https://abc.lambda-url.eu-west-1.on.aws/?id=" + "a" * 32]) == 3
    err = capsys.readouterr().err
    assert err == (
        "damdrift: cannot reach the approval URL https://abc.lambda-url.eu-west-1.on.aws/: "
        "its host name does not resolve\n"
    )


def test_report_pull_honours_the_aws_cli_profile_and_its_region(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = eu-west-1\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    seen: dict[str, Any] = {}

    def pull(s3: Any, bucket: str, out: Any, publisher: Any) -> Any:
        seen["region"] = s3.meta.region_name
        raise SystemExit(0)

    monkeypatch.setattr("damdrift_cli.commands.report.pull_reports", pull)
    with pytest.raises(SystemExit):
        main(["report", "pull", "--bucket", "b", "--profile", "ops", "--out", str(tmp_path / "out")])
    assert seen["region"] == "eu-west-1"
    monkeypatch.setenv("AWS_PROFILE", "ops")
    with pytest.raises(SystemExit):
        main(["report", "pull", "--bucket", "b", "--out", str(tmp_path / "out")])
    assert seen["region"] == "eu-west-1"
