"""The deployed doctor adds the account's Lambda concurrency line (damdrift.doctor.account) to doctor.json,
with its own role's grant: moto has no GetAccountSettings, so locally the line is NOT CHECKED - but not
for want of permission (the local stack enforces the role's actions)."""

import json

from damdrift.doctor.account import CHECK_ID
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator


def test_the_doctor_function_reports_whether_the_account_can_take_reserved_concurrency(
    aws: LocalAws, publisher: Simulator
) -> None:
    publisher_connection = {"hostname": publisher.hostname, "dxProtocol": "http", "dxPort": publisher.port}
    response = aws.client("lambda").invoke(
        FunctionName="dam-drift-local-DoctorFunction", Payload=json.dumps({"publisher": publisher_connection})
    )
    result = json.loads(response["Payload"].read())

    assert "FunctionError" not in response, result
    line = {c["id"]: c for c in result["checks"]}[CHECK_ID]
    assert line["status"] == "NOT CHECKED"  # moto: "Not yet implemented"; AWS answers the quota
    assert "lambda:GetAccountSettings failed" in line["evidence"]
    assert "AccessDenied" not in line["evidence"]  # DoctorRole grants it
    bucket = aws.deployment.bucket if aws.deployment else ""
    stored = json.loads(aws.client("s3").get_object(Bucket=bucket, Key=result["doctorKey"])["Body"].read())
    assert line in stored["checks"]
