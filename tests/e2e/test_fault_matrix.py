"""The fault matrix: whatever DX, the network or AWS does, a check ends in a clear outcome, every record
already downloaded is kept, and nobody learns a secret from what the run left behind.

Each cell runs the real ASL file in moto with the real handlers against the DX simulator, injects one
fault (simulator faults for DX and the network, ``aws.faults`` for S3 and SNS, the Lambda adapter for a
timed-out function) and asserts the outcome, what was stored (``damdrift_cli.local.audit``: no delivered
record lost), what was notified, and after the cell that no password or LTPA cookie appears in history,
logs, exception texts, S3 objects, notices or output (``tests.e2e.leaks``).

Timings are shrunk, not skipped: 4 records a DX page, a checkpoint part every 8 records, 2 transport
retries 10 ms apart, a 1 s read timeout, the ASL's retry intervals scaled by 0.01, polls without waits.
"""

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from damdrift.dx.client import ERROR_INFO_CHARS
from damdrift.dx.sessions import forget_all
from damdrift_cli.local.audit import Audit, audit, bucket_objects, stored_report
from damdrift_cli.local.runner import CheckRun, LocalAws, Notice
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import FAST_CLIENT, stack_of
from tests.e2e.leaks import everything_runs_show, issued_cookies, leaked
from tests.listener import connections_to

pytestmark = pytest.mark.e2e

#: 19 records: pages of 4 (0-3, 4-7, 8-11, 12-15, 16-18); parts of 8 (0-7, 8-15), then a tail of 3.
DRIFT = {"COLLECTION": {"CREATE": 5}, "MEDIA_ITEM": {"UPDATE": 9}, "RENDITION": {"DELETE": 5}}
TOTAL = 19
MATRIX_ENV = {
    **FAST_CLIENT,
    "DX_PAGE_SIZE": "4",
    "REPORT_PART_RECORDS": "8",
    "DX_READ_TIMEOUT": "1",
    # A hostile DX meets the same caps as in production, shrunk like the rest of the timings.
    "DX_REQUEST_DEADLINE": "3",
    "DX_RETRY_AFTER_MAX": "1",
    "REPORT_MAX_RECORDS": "40",
}
#: The secrets a cell plants (CannotStart), listed as a deployed stack lists its extra secrets.
CELL_SECRET, ABSENT_SECRET = "matrix/cell", "matrix/absent"


def matrix_env(dx: Simulator) -> dict[str, str]:
    """The credentials bound to the simulator's host and port, as a deployed stack binds them to
    DxHostname and DxPort; the cells' own secrets (ExtraCredentialsSecretArns) to the same endpoint."""
    endpoint = f"{dx.hostname}:{dx.port}"
    return {
        **MATRIX_ENV,
        "ALLOWED_DX_HOSTS": endpoint,
        "EXTRA_CREDENTIALS_SECRETS": f"{CELL_SECRET},{ABSENT_SECRET}",
        "EXTRA_CREDENTIALS_SECRET_HOSTS": f"{endpoint},{endpoint}",
    }


NO_WAIT_POLL = {"initialWaitSeconds": 0, "maxWaitSeconds": 0, "jitterSeconds": 0, "maxDurationSeconds": 60}

MISMATCHES = "GET /staging/mismatches"
LOGIN = "POST /auth/login"
SUBSCRIBER = "GET /staging/subscriber/{subscriber_id}"
SUBSCRIBERS = "GET /staging/subscriber"
TRIGGER = "PATCH /staging/subscriber/{subscriber_id}"


@dataclass
class Matrix:
    """One cell's world: the simulator, moto, and every run made (for the secrets scan)."""

    dx: Simulator
    aws: LocalAws
    runs: list[CheckRun] = field(default_factory=list)
    #: Secret values a cell planted besides the DX password (e.g. a wrong password in a secret).
    secrets: set[str] = field(default_factory=set)

    def check(self, **extra: Any) -> CheckRun:
        """Per-subscriber notices (``notices: subscriber``): each cell asserts one subscriber's own notice
        and its ``notified`` status, which the run's notice (the default) leaves SKIPPED."""
        poll = {**NO_WAIT_POLL, **extra.pop("poll", {})}
        run = self.aws.run_check(
            {
                "publisher": {"hostname": self.dx.hostname, "dxProtocol": "http", "dxPort": self.dx.port},
                "poll": poll,
                "notices": "subscriber",
                **extra,
            },
            timeout_seconds=120,
        )
        self.runs.append(run)
        return run

    def secret(self, value: str) -> str:
        """Creates the cell's Secrets Manager secret holding ``value``; returns its name."""
        self.aws.client("secretsmanager").create_secret(Name=CELL_SECRET, SecretString=value)
        return CELL_SECRET


@pytest.fixture
def matrix(publisher: Simulator) -> Iterator[Matrix]:
    forget_all()
    credentials = {"username": publisher.username, "password": publisher.password}
    with LocalAws(
        credentials, parameters=stack_of(publisher), retry_time_scale=0.01, function_env=MATRIX_ENV
    ) as aws:
        cell = Matrix(publisher, aws)
        yield cell
        # The security scan of this cell: nothing a reader can see holds a password or a cookie.
        seen = everything_runs_show(aws, cell.runs)
        secrets = {publisher.password, *issued_cookies(publisher), *cell.secrets}
        assert not leaked(secrets, seen), "a secret leaked into the run's artefacts"
    forget_all()


# -- reading a run -----------------------------------------------------------------------------------


def outcome_of(run: CheckRun, subscriber_id: str) -> dict[str, Any]:
    for item in run.outcomes:
        if item["subscriberId"] == subscriber_id:
            return item
    raise AssertionError(f"no outcome for {subscriber_id}: {run.status} {run.error} {run.outcomes}")


def failed_steps(run: CheckRun) -> list[str]:
    """The error of every failed Lambda invocation or service task, in order (each one was retried or
    caught)."""
    errors = []
    for event in run.history:
        details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails")
        if details:
            errors.append(str(details.get("error")))
    return errors


def mismatch_offsets(dx: Simulator) -> list[int]:
    return [int(e.query.get("offset", ["0"])[0]) for e in dx.exchanges if e.endpoint == MISMATCHES]


def notices_for(run: CheckRun, subscriber_id: str) -> list[Notice]:
    return [n for n in run.notices if n.attributes.get("subscriberId") == subscriber_id]


def finds_started(dx: Simulator, subscriber_id: str) -> int:
    operations = dx.state.operations(None, frozenset({"findStagingMismatch"}))
    return sum(op["inputs"].get("subscriberId") == subscriber_id for op in operations)


def whole_report(cell: Matrix, run: CheckRun, subscriber_id: str) -> Audit:
    """Asserts a DRIFT outcome whose stored report is exactly DX's log, announced once; returns the audit."""
    result = audit(cell.aws, cell.dx, run, subscriber_id)
    assert (result.status, result.problems) == ("DRIFT", []), outcome_of(run, subscriber_id)["outcome"]
    assert (result.stored, result.delivered, result.leftovers) == (TOTAL, TOTAL, [])
    assert [n.topic for n in notices_for(run, subscriber_id)] == ["DriftTopic"]
    assert outcome_of(run, subscriber_id)["notified"]["status"] == "SENT"
    return result


def kept_partial(cell: Matrix, run: CheckRun, subscriber_id: str, error: str, stored: int) -> dict[str, Any]:
    """Asserts an ERRORED outcome with ``stored`` records kept as a partial report; returns the summary."""
    result = audit(cell.aws, cell.dx, run, subscriber_id)
    assert (result.status, result.error_type, result.problems) == ("ERRORED", error, []), result
    assert (result.stored, result.leftovers) == (stored, [])
    summary_key = outcome_of(run, subscriber_id)["outcome"]["summaryKey"]
    summary = stored_report(cell.aws, summary_key.rpartition("/")[0] + "/").summary
    assert summary is not None
    assert (summary["status"], summary["partial"], summary["total"]) == ("ERRORED", True, stored)
    assert f"{stored} records were downloaded and stored before the failure" in summary["error"]["message"]
    [notice] = notices_for(run, subscriber_id)
    assert (notice.topic, notice.attributes["status"]) == ("OpsTopic", "ERRORED")
    assert "partial" in notice.message
    return summary


# -- DX and the network: faults the retries outlast -----------------------------------------------------


def dx_fault(endpoint: str, kind: str, **options: Any) -> dict[str, Any]:
    """Keyword arguments for ``Simulator.inject_fault``."""
    return {"endpoint": endpoint, "kind": kind, **options}


@dataclass(frozen=True)
class Transient:
    """A DX or network fault that clears within the retry budget, and the step failures it should cost."""

    fault: dict[str, Any]
    step_failures: list[str]


STEP_RETRY = ["DxUnavailable"]
TRANSIENT = {
    # 500 is not retried by the transport: each costs one Step Functions retry, which resumes.
    "500-burst": Transient(dx_fault(MISMATCHES, "status", status=500, times=4, after=1), STEP_RETRY * 4),
    # 502-504 are retried by the transport twice first: a burst of 4 outlasts it once.
    "502-burst": Transient(dx_fault(MISMATCHES, "status", status=502, times=4, after=1), STEP_RETRY),
    "503-burst": Transient(dx_fault(MISMATCHES, "status", status=503, times=4, after=1), STEP_RETRY),
    "504-burst": Transient(dx_fault(MISMATCHES, "status", status=504, times=4, after=1), STEP_RETRY),
    "429-retry-after": Transient(dx_fault(SUBSCRIBER, "status", status=429, retry_after=1, times=1), []),
    "connection-reset": Transient(dx_fault(MISMATCHES, "drop", times=2, after=1), []),
    "read-timeout": Transient(dx_fault(MISMATCHES, "delay", seconds=1.5, times=1, after=1), []),
    "ingress-html-200": Transient(dx_fault(MISMATCHES, "html", times=1, after=1), ["UnexpectedResponse"]),
    "malformed-json": Transient(
        dx_fault(MISMATCHES, "malformed_json", times=1, after=1), ["UnexpectedResponse"]
    ),
    "truncated-body": Transient(dx_fault(MISMATCHES, "truncate", times=1, after=1), STEP_RETRY),
}


@pytest.mark.parametrize("cell_id", TRANSIENT)
def test_a_dx_fault_within_the_retry_budget_still_ends_with_the_whole_report(
    matrix: Matrix, cell_id: str
) -> None:
    cell = TRANSIENT[cell_id]
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    fault = matrix.dx.inject_fault(**cell.fault)

    run = matrix.check()

    assert fault.applied == cell.fault["times"]
    whole_report(matrix, run, sub)
    assert failed_steps(run) == cell.step_failures
    assert mismatch_offsets(matrix.dx).count(0) == 1, "a retried download resumes, it never starts over"


def test_a_session_that_expires_mid_download_is_renewed_by_exactly_one_login(matrix: Matrix) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.dx.inject_fault(MISMATCHES, "expire_sessions", times=1, after=2)

    run = matrix.check()

    whole_report(matrix, run, sub)
    logins = [e for e in matrix.dx.exchanges if e.path.endswith("/auth/login")]
    assert len(logins) == 2  # the first, then one after the 401
    assert failed_steps(run) == []


def test_a_trigger_whose_answer_was_lost_is_repeated_gets_409_and_joins_the_find_it_started(
    matrix: Matrix,
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.dx.inject_fault(TRIGGER, "drop_answer", times=1)  # DX started the find; the answer is lost

    run = matrix.check()

    whole_report(matrix, run, sub)
    answers = [e.status for e in matrix.dx.exchanges if e.endpoint == TRIGGER]
    assert answers == [200, 409]  # the transport repeated the PATCH; DX refused the second
    assert finds_started(matrix.dx, sub) == 1


def test_a_find_already_running_is_joined_without_a_second_trigger(matrix: Matrix) -> None:
    # Long enough that the other find is still running when the check looks, even on a loaded machine
    # (at 2 s it could end first, and a second trigger was then right).
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT, find_duration_seconds=8)
    matrix.dx.state.update(sub, {"resyncStatus": "FIND_MISMATCH_START"})  # someone else's find

    run = matrix.check()

    whole_report(matrix, run, sub)
    assert matrix.dx.find_trigger_count(sub) == 1
    assert finds_started(matrix.dx, sub) == 1


# -- DX and the network: faults that outlast the retries --------------------------------------------------

PERSISTENT = {
    # The first two pages (8 records: one checkpoint part) arrive, then DX fails for good.
    "500-persistent": (dx_fault(MISMATCHES, "status", status=500, after=2), "DxUnavailable", 8),
    "502-persistent": (dx_fault(MISMATCHES, "status", status=502, after=2), "DxUnavailable", 8),
    "503-persistent": (dx_fault(MISMATCHES, "status", status=503, after=2), "DxUnavailable", 8),
    "504-persistent": (dx_fault(MISMATCHES, "status", status=504, after=2), "DxUnavailable", 8),
    # An ingress that answers its HTML page from the second page on; the first page is kept.
    "ingress-html-persistent": (dx_fault(MISMATCHES, "html", after=1), "UnexpectedResponse", 4),
}


@pytest.mark.parametrize("cell_id", PERSISTENT)
def test_a_dx_fault_outlasting_the_retries_ends_errored_keeping_every_downloaded_record(
    matrix: Matrix, cell_id: str
) -> None:
    fault, error, kept = PERSISTENT[cell_id]
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.dx.inject_fault(**fault)

    run = matrix.check()

    assert run.status == "SUCCEEDED"
    kept_partial(matrix, run, sub, error, kept)
    assert mismatch_offsets(matrix.dx).count(0) == 1


def test_a_server_that_ignores_offset_is_detected_not_looped_on_and_its_first_page_is_kept(
    matrix: Matrix,
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.dx.inject_fault(MISMATCHES, "ignore_offset")

    run = matrix.check()

    summary = kept_partial(matrix, run, sub, "UnexpectedResponse", 4)
    assert "ignores 'offset'" in summary["error"]["message"]
    # First attempt: page 1, then the repeat; the retry (once, for UnexpectedResponse) resumes at
    # record 4 and is answered page 1 again: caught by the first record the checkpoint remembers.
    assert mismatch_offsets(matrix.dx) == [0, 4, 4]


# -- a hostile DX: never followed elsewhere, bounded in size and time (issue 12) ---------------------------


def test_a_login_redirect_fails_the_check_at_once_and_nothing_goes_to_its_host(
    matrix: Matrix, elsewhere: socket.socket
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    location = f"http://localhost:{elsewhere.getsockname()[1]}/dx/api/core/v1/auth/login"
    matrix.dx.inject_fault(LOGIN, "redirect", status=308, location=location)

    run = matrix.check()

    assert (run.status, run.error) == ("FAILED", "UnexpectedResponse")
    assert "a redirect to localhost" in (run.cause or "")
    assert connections_to(elsewhere) == 0, "the password went to the redirect's host"
    assert matrix.dx.find_trigger_count(sub) == 0


HOSTILE = {
    # Each spares the first page (4 records), then answers every request for the rest its way.
    "dam-redirect": (
        dx_fault(MISMATCHES, "redirect", status=302, location="http://127.0.0.1:9/x", after=1),
        "UnexpectedResponse",
    ),
    "gzip-bomb": (dx_fault(MISMATCHES, "gzip_bomb", after=1), "UnexpectedResponse"),
    "drip-fed-body": (dx_fault(MISMATCHES, "drip", seconds=0.25, after=1), "UnexpectedResponse"),
    "huge-retry-after": (
        dx_fault(MISMATCHES, "status", status=429, retry_after=21600, after=1),
        "DxUnavailable",
    ),
    "deep-json": (dx_fault(MISMATCHES, "deep_json", after=1), "UnexpectedResponse"),
    "page-longer-than-limit": (dx_fault(MISMATCHES, "ignore_limit", after=1), "UnexpectedResponse"),
}


@pytest.mark.parametrize("cell_id", HOSTILE)
def test_a_hostile_dx_ends_the_subscriber_errored_by_itself_keeping_the_first_page(
    matrix: Matrix, cell_id: str
) -> None:
    fault, error = HOSTILE[cell_id]
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.dx.inject_fault(**fault)

    run = matrix.check()

    assert run.status == "SUCCEEDED"
    kept_partial(matrix, run, sub, error, 4)


def test_a_log_that_never_ends_stops_at_the_record_cap_keeping_the_records_before_it(matrix: Matrix) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.dx.inject_fault(MISMATCHES, "endless_pages")

    run = matrix.check()

    result = audit(matrix.aws, matrix.dx, run, sub)
    # DX delivered one page past the cap (that is how the cap is noticed); only those 4 are not kept.
    assert (result.status, result.error_type, result.delivered, result.stored) == (
        "ERRORED",
        "UnexpectedResponse",
        44,
        40,
    )
    summary_key = outcome_of(run, sub)["outcome"]["summaryKey"]
    summary = stored_report(matrix.aws, summary_key.rpartition("/")[0] + "/").summary
    assert summary is not None
    assert (summary["status"], summary["partial"], summary["total"]) == ("ERRORED", True, 40)
    assert "more than 40 records (REPORT_MAX_RECORDS)" in summary["error"]["message"]
    assert max(mismatch_offsets(matrix.dx)) == 40  # the retry did not ask DX for more
    [notice] = notices_for(run, sub)
    assert (notice.topic, notice.attributes["status"]) == ("OpsTopic", "ERRORED")


def test_an_input_naming_a_secret_the_stack_does_not_list_fails_before_it_is_read(matrix: Matrix) -> None:
    """A secret outside ExtraCredentialsSecretArns is bound to no host and no role may read it on AWS:
    refused as bad input before it is read, and nothing is sent to DX."""
    matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    value = json.dumps({"username": "wpsadmin", "password": "0ther-Pa55-12"})
    matrix.secrets.add(value)
    secret = matrix.secret(value)

    run = matrix.check(credentialsSecret=secret)

    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert "is not one this stack may use" in (run.cause or "") and "ExtraCredentialsSecretArns" in (
        run.cause or ""
    )
    assert matrix.dx.exchanges == [], "a request went out before the input was refused"


@pytest.mark.parametrize("where", ["publisher", "subscriber-dam"])
def test_an_input_naming_a_host_the_credentials_are_not_for_fails_before_any_request(
    matrix: Matrix, where: str
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    # localhost reaches the very same simulator: only the binding stops the password going there.
    other = {"hostname": "localhost", "dxProtocol": "http", "dxPort": matrix.dx.port}
    extra: dict[str, Any] = (
        {"publisher": other} if where == "publisher" else {"subscriberOptions": {sub: {"dam": other}}}
    )

    run = matrix.check(**extra)

    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    field = "publisher" if where == "publisher" else f"subscriberOptions.{sub}.dam"
    assert f"{field}.hostname: 'localhost' is not a DX host" in (run.cause or "")
    assert matrix.dx.exchanges == [], "a request went out before the input was refused"


# -- one subscriber cannot be checked: it ends ERRORED, the others go on --------------------------------


def test_find_mismatch_failed_ends_errored_with_dx_diagnosis(matrix: Matrix) -> None:
    good = matrix.dx.add_subscriber("good.example.com", drift=DRIFT)
    bad = matrix.dx.add_subscriber("bad.example.com", drift=DRIFT, find_outcome="fail")

    run = matrix.check()

    whole_report(matrix, run, good)
    error = outcome_of(run, bad)["outcome"]["error"]
    assert error["type"] == "FindMismatchFailed", error
    assert error["diagnosis"]["operation"]["retryCounter"] > 0
    assert [n.topic for n in notices_for(run, bad)] == ["OpsTopic"]


def test_a_failed_find_whose_error_info_holds_the_password_and_a_megabyte_carries_neither(
    matrix: Matrix,
) -> None:
    bad = matrix.dx.add_subscriber("bad.example.com", drift=DRIFT, find_outcome="fail")
    error_info = {"message": f"login {matrix.dx.password} refused", "detail": "x" * 1_000_000}
    operation = {
        "id": "op-huge",
        "triggerFunction": "findStagingMismatch",
        "status": "FAILED",
        "retryCounter": 1,
        "inputs": {"subscriberId": bad},
        "errorInfo": error_info,
    }
    # The trigger's busy check reads /operations first; the poll that sees FAILED reads DX's diagnosis.
    matrix.dx.inject_fault("GET /operations", "json", body=[operation], after=1)

    run = matrix.check()

    error = outcome_of(run, bad)["outcome"]["error"]
    assert error["type"] == "FindMismatchFailed", error
    assert error["diagnosis"]["operation"]["retryCounter"] == 1
    shown = error["diagnosis"]["operation"]["errorInfo"]
    assert shown["chars"] > 1_000_000 and len(shown["excerpt"]) <= ERROR_INFO_CHARS + 1
    assert shown["excerpt"].startswith('{"message": "login [redacted] refused", "detail": "xxx')
    summary = stored_report(
        matrix.aws, outcome_of(run, bad)["outcome"]["summaryKey"].rpartition("/")[0] + "/"
    )
    assert summary.summary is not None and summary.summary["error"] == error
    [notice] = notices_for(run, bad)
    assert len(notice.message) < 8_000
    [failure] = [
        e["lambdaFunctionFailedEventDetails"] for e in run.history if "lambdaFunctionFailedEventDetails" in e
    ]
    assert len(failure["cause"]) < 32_768  # what Step Functions keeps of a cause: the diagnosis comes back
    # the password: the matrix's scan after the cell (history, logs, S3, notices, output)


def test_a_find_stuck_past_the_cap_ends_errored_as_timed_out(matrix: Matrix) -> None:
    good = matrix.dx.add_subscriber("good.example.com", drift=DRIFT)
    stuck = matrix.dx.add_subscriber("stuck.example.com", drift=DRIFT, find_outcome="stuck")

    run = matrix.check(poll={"maxDurationSeconds": 2})

    whole_report(matrix, run, good)
    error = outcome_of(run, stuck)["outcome"]["error"]
    assert error["type"] == "FindMismatchTimedOut", error
    assert "FIND_MISMATCH_START" in error["message"]
    assert [n.topic for n in notices_for(run, stuck)] == ["OpsTopic"]


def test_an_unknown_subscriber_id_ends_errored_without_any_trigger(matrix: Matrix) -> None:
    good = matrix.dx.add_subscriber("good.example.com", drift=DRIFT)
    unknown = "00000000-0000-4000-8000-000000000404"

    run = matrix.check(subscriberIds=[good, unknown])

    whole_report(matrix, run, good)
    assert outcome_of(run, unknown)["outcome"]["error"]["type"] == "SubscriberNotFound"
    assert matrix.dx.find_trigger_count(unknown) == 0
    assert [n.topic for n in notices_for(run, unknown)] == ["OpsTopic"]


def test_a_subscriber_deregistered_mid_run_ends_errored_as_not_found(matrix: Matrix) -> None:
    good = matrix.dx.add_subscriber("good.example.com", drift=DRIFT)
    gone = matrix.dx.add_subscriber("gone.example.com", drift=DRIFT)
    matrix.dx.inject_fault(SUBSCRIBER, "deregister", subscriber_id=gone, after=1)  # after the trigger

    run = matrix.check()

    whole_report(matrix, run, good)
    assert outcome_of(run, gone)["outcome"]["error"]["type"] == "SubscriberNotFound"
    assert [n.topic for n in notices_for(run, gone)] == ["OpsTopic"]


# -- the check cannot start: the execution fails at once and the ops topic hears of it --------------------


@dataclass(frozen=True)
class CannotStart:
    """A cell whose check cannot start. The secrets are the stack's own (the one secret its roles may
    read, as on AWS): ``secret_value`` is put into it, ``missing_secret`` deletes it; ``other_secret``
    names in the input a secret the roles were never granted."""

    error: str
    secret_value: str | None = None
    missing_secret: bool = False
    other_secret: bool = False
    dx_fault: dict[str, Any] | None = None
    cause_mentions: tuple[str, ...] = ()


CANNOT_START = {
    "bad-credentials": CannotStart(
        "AuthenticationError",
        secret_value=json.dumps({"username": "wpsadmin", "password": "Wr0ng-Pa55-77"}),
        cause_mentions=("refused the login of user 'wpsadmin'",),
    ),
    "user-not-admin-403": CannotStart(
        "PermissionDenied",
        dx_fault=dx_fault(SUBSCRIBERS, "status", status=403),
        cause_mentions=("administrator",),
    ),
    "secret-missing": CannotStart(
        "CredentialsError",
        missing_secret=True,
        cause_mentions=("could not be read (ResourceNotFoundException)",),
    ),
    "secret-wrong-shape": CannotStart(
        "CredentialsError",
        secret_value=json.dumps({"user": "wpsadmin", "pass": "Sh4pe-Pa55-31"}),
        cause_mentions=("username", "password"),
    ),
    "secret-not-json": CannotStart(
        "CredentialsError", secret_value="N0t-Js0n-Pa55", cause_mentions=("not JSON",)
    ),
}


@pytest.mark.parametrize("cell_id", CANNOT_START)
def test_a_check_that_cannot_start_fails_at_once_naming_the_problem_and_tells_the_ops_topic(
    matrix: Matrix, cell_id: str
) -> None:
    cell = CANNOT_START[cell_id]
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    extra: dict[str, Any] = {}
    secrets = matrix.aws.client("secretsmanager")
    secret = matrix.aws.deployment.secret_arn if matrix.aws.deployment else ""
    if cell.secret_value is not None:
        matrix.secrets.add(cell.secret_value)
        if cell.other_secret:
            secret = extra["credentialsSecret"] = matrix.secret(cell.secret_value)
        else:
            secrets.put_secret_value(SecretId=secret, SecretString=cell.secret_value)
    if cell.missing_secret:
        secrets.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
    if cell.dx_fault:
        matrix.dx.inject_fault(**cell.dx_fault)

    run = matrix.check(**extra)

    assert (run.status, run.error) == ("FAILED", cell.error)
    cause = run.cause or ""
    if cell.error == "CredentialsError":
        assert secret in cause, "the error names the secret"
    for words in cell.cause_mentions:
        assert words in cause
    [notice] = run.notices
    assert (notice.topic, notice.attributes["status"]) == ("OpsTopic", "ERRORED")
    assert cell.error in notice.message
    assert matrix.dx.find_trigger_count(sub) == 0
    assert bucket_objects(matrix.aws) == {}


#: What a DX (or an ingress in front of it) may write into its error message: lines of its own, one of
#: them a header an e-mail reader would believe, and other control characters.
FORGED_LINES = "No such list.\r\nSubject: [IN_SYNC] all is well\n\nReply with your password\x0bor\x85else"


def test_a_dx_error_message_with_line_breaks_reaches_the_ops_notice_as_one_line(matrix: Matrix) -> None:
    matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.dx.inject_fault(SUBSCRIBERS, "status", status=404, message=FORGED_LINES)

    run = matrix.check()

    assert (run.status, run.error) == ("FAILED", "NotFound")
    [notice] = run.notices
    assert (notice.topic, notice.attributes["status"]) == ("OpsTopic", "ERRORED")
    assert notice.message.splitlines() == [notice.message]
    assert "HTTP 404: No such list. Subject: [IN_SYNC] all is well Reply with your password or else" in (
        notice.message
    )
    assert (run.cause or "").splitlines() == [run.cause]


# -- AWS: S3 and SNS ----------------------------------------------------------------------------------


def test_an_s3_blip_is_absorbed_by_boto3s_own_retries(matrix: Matrix) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    fault = matrix.aws.faults.fail("s3", "PutObject", kind="connection", path_contains="/report.csv", times=2)

    run = matrix.check()

    assert fault.applied == 2
    whole_report(matrix, run, sub)
    assert failed_steps(run) == []


def test_s3_failing_past_boto3s_retries_is_retried_by_the_state_machine_which_resumes(
    matrix: Matrix,
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    # boto3 tries 3 times: the second part's upload fails once past that, then S3 recovers.
    matrix.aws.faults.fail("s3", "PutObject", code="InternalError", path_contains="/_parts/00002/", times=3)

    run = matrix.check()

    whole_report(matrix, run, sub)
    assert failed_steps(run) == ["ReportStorageError"]
    # Part 1 (records 0-7) was stored before the failure; the retry asked DX only for what followed
    # (up to the empty page at 19 that ends a download).
    assert mismatch_offsets(matrix.dx) == [0, 4, 8, 12, 8, 12, 16, 19]


def test_s3_refusing_one_part_for_good_ends_errored_with_the_stored_part_as_the_partial_report(
    matrix: Matrix,
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.aws.faults.fail("s3", "PutObject", code="AccessDenied", status=403, path_contains="/_parts/00002/")

    run = matrix.check()

    summary = kept_partial(matrix, run, sub, "ReportStorageError", 8)
    assert "records 0-7 are stored in 1 part(s)" in summary["error"]["message"]
    assert "AccessDenied" in summary["error"]["message"]
    assert failed_steps(run) == ["ReportStorageError"] * 3  # the step and its two retries
    result = audit(matrix.aws, matrix.dx, run, sub)
    assert result.refused_by_s3 == 8  # records 8-15 arrived, S3 refused them, and the outcome says so


def test_s3_refusing_every_write_ends_errored_saying_so_in_the_output_and_to_the_ops_topic(
    matrix: Matrix,
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.aws.faults.fail("s3", "PutObject", code="InternalError")

    run = matrix.check()

    assert run.status == "SUCCEEDED"
    item = outcome_of(run, sub)
    assert item["status"] == "ERRORED"
    assert item["error"]["Error"] == item["recordError"]["Error"] == "ReportStorageError"
    assert "no record of this report is stored yet" in item["error"]["Cause"]
    assert item["notified"]["status"] == "SENT"
    [notice] = notices_for(run, sub)
    assert notice.topic == "OpsTopic"
    assert "could not store" in notice.subject
    # Each failure in one sentence, its type and message, without the Lambda's stack trace or file paths
    assert "What happened: ReportStorageError: " in notice.message
    assert "Storing the ERRORED summary failed: ReportStorageError: " in notice.message
    assert "no record of this report is stored yet" in notice.message
    shown = notice.message + json.dumps(item)
    traces = ("stackTrace", "Traceback", 'File \\"', ".py", "/damdrift/")
    assert [hint for hint in traces if hint in shown] == []
    assert bucket_objects(matrix.aws) == {}
    assert audit(matrix.aws, matrix.dx, run, sub).problems == []


def test_sns_failing_leaves_the_report_stored_and_the_output_says_the_notice_failed(
    matrix: Matrix,
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.aws.faults.fail("sns", "Publish", code="InternalError")

    run = matrix.check()

    result = audit(matrix.aws, matrix.dx, run, sub)
    assert (result.status, result.stored, result.problems) == ("DRIFT", TOTAL, [])
    assert outcome_of(run, sub)["notified"] == {"status": "FAILED", "error": "SNS.InternalErrorException"}
    assert failed_steps(run) == ["SNS.InternalErrorException"] * 4  # the publish and its three retries
    assert run.notices == []


# -- Step Functions: a step retried after its Lambda timed out ---------------------------------------------


@pytest.mark.parametrize("error_type", ["Sandbox.Timedout", "Lambda.Unknown"])
def test_a_trigger_retried_after_its_lambda_timed_out_joins_its_own_find_instead_of_starting_another(
    matrix: Matrix, error_type: str
) -> None:
    # The find outlasts the retry's delay even on a loaded machine: once it ended, a new trigger is right.
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT, find_duration_seconds=8)
    timeout = matrix.aws._deployed.lambdas.time_out_after_run(
        "TriggerMismatchFunction", error_type=error_type
    )

    run = matrix.check()

    assert timeout.applied == 1
    whole_report(matrix, run, sub)
    assert failed_steps(run) == [error_type]
    assert matrix.dx.find_trigger_count(sub) == 1
    assert finds_started(matrix.dx, sub) == 1


def test_a_fetch_retried_after_its_lambda_timed_out_stores_the_same_report_and_notifies_once(
    matrix: Matrix,
) -> None:
    sub = matrix.dx.add_subscriber("sub.example.com", drift=DRIFT)
    matrix.aws._deployed.lambdas.time_out_after_run("FetchReportFunction")

    run = matrix.check()

    whole_report(matrix, run, sub)
    assert failed_steps(run) == ["Sandbox.Timedout"]
