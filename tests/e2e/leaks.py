"""Where a secret could leak, gathered for a search: what a reader of a run's artefacts can see.

Used by the leak tests and after every cell of the fault matrix: the password and every LTPA cookie
value DX issued must appear nowhere in execution history, function logs, CloudWatch Logs, S3 objects,
notifications or the execution output.
"""

import gzip
import json
from collections.abc import Iterable

from damdrift_cli.local.runner import CheckRun, LocalAws
from damdrift_cli.simulator import Simulator


def issued_cookies(publisher: Simulator) -> set[str]:
    """Every LtpaToken2 value the simulator handed out (needs ``record_exchanges``)."""
    cookies = set()
    for exchange in publisher.exchanges:
        header = exchange.response_headers.get("Set-Cookie", "")
        if header.startswith("LtpaToken2="):
            value = header.split(";", 1)[0].split("=", 1)[1]
            if value:  # logout answers an empty cookie
                cookies.add(value)
    return cookies


def everything_a_reader_can_see(aws: LocalAws, history: list[dict[str, object]], output: object) -> str:
    parts = [json.dumps(history, default=str), json.dumps(output), aws.function_logs()]
    logs = aws.client("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        for event in logs.filter_log_events(logGroupName=group["logGroupName"])["events"]:
            parts.append(event["message"])
    s3 = aws.client("s3")
    bucket = aws._deployed.bucket
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        parts.append(body.decode("latin-1"))
        if item["Key"].endswith(".gz"):
            parts.append(gzip.decompress(body).decode("utf-8", "replace"))
    return "\n".join(parts)


def everything_runs_show(aws: LocalAws, runs: Iterable[CheckRun]) -> str:
    """All of the above for several runs, plus each run's notices and error/cause."""
    parts = []
    for run in runs:
        parts.append(everything_a_reader_can_see(aws, run.history, run.output))
        parts.append(f"{run.error} {run.cause}")
        parts.extend(n.subject + n.message + json.dumps(n.attributes) for n in run.notices)
    return "\n".join(parts)


def leaked(secrets: Iterable[str], seen: str) -> list[str]:
    """The secrets that appear in ``seen``, masked (a failing test must not print them whole)."""
    return [f"{s[:2]}…({len(s)} chars)" for s in secrets if s and s in seen]
