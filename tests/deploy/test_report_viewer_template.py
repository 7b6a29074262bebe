"""The report viewer's resources in template.yaml: a function URL that only a signed link gets through,
a role that reads reports and the link key and nothing else, reserved concurrency as its rate limit."""

from damdrift.settings import FetchReportSettings
from tests.deploy.stack_view import permissions, stack


def test_the_viewer_reads_only_reports_and_the_link_key() -> None:
    view = stack()
    group = "<ReportViewerLogGroup.Arn>"
    assert permissions(view, "ReportViewerRole") == {
        ("s3:GetObject", "<ReportBucket.Arn>/reports/*"),
        ("secretsmanager:GetSecretValue", "<ReportLinkKey>"),
        ("kms:Decrypt", "<DataKey.Arn>"),
        ("logs:CreateLogStream", group),
        ("logs:PutLogEvents", group),
        ("xray:PutTraceSegments", "*"),
        ("xray:PutTelemetryRecords", "*"),
    }
    decrypt = [
        s
        for p in view.props("ReportViewerRole")["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "kms:Decrypt"
    ]
    assert decrypt[0]["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == "<ReportLinkKey>"


def test_the_viewer_is_a_public_url_invoked_only_through_it_and_rate_limited_by_a_parameter() -> None:
    view = stack()
    assert view.props("ReportViewerFunctionUrl") == {
        "TargetFunctionArn": "<ReportViewerFunction>",
        "AuthType": "NONE",
    }
    permissions_ = [p["Properties"] for p in view.of_type("AWS::Lambda::Permission").values()]
    direct = [p for p in permissions_ if p["FunctionName"] == "<ReportViewerFunction>"]
    assert {p["Action"] for p in direct} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(p.get("FunctionUrlAuthType") == "NONE" or p.get("InvokedViaFunctionUrl") for p in direct)
    # No reservation by default (a new account can take none: tests/deploy/test_first_deploy.py).
    assert "ReservedConcurrentExecutions" not in view.function("ReportViewerFunction")
    assert (
        stack(ReportViewerConcurrency="2").function("ReportViewerFunction")["ReservedConcurrentExecutions"]
        == "2"
    )


def test_the_link_key_is_generated_encrypted_and_both_signer_and_viewer_know_it() -> None:
    view = stack()
    secret = view.props("ReportLinkKey")
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret["KmsKeyId"] == "<DataKey>"
    viewer_env = view.function("ReportViewerFunction")["Environment"]["Variables"]
    fetch_env = view.function("FetchReportFunction")["Environment"]["Variables"]
    assert (
        viewer_env["REPORT_VIEWER_KEY_SECRET"] == fetch_env["REPORT_VIEWER_KEY_SECRET"] == "<ReportLinkKey>"
    )
    assert fetch_env["REPORT_VIEWER_FUNCTION"] == "<ReportViewerFunction>"  # its URL: asked of Lambda
    settings = FetchReportSettings.from_env({k: str(v) for k, v in fetch_env.items()})
    assert settings.report_link_expiry_seconds == 7 * 24 * 3600
    assert stack(ReportLinkExpirySeconds="2592000").function("FetchReportFunction")["Environment"][
        "Variables"
    ]["REPORT_LINK_EXPIRY_SECONDS"] in ("2592000", 2592000)


CHAT = {
    "ChatNotifications": "true",
    "SlackWorkspaceId": "T0123ABCD",
    "SlackChannelId": "C0123456789",
    "TeamsTenantId": "00000000-0000-0000-0000-000000000000",
    "TeamsTeamId": "00000000-0000-0000-0000-000000000001",
    "TeamsChannelId": "19:abc@thread.tacv2",
}


def test_without_chat_parameters_there_is_no_chat_topic_and_fetch_publishes_nowhere() -> None:
    view = stack()
    assert not [k for k in view.resources if k.startswith(("Chat", "Slack", "Teams"))]
    assert view.function("FetchReportFunction")["Environment"]["Variables"]["CHAT_TOPIC_ARN"] == ""
    assert not any(a == "sns:Publish" for a, _r in permissions(view, "FetchReportRole"))


def test_the_chat_topic_alone_is_created_without_channel_ids() -> None:
    view = stack(ChatNotifications="true")
    assert "ChatTopic" in view.resources and "SlackChannel" not in view.resources
    assert "ChatbotChannelRole" not in view.resources
    assert ("sns:Publish", "<ChatTopic>") in permissions(view, "FetchReportRole")
    assert view.function("FetchReportFunction")["Environment"]["Variables"]["CHAT_TOPIC_ARN"] == "<ChatTopic>"


def test_slack_and_teams_channels_subscribe_to_the_chat_topic_behind_a_deny_everything_guardrail() -> None:
    view = stack(**CHAT)
    for channel in ("SlackChannel", "TeamsChannel"):
        props = view.props(channel)
        assert props["SnsTopicArns"] == ["<ChatTopic>"]
        assert props["GuardrailPolicies"] == ["<ChatbotGuardrailPolicy>"]
        assert props["IamRoleArn"] == "<ChatbotChannelRole.Arn>"
    assert view.props("SlackChannel")["SlackChannelId"] == "C0123456789"
    assert view.props("TeamsChannel")["TeamsChannelId"] == "19:abc@thread.tacv2"
    guardrail = view.props("ChatbotGuardrailPolicy")["PolicyDocument"]["Statement"]
    assert guardrail == [{"Sid": "NotificationsOnly", "Effect": "Deny", "Action": "*", "Resource": "*"}]
    role = view.props("ChatbotChannelRole")
    assert "Policies" not in role and "ManagedPolicyArns" not in role  # it needs nothing to post
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "chatbot.amazonaws.com"
    }
    assert (
        "TeamsChannel"
        not in stack(ChatNotifications="true", SlackWorkspaceId="T0123ABCD", SlackChannelId="C1").resources
    )
