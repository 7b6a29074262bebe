"""Every S3 client of the functions and the CLI comes from damdrift.s3_client: SigV4 links at the
region's own endpoint. botocore presigns SigV2 in eight regions unless told s3v4 (issue 22, item 3)."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from damdrift.s3_client import s3_client
from tests.aws import fake_credentials

ROOT = Path(__file__).resolve().parents[2]
#: The regions where botocore's default presigning is SigV2 (its endpoint data lists "s3" there).
SIGV2_DEFAULT_REGIONS = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-northeast-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
]


@pytest.mark.parametrize("region", SIGV2_DEFAULT_REGIONS)
def test_a_presigned_link_is_sigv4_at_the_regions_own_endpoint(
    monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    fake_credentials(monkeypatch)
    url = s3_client(region).generate_presigned_url(
        "get_object", Params={"Bucket": "dam-drift-reports", "Key": "reports/x/report.html"}, ExpiresIn=60
    )
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "AWSAccessKeyId" not in query
    assert f"/{region}/s3/aws4_request" in query["X-Amz-Credential"][0]
    assert parts.netloc == f"dam-drift-reports.s3.{region}.amazonaws.com"


def _own_s3_clients(path: Path) -> list[int]:
    """Lines of ``path`` that call ``<anything>.client("s3", ...)`` themselves."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "s3"
    ]


def test_no_function_layer_or_cli_module_builds_its_own_s3_client() -> None:
    # src/damdrift_cli/local/ is the local AWS (moto) and its role sessions, not a client of the stack.
    roots = [ROOT / "functions", ROOT / "layers" / "shared" / "damdrift", ROOT / "src" / "damdrift_cli"]
    sources = [p for root in roots for p in root.rglob("*.py") if "local" not in p.relative_to(ROOT).parts]
    factory = ROOT / "layers" / "shared" / "damdrift" / "s3_client.py"
    own = {str(p.relative_to(ROOT)): lines for p in sources if p != factory and (lines := _own_s3_clients(p))}
    assert own == {}, f"build S3 clients with damdrift.s3_client.s3_client(): {own}"
