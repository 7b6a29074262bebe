"""The one place an S3 client is built, for every function and the CLI: SigV4, regional, virtual-hosted.

Without ``signature_version="s3v4"`` botocore presigns with SigV2 (``AWSAccessKeyId=…&Signature=…``) in
the regions where S3 still accepts it (us-east-1, us-west-1, us-west-2, eu-west-1, ap-northeast-1,
ap-southeast-1, ap-southeast-2, sa-east-1), and buckets created since June 2020 refuse those links.
``us_east_1_regional_endpoint`` keeps us-east-1 on ``s3.us-east-1.amazonaws.com`` rather than the global
endpoint, so a link names the bucket's own region like everywhere else.

The client is built on each call through ``boto3.client`` (its default session), so the local stack's
per-function sessions still apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: What every S3 client of dam-drift is built with.
S3_CONFIG = Config(
    signature_version="s3v4",
    s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
)


def s3_client(region_name: str | None = None, session: boto3.Session | None = None) -> S3Client:
    """An S3 client that signs (and presigns) SigV4 at the region's own endpoint; None = the usual chain.

    ``session``: the CLI's, built from the AWS CLI's profile and region settings (``--profile``)."""
    client: S3Client = (session or boto3).client("s3", region_name=region_name, config=S3_CONFIG)
    return client
