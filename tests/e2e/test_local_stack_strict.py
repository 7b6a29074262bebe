"""The local stack reads template.yaml the way AWS does (issue 22, items 9-13): CloudFormation's
parameter checks, the template's own host binding, roles enforced on resources as well as actions
(functions and state machines), the function URLs, and a first deploy whose secret is still empty."""

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from damdrift.dx.sessions import forget_all
from damdrift_cli.local import viewer as local_viewer
from damdrift_cli.local.runner import LocalAws, stack_parameters
from damdrift_cli.local.template import PROJECT_ROOT, TemplateError
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import FAST_CLIENT, check_input, stack_of
from tests.e2e.test_drift_check import DRIFT, outcome_of
from tests.e2e.test_function_roles import template_without, without_statement
from tests.e2e.test_remediation import drifted_subscriber, remediation_input
from tests.e2e.test_remediation import local_stack as remediation_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


def local(publisher: Simulator, **options: Any) -> LocalAws:
    options.setdefault("parameters", stack_of(publisher))
    return LocalAws(
        {"username": publisher.username, "password": publisher.password},
        retry_time_scale=0.01,
        function_env=FAST_CLIENT,
        **options,
    )


def client_of(aws: LocalAws, function: str, service: str) -> Any:
    """A client with the credentials the function runs with (its role's)."""
    env = (
        aws.deployment.lambdas.functions[f"dam-drift-local-{function}"].environment if aws.deployment else {}
    )
    make_client: Any = boto3.client
    return make_client(
        service,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )


# -- 9. parameters ---------------------------------------------------------------------------------


def test_a_local_stack_without_dxhostname_is_refused_as_cloudformation_refuses_it(
    publisher: Simulator,
) -> None:
    missing = r"^Parameters: \[DxHostname\] must have values$"
    with pytest.raises(TemplateError, match=missing), local(publisher, parameters={}):
        pass


def test_an_invalid_parameter_is_refused_before_anything_is_created(publisher: Simulator) -> None:
    with (
        pytest.raises(TemplateError, match="Parameter 'MaxConcurrency' must be a number not greater than 40"),
        local(publisher, parameters={**stack_of(publisher), "MaxConcurrency": "41"}),
    ):
        pass


# -- 11. the template's own host binding -------------------------------------------------------------


def test_the_functions_bind_the_credentials_to_the_hosts_the_user_typed(
    publisher: Simulator, fresh: None
) -> None:
    with local(publisher) as aws:
        env = aws.deployment.lambdas.functions["dam-drift-local-AuthenticateFunction"].environment
        doctor = aws.deployment.lambdas.functions["dam-drift-local-DoctorFunction"].environment
        run = aws.run_check(
            {
                **check_input(publisher),
                "publisher": {**check_input(publisher)["publisher"], "hostname": "localhost"},
            }
        )

    endpoint = f"127.0.0.1:{publisher.port}"  # the Ring and the DAM API, both on the port typed
    assert (env["ALLOWED_DX_HOSTS"], env["ALLOW_INSECURE_DX"]) == (f"{endpoint},{endpoint},", "true")
    assert '"hostname": "127.0.0.1"' in doctor["DX_PUBLISHER"]
    assert (run.status, run.error) == ("FAILED", "InvalidInput")  # another host than the stack's
    assert publisher.exchanges == []


def test_https_typed_leaves_insecure_connections_off() -> None:
    typed = {"hostname": "dx.example.com", "dxProtocol": "https", "dxPort": 443}
    dam = {"hostname": "dam.example.com", "dxProtocol": "https"}

    assert stack_parameters(typed, {"sub-1": dam}) == {
        "DxHostname": "dx.example.com",
        "DxProtocol": "https",
        "DxPort": "443",
        "AllowInsecureDx": "false",
        "AllowedDxHosts": "dam.example.com",
    }


# -- 10. roles on resources ------------------------------------------------------------------------------


def test_a_function_role_reads_its_own_secret_and_no_other(publisher: Simulator, fresh: None) -> None:
    with local(publisher) as aws:
        authenticate = client_of(aws, "AuthenticateFunction", "secretsmanager")
        own = authenticate.get_secret_value(SecretId=aws.deployment.secret_arn)
        with pytest.raises(ClientError) as denied:
            authenticate.get_secret_value(SecretId=aws.deployment.physical["ReportLinkKey"])

    assert own["SecretString"]
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_request_approval_publishes_to_the_drift_topic_only(publisher: Simulator, fresh: None) -> None:
    with local(publisher) as aws:
        sns = client_of(aws, "RequestApprovalFunction", "sns")
        sns.publish(TopicArn=aws.deployment.drift_topic_arn, Message="approval request")
        with pytest.raises(ClientError) as denied:
            sns.publish(TopicArn=aws.deployment.ops_topic_arn, Message="not for this role")

    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_state_machine_runs_under_its_own_role(publisher: Simulator, tmp_path: Path, fresh: None) -> None:
    """The drift check's role may invoke only authenticate: without that grant the first task is denied
    (moto's interpreter used to sign as a local operator allowed everything)."""
    publisher.add_subscriber("sub.example.com", drift=DRIFT)
    template = template_without(tmp_path, without_statement("StateMachineRole", "Authenticate"))

    with local(publisher, template_path=template) as aws:
        run = aws.run_check(check_input(publisher))

    assert run.status == "FAILED"
    assert aws.deployment.lambdas.invocations == []  # authenticate never ran
    assert publisher.exchanges == []


def test_the_subscriber_checks_role_publishes_its_notices_only_with_its_grant(
    publisher: Simulator, tmp_path: Path, fresh: None
) -> None:
    publisher.add_subscriber("sub.example.com", drift=DRIFT)
    template = template_without(tmp_path, without_statement("SubscriberCheckRole", "PublishNotices"))

    with local(publisher, template_path=template) as aws:
        run = aws.run_check(check_input(publisher))

    [outcome] = run.outcomes
    assert outcome["status"] == "DRIFT"
    assert not [n for n in run.notices if n.topic == "DriftTopic"]  # denied, as on AWS
    # (AWS names SNS's refusal SNS.AuthorizationErrorException; moto answers AccessDenied)
    assert outcome["notified"] == {"status": "FAILED", "error": "SNS.AccessDeniedException"}


# -- 12. function URLs and the first deploy ------------------------------------------------------------


def test_the_function_urls_exist_and_the_approval_url_reaches_the_definition(
    publisher: Simulator, fresh: None
) -> None:
    with local(publisher) as aws:
        lambda_client = aws.client("lambda")
        approve = lambda_client.get_function_url_config(FunctionName="dam-drift-local-ApproveFunction")
        viewer = lambda_client.get_function_url_config(FunctionName="dam-drift-local-ReportViewerFunction")
        machine = aws.deployment.state_machines["SubscriberCheckStateMachine"]
        definition = aws.client("stepfunctions").describe_state_machine(stateMachineArn=machine)["definition"]
        config = lambda_client.get_function_configuration(FunctionName="dam-drift-local-FetchReportFunction")

    assert approve["AuthType"] == viewer["AuthType"] == "NONE"
    assert approve["FunctionUrl"].startswith("https://") and approve["FunctionUrl"] in definition
    assert (config["Timeout"], config["Architectures"], config["EphemeralStorage"]) == (
        900,
        ["arm64"],
        {"Size": 2048},
    )


def function_url_request(aws: LocalAws, method: str, query: str = "", form: str = "") -> dict[str, Any]:
    """What the approve function's URL hands it for a browser's GET (the link) or POST (the answer)."""
    event: dict[str, Any] = json.loads((PROJECT_ROOT / "events" / "approve-get.json").read_text())
    event["rawQueryString"] = query
    event["queryStringParameters"] = {k: v[0] for k, v in parse_qs(query).items()} or None
    event["requestContext"]["http"]["method"] = method
    if form:
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
        event["body"] = form
    answer = aws.client("lambda").invoke(
        FunctionName="dam-drift-local-ApproveFunction", Payload=json.dumps(event)
    )
    return dict(json.loads(answer["Payload"].read()))


def test_the_approval_link_of_the_notice_opens_and_answers_through_the_function_url(
    publisher: Simulator, fresh: None
) -> None:
    """The link branch end to end: the deployed definition carries the approve function's URL, the
    drift notice links to it, the page opens (GET) and the answer (POST) resumes the execution."""
    sub = drifted_subscriber(publisher)
    answered: list[tuple[int, int]] = []

    with remediation_stack(publisher, sub) as aws:
        url = aws.client("lambda").get_function_url_config(FunctionName="dam-drift-local-ApproveFunction")[
            "FunctionUrl"
        ]

        def through_the_link(pending: Any) -> None:
            # request-approval files the request, then publishes: the notice may be a moment behind
            deadline, asking = time.monotonic() + 30, []
            while not asking and time.monotonic() < deadline:
                asking = [
                    n for n in aws.drain_notices() if n.attributes.get("remediation") == "AWAITING_APPROVAL"
                ]
                time.sleep(0.1)
            [notice] = asking
            # the review link, under "Review and approve or deny (one use):"
            approve_link = rf"^\s+({re.escape(url.rstrip('/'))}/\?id=\S+)$"
            found = re.findall(approve_link, notice.message, re.MULTILINE)
            assert len(found) == 1, (url, notice.message)
            (link,) = found
            query = urlsplit(link).query
            page = function_url_request(aws, "GET", query)
            form = urlencode({"id": parse_qs(query)["id"][0], "decision": "approve"})
            answer = function_url_request(aws, "POST", form=form)
            answered.append((page["statusCode"], answer["statusCode"]))
            # not answered here: only through the link

        run = aws.run_check(remediation_input(publisher, sub, "ask"), on_approval=through_the_link)

    assert answered == [(200, 200)]
    assert run.status == "SUCCEEDED", run.cause
    assert outcome_of(run, sub)["status"] == "IN_SYNC"  # resumed, resynced and verified


def test_a_first_deploy_with_the_secret_still_empty_says_how_to_fill_it(
    publisher: Simulator, fresh: None
) -> None:
    publisher.add_subscriber("sub.example.com")

    with LocalAws(None, parameters=stack_of(publisher), retry_time_scale=0.01) as aws:
        run = aws.run_check(check_input(publisher))
        secret = aws.deployment.secret_arn

    assert (run.status, run.error) == ("FAILED", "CredentialsError")
    assert run.cause == (
        f"secret {secret!r} holds no value yet: put the DX administrator's "
        '{"username": "...", "password": "..."} into it as docs/deploy.md step 3 shows '
        f"(aws secretsmanager put-secret-value --secret-id {secret} --secret-string file://dx-credentials.json)"
    )
    [notice] = run.notices
    assert notice.topic == "OpsTopic"
    assert publisher.exchanges == []


def test_a_local_check_posts_chat_through_the_stacks_chat_topic_with_fetch_reports_grant(
    publisher: Simulator, fresh: None
) -> None:
    """The chat lines ``damdrift check`` prints come from the template's ChatTopic, which fetch-report
    may publish to (ChatNotifications=true); a topic of the CLI's own was refused by the role."""
    publisher.add_subscriber("sub.example.com", drift=DRIFT)

    with local(publisher, parameters={**stack_of(publisher), **local_viewer.CHAT_PARAMETERS}) as aws:
        queue = local_viewer.install_chat(aws)
        run = aws.run_check(check_input(publisher))
        chat = local_viewer.chat_messages(aws, queue)

    assert [item["status"] for item in run.outcomes] == ["DRIFT"]
    assert len(chat) == 1 and "sub.example.com" in chat[0]
    assert {n.topic for n in run.notices} == {"DriftTopic"}  # chat messages are not notices


# -- 13. what CloudFormation refuses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            lambda t: t["Resources"]["DriftTopic"].update(Condition="NoSuchCondition"),
            "resource DriftTopic names condition 'NoSuchCondition', which Conditions does not define",
        ),
        (
            lambda t: t["Resources"]["DriftTopic"]["Properties"].update(
                DisplayName={"Fn::Sub": "${SubscriberIds}"}
            ),
            "variable SubscriberIds in Fn::Sub resolves to",
        ),
        (
            lambda t: t["Parameters"]["ScheduleExpression"].update(Default="cron(0 5 * *)"),
            "'cron(0 5 * *)' is not a Scheduler cron(), rate() or at() expression",
        ),
        (
            lambda t: t["Parameters"]["PermissionsBoundaryArn"].update(
                Default="arn:aws:iam::123456789012:policy/boundary"
            ),
            "permissions boundary arn:aws:iam::123456789012:policy/boundary does not exist",
        ),
    ],
    ids=["undefined-condition", "list-in-sub", "bad-schedule", "permissions-boundary"],
)
def test_what_cloudformation_refuses_is_refused_locally(
    publisher: Simulator, tmp_path: Path, change: Callable[[dict[str, Any]], None], said: str
) -> None:
    template = template_without(tmp_path, change)

    with pytest.raises(TemplateError) as refused, local(publisher, template_path=template):
        pass

    assert said in str(refused.value)
