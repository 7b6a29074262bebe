"""Nothing leaked: the password and every LTPA cookie value DX issued appear nowhere a reader can look —
execution history, function logs, CloudWatch Logs, S3 objects, notifications, the execution output."""

import json
import logging

import pytest

from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import FAST_CLIENT, check_input, stack_of
from tests.e2e.leaks import everything_a_reader_can_see, issued_cookies

pytestmark = pytest.mark.e2e

DRIFT = {"COLLECTION": {"CREATE": 2}, "MEDIA_ITEM": {"DELETE": 1}}


def test_password_and_cookies_never_appear_in_history_logs_reports_or_notices(
    publisher: Simulator, aws: LocalAws
) -> None:
    publisher.add_subscriber("sub-drifted.example.com", drift=DRIFT)
    publisher.add_subscriber("sub-fails.example.com", find_outcome="fail")
    publisher.inject_fault("GET /staging/mismatches", "expire_sessions", times=1)  # forces a second login

    run = aws.run_check(check_input(publisher, notifyPolicy="always"))

    cookies = issued_cookies(publisher)
    assert len(cookies) >= 2, "the test must see the cookies it looks for"
    seen = everything_a_reader_can_see(aws, run.history, run.output)
    seen += "\n".join(n.subject + n.message + json.dumps(n.attributes) for n in run.notices)
    assert publisher.password not in seen
    for cookie in cookies:
        assert cookie not in seen


def test_a_failed_login_leaks_neither_the_wrong_password_nor_the_right_one(publisher: Simulator) -> None:
    publisher.add_subscriber("sub.example.com")
    wrong = "Wr0ng-Pa55word-xyz"
    with LocalAws(
        {"username": publisher.username, "password": wrong},
        parameters=stack_of(publisher),
        retry_time_scale=0.01,
    ) as aws:
        run = aws.run_check(check_input(publisher))
        seen = everything_a_reader_can_see(aws, run.history, run.output)
    seen += "\n".join(n.message for n in run.notices)
    assert run.status == "FAILED"
    assert wrong not in seen
    assert publisher.password not in seen


def test_a_check_at_debug_level_writes_no_secret_to_any_log_line(
    publisher: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """botocore logs whole response bodies at DEBUG (GetSecretValue's too): the library loggers stay at
    INFO whatever the function's level, while the function's own DEBUG lines still show."""
    publisher.add_subscriber("sub.example.com", drift=DRIFT)
    caplog.set_level(logging.DEBUG)
    env = {**FAST_CLIENT, "POWERTOOLS_LOG_LEVEL": "DEBUG", "LOG_LEVEL": "DEBUG"}
    with LocalAws(
        {"username": publisher.username, "password": publisher.password},
        parameters=stack_of(publisher),
        retry_time_scale=0.01,
        function_env=env,
    ) as aws:
        caplog.clear()  # the local deployment itself (CreateSecret) is the test's doing, not the stack's
        run = aws.run_check(check_input(publisher))
        function_logs = aws.function_logs()

    assert run.status == "SUCCEEDED"
    lines = [record.getMessage() for record in caplog.records] + function_logs.splitlines()
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "the capture must see DEBUG lines"
    secrets = {publisher.password, *issued_cookies(publisher)}
    leaking = [line[:80] for line in lines for secret in secrets if secret in line]
    assert leaking == [], f"{len(leaking)} log lines hold a secret"
