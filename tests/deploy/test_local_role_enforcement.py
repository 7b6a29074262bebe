"""What the local run's role enforcement (moto, damdrift_cli.local.roles) cannot check, pinned: each
item is covered by a test on the policy documents instead, named beside it. A new statement moto
cannot evaluate fails here until someone says which test covers it."""

from damdrift_cli.local import roles
from tests.deploy import test_policy_catalogue, test_report_viewer_template, test_template
from tests.deploy.stack_view import StackView, policy_documents, stack

#: (statement Sid, why moto cannot check it) -> the test that covers it instead. Secrets Manager, SNS,
#: Step Functions and Lambda statements are enforced with their ARNs (damdrift_cli.local.resource_checks),
#: the state machines' too: only CloudWatch Logs and EventBridge ARNs are checked against "*".
COVERED = {
    # The functions' own log groups (logs:CreateLogStream/PutLogEvents; moto checks them against "*").
    (
        "-",
        "resource ARN of a service moto checks against *",
    ): "test_each_function_holds_exactly_its_permissions",
    ("EncryptForTheTopics", "condition kms:ViaService"): (
        "test_key_grants_are_conditioned_on_the_service_that_uses_them"
    ),
    ("FollowChildExecutionsThroughTheManagedRule", "resource ARN of a service moto checks against *"): (
        "test_the_drift_check_holds_exactly_its_permissions"
    ),
    ("DecryptLinkKeyViaSecretsManager", "condition kms:EncryptionContext:SecretARN,kms:ViaService"): (
        "test_the_viewer_reads_only_reports_and_the_link_key"
    ),
    # KMS grants conditioned on the calling service and the secret (moto knows only sts:ExternalId).
    ("DecryptDxCredentialsViaSecretsManager", "condition kms:EncryptionContext:SecretARN,kms:ViaService"): (
        "test_key_grants_are_conditioned_on_the_service_that_uses_them"
    ),
    (
        "EncryptForTheTopic",
        "condition kms:ViaService",
    ): "test_key_grants_are_conditioned_on_the_service_that_uses_them",
    ("EncryptNoticesForTheTopics", "condition kms:ViaService"): (
        "test_key_grants_are_conditioned_on_the_service_that_uses_them"
    ),
    # DeleteObjects: moto checks s3:DeleteObject on the bucket, AWS per key.
    ("DiscardCheckpointParts", "DeleteObjects is checked against the bucket"): (
        "test_fetch_report_may_delete_checkpoint_parts_but_no_report"
    ),
    ("ReadAndRetireApprovalRequests", "DeleteObjects is checked against the bucket"): (
        "test_each_function_holds_exactly_its_permissions"
    ),
}
#: Not evaluated by moto at all: covered by the template tests and the catalogue check.
RESOURCE_POLICIES_AND_THE_STATE_MACHINE = {
    "bucket, topic, key and function URL policies": (
        "test_only_the_approval_roles_read_file_or_list_approval_requests"
    ),
    "every policy against AWS's catalogue": "test_every_policy_of_the_template_passes_aws_catalogue",
}


def unenforced(view: StackView) -> set[tuple[str, str]]:
    roles_of_stack = [k for k, r in view.resources.items() if r["Type"] == "AWS::IAM::Role"]
    return {
        (item.sid, item.why)
        for role in roles_of_stack
        for item in roles.unenforced(role, policy_documents(view, role))
    }


def test_every_statement_moto_cannot_check_is_covered_by_a_named_document_test() -> None:
    assert unenforced(stack()) == set(COVERED)
    tests = vars(test_template) | vars(test_policy_catalogue) | vars(test_report_viewer_template)
    for covering in [*COVERED.values(), *RESOURCE_POLICIES_AND_THE_STATE_MACHINE.values()]:
        assert callable(tests.get(covering)), covering


def test_moto_is_given_what_it_can_check_and_nothing_wider() -> None:
    bucket = "arn:aws:s3:::b"
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/reports/*"},
            {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"{bucket}/reports/*/_parts/*"},
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:1:t"},
            {
                "Effect": "Allow",
                "Action": "logs:PutLogEvents",
                "Resource": "arn:aws:logs:us-east-1:1:log-group:g",
            },
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "arn:aws:kms:us-east-1:1:key/k",
                "Condition": {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}},
            },
        ]
    }

    moto = roles.for_moto(document, [bucket])

    assert moto["Statement"] == [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/reports/*"},  # ARNs kept
        {
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
            "Resource": [f"{bucket}/reports/*/_parts/*", bucket],
        },
        # checked with its ARN (resource_checks)
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:1:t"},
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},  # the action is still enforced
    ]  # the conditioned grant is left out: denied locally, never widened
