"""Nothing leaked: the password and every LTPA cookie value DX issued appear nowhere a reader can look —
execution history, function logs, CloudWatch Logs, S3 objects, notifications, the execution output."""

import json

import pytest

from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import check_input
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
    with LocalAws({"username": publisher.username, "password": wrong}, retry_time_scale=0.01) as aws:
        run = aws.run_check(check_input(publisher))
        seen = everything_a_reader_can_see(aws, run.history, run.output)
    seen += "\n".join(n.message for n in run.notices)
    assert run.status == "FAILED"
    assert wrong not in seen
    assert publisher.password not in seen
