"""The report viewer: signed links open exactly the report (or overview) they were made for, until their
expiry, and nothing else; replacing the key revokes every link.

The library (damdrift.viewer) is tested with a folder of reports and with moto's S3; the Lambda handler
is loaded from functions/report_viewer/app.py as Lambda loads it, inside moto, with the key in moto's
Secrets Manager.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from damdrift.report_page import CONTENT_SECURITY_POLICY
from damdrift.viewer import links
from damdrift.viewer.keys import link_key
from damdrift.viewer.serve import (
    INLINE_MAX_BYTES,
    RESPONSE_MAX_BYTES,
    RESPONSE_OVERHEAD_BYTES,
    FolderReports,
    S3Reports,
    ViewerResponse,
    encoded_size,
    respond,
)
from damdrift_cli.exit_status import TOOL_FAILED
from damdrift_cli.local.lambda_adapter import FakeContext
from tests.aws import REGION, REPORT_BUCKET, s3_with_report_bucket

ROOT = Path(__file__).resolve().parents[2]
KEY = b"k" * 48
OTHER_KEY = b"z" * 48
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=7)
VIEWER = "https://abcdefghij.lambda-url.us-east-1.on.aws/"
RUN = "reports/dx.example.com/8c72ef60/2026/11/27/scheduled-1/"
OTHER_RUN = "reports/dx.example.com/401e81b0/2026/11/27/scheduled-1/"
OTHER_PUBLISHER_RUN = "reports/dx2.example.com/8c72ef60/2026/11/27/scheduled-1/"
PAGE = b"<!DOCTYPE html><title>report</title>"


def path_of(url: str) -> str:
    return urlsplit(url).path


def get(url_or_path: str, reports: Any, *, key: bytes = KEY, now: datetime = NOW) -> ViewerResponse:
    path = path_of(url_or_path) if "://" in url_or_path else url_or_path
    return respond("GET", path, key, now, reports)


@pytest.fixture
def folder(tmp_path: Path) -> FolderReports:
    for run in (RUN, OTHER_RUN, OTHER_PUBLISHER_RUN):
        (tmp_path / run).mkdir(parents=True)
        (tmp_path / run / "report.html").write_bytes(PAGE)
        (tmp_path / run / "report.csv").write_text("subscriberId,recordType\n")
        (tmp_path / run / "record-keys.bin").write_bytes(b"\0" * 20)
    (tmp_path / "reports/dx.example.com/overview.html").write_bytes(b"<!DOCTYPE html><title>overview</title>")
    return FolderReports(tmp_path)


def test_a_valid_report_link_serves_the_page_with_the_reports_csp_and_no_store(folder: FolderReports) -> None:
    answer = get(links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES), folder)
    assert answer.status == 200 and answer.body == PAGE
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Content-Type"].startswith("text/html")


def test_the_files_the_report_links_to_open_through_the_same_signed_prefix(folder: FolderReports) -> None:
    url = links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES)
    csv = url.rsplit("/", 1)[0] + "/report.csv"  # what the browser makes of href="report.csv"
    answer = get(csv, folder)
    assert answer.status == 200 and answer.file is not None and answer.file.name == "report.csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="report.csv"'
    assert answer.headers["Cache-Control"] == "no-store"


def test_an_expired_link_gets_403_and_says_so(folder: FolderReports) -> None:
    url = links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES)
    assert get(url, folder, now=EXPIRES - timedelta(seconds=1)).status == 200
    answer = get(url, folder, now=EXPIRES)
    assert answer.status == 403 and b"expired" in answer.body and PAGE not in answer.body


@pytest.mark.parametrize(
    "alter",
    [
        lambda p: p.replace(f"/{int(EXPIRES.timestamp())}/", f"/{int(EXPIRES.timestamp()) + 86400}/"),
        lambda p: p[:14] + ("A" if p[14] != "A" else "B") + p[15:],  # one character of the signature
        lambda p: p.replace("/r/", "/o/", 1),
        lambda p: p.replace("8c72ef60", "8c72ef61"),
    ],
    ids=["later-expiry", "signature", "kind", "subscriber"],
)
def test_an_altered_link_gets_403(folder: FolderReports, alter: Any) -> None:
    path = path_of(links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES))
    assert path[14] != "/"  # the index really points into the signature
    answer = get(alter(path), folder)
    assert answer.status == 403 and PAGE not in answer.body


@pytest.mark.parametrize("expiry", ["999999999999", "253402300800", "99999999999"])
def test_an_expiry_beyond_any_date_gets_403_before_the_signature_is_checked(
    folder: FolderReports, expiry: str
) -> None:
    answer = get(f"/r/{expiry}/{'A' * 43}/{RUN}report.html", folder)
    assert answer.status == 403 and b"expiry" in answer.body and PAGE not in answer.body


def test_a_link_signed_further_ahead_than_the_longest_link_lifetime_gets_403(folder: FolderReports) -> None:
    longest = NOW + timedelta(seconds=links.MAX_LINK_SECONDS)
    assert get(links.report_link(VIEWER, KEY, RUN + "report.html", longest), folder).status == 200
    too_far = get(links.report_link(VIEWER, KEY, RUN + "report.html", longest + timedelta(days=2)), folder)
    assert too_far.status == 403 and b"expiry" in too_far.body
    from damdrift.settings.notices import NoticeSettings

    with pytest.raises(ValueError, match="less than or equal"):  # what the stack may sign, at most
        NoticeSettings.model_validate({"REPORT_LINK_EXPIRY_SECONDS": links.MAX_LINK_SECONDS + 1})


def test_report_serve_answers_an_absurd_expiry_with_403_and_prints_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import http.client
    import io
    import threading
    from http.server import HTTPServer

    from damdrift_cli.local import viewer as local_viewer

    (tmp_path / RUN).mkdir(parents=True)
    (tmp_path / RUN / "report.html").write_bytes(PAGE)
    server = HTTPServer(("127.0.0.1", 0), local_viewer.handler_for(tmp_path))
    server.log = io.StringIO()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        connection.request("GET", f"/r/999999999999/{'A' * 43}/{RUN}report.html")
        status = connection.getresponse().status
        connection.close()
        thread.join(10)
    finally:
        server.server_close()
    assert status == 403
    assert "Traceback" not in capsys.readouterr().err


def test_a_link_to_one_report_does_not_open_another(folder: FolderReports) -> None:
    url = links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES)
    assert get(url.replace(RUN, OTHER_RUN), folder).status == 403
    assert get(url.replace(RUN + "report.html", "reports/dx.example.com/overview.html"), folder).status == 403


def test_a_report_link_never_serves_files_the_report_does_not_link_to(folder: FolderReports) -> None:
    url = links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES)
    for name in ("record-keys.bin", "_checkpoint.json", "latest.json"):
        assert get(url.rsplit("/", 1)[0] + "/" + name, folder).status == 403, name
    traversal = url.rsplit("/", 1)[0] + "/../../../../../../../etc/passwd"
    assert get(traversal, folder).status == 403


def test_an_overview_link_opens_the_overview_and_its_subscribers_reports_only(folder: FolderReports) -> None:
    url = links.overview_link(VIEWER, KEY, "dx.example.com", EXPIRES)
    assert get(url, folder).status == 200
    base = url.rsplit("/", 1)[0] + "/"  # .../reports/dx.example.com/
    assert get(base + "8c72ef60/2026/11/27/scheduled-1/report.html", folder).body == PAGE
    assert get(base + "401e81b0/2026/11/27/scheduled-1/report.csv", folder).status == 200
    other = base.replace("dx.example.com", "dx2.example.com") + "8c72ef60/2026/11/27/scheduled-1/report.html"
    assert get(other, folder).status == 403


def test_replacing_the_key_revokes_every_link(folder: FolderReports) -> None:
    report = links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES)
    overview = links.overview_link(VIEWER, KEY, "dx.example.com", EXPIRES)
    assert get(report, folder).status == 200
    assert get(report, folder, key=OTHER_KEY).status == 403
    assert get(overview, folder, key=OTHER_KEY).status == 403


def test_only_get_and_head_are_answered_and_head_has_no_body(folder: FolderReports) -> None:
    path = path_of(links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES))
    assert respond("POST", path, KEY, NOW, folder).status == 405
    head = respond("HEAD", path, KEY, NOW, folder)
    assert head.status == 200 and head.body == b""


def test_a_valid_link_to_a_file_no_longer_stored_gets_404(folder: FolderReports, tmp_path: Path) -> None:
    (tmp_path / RUN / "report.html").unlink()
    assert get(links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES), folder).status == 404


def test_a_short_key_is_refused_when_signing() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        links.report_link(VIEWER, b"short", RUN + "report.html", EXPIRES)


def test_from_s3_pages_are_inline_and_data_files_a_one_minute_redirect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for s3 in s3_with_report_bucket(monkeypatch):
        s3.put_object(Bucket=REPORT_BUCKET, Key=RUN + "report.html", Body=PAGE)
        s3.put_object(Bucket=REPORT_BUCKET, Key=RUN + "records.jsonl.gz", Body=b"\x1f\x8b")
        reports = S3Reports(s3, REPORT_BUCKET)
        url = links.report_link(VIEWER, KEY, RUN + "report.html", EXPIRES)
        assert get(url, reports).body == PAGE
        download = get(url.rsplit("/", 1)[0] + "/records.jsonl.gz", reports)
        assert download.status == 302
        query = parse_qs(urlsplit(download.headers["Location"]).query)
        lifetime = (
            int(query["X-Amz-Expires"][0])
            if "X-Amz-Expires" in query
            else int(query["Expires"][0]) - time.time()
        )
        assert 0 < lifetime <= 61
        assert download.headers["Cache-Control"] == "no-store"
        assert get(url.rsplit("/", 1)[0] + "/report.csv", reports).status == 404  # not stored


# -------------------------------------------------------------------------------- the Lambda handler


def load_handler() -> ModuleType:
    path = ROOT / "functions" / "report_viewer" / "app.py"
    spec = importlib.util.spec_from_file_location(f"damdrift_test_viewer_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def url_event(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abcdefghij.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Mozilla/5.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:06:00:00 +0000",
            "timeEpoch": 1795759200000,
        },
        "isBase64Encoded": False,
    }


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Any, str]]:
    environment = {
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "dam-drift",
        "REPORT_BUCKET": REPORT_BUCKET,
    }
    for s3 in s3_with_report_bucket(monkeypatch, **environment):
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(Name="dam-drift/report-link-key", SecretString="a" * 64)["ARN"]
        monkeypatch.setenv("REPORT_VIEWER_KEY_SECRET", arn)
        s3.put_object(Bucket=REPORT_BUCKET, Key=RUN + "report.html", Body=PAGE)
        parameters.clear_caches()
        yield load_handler(), secrets, arn
        parameters.clear_caches()


def test_the_handler_serves_a_valid_link_and_a_rotated_key_revokes_it(
    deployed: tuple[ModuleType, Any, str],
) -> None:
    handler, secrets, arn = deployed
    expires = datetime.now(UTC) + timedelta(hours=1)
    url = links.report_link(VIEWER, link_key(arn), RUN + "report.html", expires)
    context = FakeContext("report-viewer", 256, f"arn:aws:lambda:{REGION}:123456789012:function:viewer")
    answer = handler.lambda_handler(url_event(path_of(url)), context)
    assert answer["statusCode"] == 200 and base64.b64decode(answer["body"]) == PAGE
    assert answer["headers"]["Content-Security-Policy"] == CONTENT_SECURITY_POLICY

    secrets.put_secret_value(SecretId=arn, SecretString="b" * 64)  # the rotation docs/deploy.md describes
    parameters.clear_caches()  # what KEY_CACHE_SECONDS of waiting does
    revoked = handler.lambda_handler(url_event(path_of(url)), context)
    assert revoked["statusCode"] == 403
    assert handler.lambda_handler(url_event(path_of(url), "POST"), context)["statusCode"] == 405


def viewer_answer(handler: ModuleType, arn: str, key: str) -> dict[str, Any]:
    """The function URL answer (what Lambda returns to the browser) to a valid link for ``key``."""
    url = links.report_link(VIEWER, link_key(arn), key, datetime.now(UTC) + timedelta(hours=1))
    context = FakeContext("report-viewer", 256, f"arn:aws:lambda:{REGION}:123456789012:function:viewer")
    answer: dict[str, Any] = handler.lambda_handler(url_event(path_of(url)), context)
    return answer


def test_the_handlers_download_redirect_is_signed_sigv4_in_us_east_1(
    deployed: tuple[ModuleType, Any, str],
) -> None:
    handler, _secrets, arn = deployed
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=REPORT_BUCKET, Key=RUN + "report.csv", Body=b"a\n"
    )
    answer = viewer_answer(handler, arn, RUN + "report.csv")
    assert answer["statusCode"] == 302
    location = urlsplit(answer["headers"]["Location"])
    assert parse_qs(location.query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]  # SigV2 has AWSAccessKeyId
    assert location.netloc == f"{REPORT_BUCKET}.s3.{REGION}.amazonaws.com"


def test_a_5_mib_page_is_redirected_because_its_base64_answer_would_exceed_6_mb(
    deployed: tuple[ModuleType, Any, str],
) -> None:
    handler, _secrets, arn = deployed
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=REPORT_BUCKET, Key=RUN + "report.html", Body=b"x" * (5 * 1024 * 1024))
    assert viewer_answer(handler, arn, RUN + "report.html")["statusCode"] == 302


def test_the_largest_inline_page_answers_within_the_function_urls_6_mb(
    deployed: tuple[ModuleType, Any, str],
) -> None:
    handler, _secrets, arn = deployed
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=REPORT_BUCKET, Key=RUN + "report.html", Body=b"x" * INLINE_MAX_BYTES)
    answer = viewer_answer(handler, arn, RUN + "report.html")
    assert answer["statusCode"] == 200
    assert len(json.dumps(answer).encode()) <= RESPONSE_MAX_BYTES == 6_000_000
    assert encoded_size(INLINE_MAX_BYTES + 1) + RESPONSE_OVERHEAD_BYTES > RESPONSE_MAX_BYTES


def test_the_key_is_cached_for_a_minute_and_a_short_key_is_a_configuration_error(
    deployed: tuple[ModuleType, Any, str],
) -> None:
    from damdrift.errors import ConfigurationError
    from damdrift.viewer.keys import KEY_CACHE_SECONDS

    _handler, secrets, arn = deployed
    assert KEY_CACHE_SECONDS == 60
    first = link_key(arn)
    secrets.put_secret_value(SecretId=arn, SecretString="c" * 64)
    assert link_key(arn) == first  # still cached
    parameters.clear_caches()
    assert link_key(arn) == b"c" * 64
    secrets.put_secret_value(SecretId=arn, SecretString="short")
    parameters.clear_caches()
    with pytest.raises(ConfigurationError, match="shorter than 32 bytes"):
        link_key(arn)


def test_the_notice_links_are_signed_for_the_stated_expiry_and_the_console_shows_the_folder(
    deployed: tuple[ModuleType, Any, str],
) -> None:
    from damdrift.report.rendering.notice_links import notice_links
    from damdrift.settings import FetchReportSettings

    _handler, _secrets, arn = deployed
    settings = FetchReportSettings.from_env(
        {
            "REPORT_BUCKET": REPORT_BUCKET,
            "REPORT_VIEWER_URL": VIEWER,
            "REPORT_VIEWER_KEY_SECRET": arn,
            "REPORT_LINK_EXPIRY_SECONDS": str(30 * 86400),
            "AWS_REGION": "eu-west-1",
        }
    )
    finished = NOW + timedelta(microseconds=500)
    link = notice_links(settings, "dx.example.com", RUN + "report.html", finished)
    assert link is not None and link.url is not None and link.overview_url is not None
    assert link.expires == NOW + timedelta(days=30)  # whole seconds: what the link itself carries
    grant = links.verify(path_of(link.url), link_key(arn), link.expires - timedelta(seconds=1))
    assert grant.key == RUN + "report.html" and grant.expires == link.expires
    with pytest.raises(links.LinkRefused, match="expired"):
        links.verify(path_of(link.url), link_key(arn), link.expires)
    assert links.verify(path_of(link.overview_url), link_key(arn), NOW).key.endswith("/overview.html")
    assert link.console_url == (
        "https://eu-west-1.console.aws.amazon.com/s3/buckets/dam-drift-reports?region=eu-west-1"
        "&prefix=reports%2Fdx.example.com%2F8c72ef60%2F2026%2F11%2F27%2Fscheduled-1%2F&showversions=false"
    )
    local = settings.model_copy(update={"report_console_links": False, "report_viewer_url": None})
    assert notice_links(local, "dx.example.com", RUN + "report.html", NOW) is None


# ------------------------------------------------------------------------------------ the local viewer


def test_the_local_key_is_random_created_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    from damdrift_cli.local import viewer as local_viewer

    key = local_viewer.local_key(tmp_path)
    assert len(key) >= 48 and local_viewer.local_key(tmp_path) == key
    assert (tmp_path / local_viewer.KEY_FILENAME).stat().st_mode & 0o777 == 0o600
    assert local_viewer.local_key(tmp_path / "other") != key


def test_the_local_viewer_listens_on_loopback_only_and_its_links_point_there() -> None:
    from damdrift_cli.local import viewer as local_viewer

    assert local_viewer.LOOPBACK == "127.0.0.1"
    env = local_viewer.function_env(8765)
    assert env["REPORT_VIEWER_URL"] == "http://127.0.0.1:8765/" and env["REPORT_CONSOLE_LINKS"] == "false"


def test_report_serve_refuses_a_folder_without_reports_and_an_unbounded_time(tmp_path: Path) -> None:
    import io

    from damdrift_cli.main import build_parser

    err = io.StringIO()
    args = build_parser().parse_args(["report", "serve", "--reports", str(tmp_path)])
    assert args.run(args, io.StringIO(), err) == TOOL_FAILED and "holds no reports" in err.getvalue()
    (tmp_path / "reports").mkdir()
    args = build_parser().parse_args(["report", "serve", "--reports", str(tmp_path), "--for", "0"])
    assert args.run(args, io.StringIO(), err) == TOOL_FAILED and "--for must be between" in err.getvalue()


def test_the_sample_event_is_a_link_with_a_made_up_signature_and_gets_403(
    deployed: tuple[ModuleType, Any, str],
) -> None:
    import json

    handler, _secrets, _arn = deployed
    event = json.loads((ROOT / "events" / "report-viewer.json").read_text(encoding="utf-8"))
    context = FakeContext("report-viewer", 256, f"arn:aws:lambda:{REGION}:123456789012:function:viewer")
    answer = handler.lambda_handler(event, context)
    assert answer["statusCode"] == 403
    assert b"signature does not match" in base64.b64decode(answer["body"])
