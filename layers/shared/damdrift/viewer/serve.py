"""What the viewer answers to one request, wherever it runs: the Lambda function URL reads S3
(:class:`S3Reports`), ``damdrift report serve`` reads a ``--out`` folder (:class:`FolderReports`).

Only GET/HEAD of a path a valid link grants (:func:`damdrift.viewer.links.verify`) is answered with the
file; anything else is 403 (405 for other methods), with a page that says why and names nothing stored.
Pages carry the report's own Content-Security-Policy, ``Cache-Control: no-store`` (a link's expiry must
not be outlived by a cache) and ``Referrer-Policy: no-referrer`` (the link is the capability). Data
files are downloads (``Content-Disposition: attachment``); from S3 they are a redirect to a pre-signed URL
that lives for a minute, since a function URL answers at most 6 MB - counted after base64, the
handler's encoding, which makes 3 bytes 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from damdrift.report_page import CONTENT_SECURITY_POLICY, HTML_CONTENT_TYPE
from damdrift.viewer.links import Grant, LinkRefused, verify

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: A function URL (BUFFERED) answers at most 6 MB, and the handler's body is base64: 4 bytes for 3.
RESPONSE_MAX_BYTES = 6_000_000
#: Room left for the status, the headers and the JSON around the body.
RESPONSE_OVERHEAD_BYTES = 8 * 1024


def encoded_size(raw_bytes: int) -> int:
    """The size of ``raw_bytes`` once base64-encoded (padded), as the function URL response carries it."""
    return -(-raw_bytes // 3) * 4


#: The largest page answered inline (about 4.3 MiB); a larger one is redirected like a data file.
INLINE_MAX_BYTES = (RESPONSE_MAX_BYTES - RESPONSE_OVERHEAD_BYTES) // 4 * 3
DOWNLOAD_URL_SECONDS = 60

BASE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_FILE_CSP = "default-src 'none'; sandbox"
_REFUSED_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CONTENT_TYPES = {
    ".gz": "application/gzip",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}


@dataclass
class ViewerResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: For a local server: stream this file as the body (S3 answers redirect instead).
    file: Path | None = None


class Reports(Protocol):
    """Where the viewer reads what a link grants."""

    def page(self, key: str) -> bytes | str | None:
        """The HTML at ``key``; a URL (str) when it is too large to answer inline; None if missing."""

    def download(self, key: str, filename: str) -> ViewerResponse | None:
        """An answer that delivers the data file at ``key``; None if missing."""


def respond(method: str, path: str, signing_key: bytes, now: datetime, reports: Reports) -> ViewerResponse:
    """The answer to ``method path`` (the path as the browser sent it, without the query)."""
    if method not in ("GET", "HEAD"):
        return _refused(405, "The report viewer only shows pages.", {"Allow": "GET, HEAD"})
    try:
        grant = verify(path, signing_key, now)
    except LinkRefused as exc:
        return _refused(403, f"This link does not open a report: {exc.reason}.")
    answer = _serve(grant, reports)
    if answer is None:
        return _refused(404, "The link is valid, but the file is no longer stored (expired by retention?).")
    if method == "HEAD":
        answer.body, answer.file = b"", None
    return answer


def _serve(grant: Grant, reports: Reports) -> ViewerResponse | None:
    if grant.filename.endswith(".html"):
        page = reports.page(grant.key)
        if page is None:
            return None
        if isinstance(page, str):
            return ViewerResponse(302, {**BASE_HEADERS, "Location": page})
        headers = {
            **BASE_HEADERS,
            "Content-Type": HTML_CONTENT_TYPE,
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        }
        return ViewerResponse(200, headers, page)
    return reports.download(grant.key, grant.filename)


def download_headers(filename: str) -> dict[str, str]:
    """Headers for a data file delivered as a download."""
    content_type = next(
        (value for suffix, value in _CONTENT_TYPES.items() if filename.endswith(suffix)),
        "application/octet-stream",
    )
    return {
        **BASE_HEADERS,
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Security-Policy": _FILE_CSP,
    }


def _refused(status: int, message: str, extra: dict[str, str] | None = None) -> ViewerResponse:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dam-drift report viewer</title>'
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}</style></head><body>"
        f"<h1>This link cannot be used</h1><p>{escape(message)}</p>"
        "<p>Ask for a new link, or open the report from the S3 console or a local copy.</p></body></html>"
    )
    headers = {
        **BASE_HEADERS,
        "Content-Type": HTML_CONTENT_TYPE,
        "Content-Security-Policy": _REFUSED_CSP,
        **(extra or {}),
    }
    return ViewerResponse(status, headers, body.encode())


class S3Reports:
    """The report bucket, read by the viewer function's role."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def page(self, key: str) -> bytes | str | None:
        from botocore.exceptions import ClientError

        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
                return None
            raise
        body = response["Body"]
        try:
            if response.get("ContentLength", 0) > INLINE_MAX_BYTES:
                return self._presigned(key, key.rsplit("/", 1)[-1], inline=True)
            return body.read()
        finally:
            body.close()

    def download(self, key: str, filename: str) -> ViewerResponse | None:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "403", "AccessDenied"):
                return None
            raise
        return ViewerResponse(302, {**BASE_HEADERS, "Location": self._presigned(key, filename, inline=False)})

    def _presigned(self, key: str, filename: str, *, inline: bool) -> str:
        disposition = "inline" if inline else f'attachment; filename="{filename}"'
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key, "ResponseContentDisposition": disposition},
            ExpiresIn=DOWNLOAD_URL_SECONDS,
        )


class FolderReports:
    """A folder with the S3 key layout (``damdrift check --out DIR``), for the local viewer."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path | None:
        path = (self._root / key).resolve()
        # verify() already refused '..' and anything outside the layout; this is a second lock.
        if not path.is_relative_to(self._root) or not path.is_file():
            return None
        return path

    def page(self, key: str) -> bytes | str | None:
        path = self._path(key)
        return path.read_bytes() if path is not None else None

    def download(self, key: str, filename: str) -> ViewerResponse | None:
        path = self._path(key)
        if path is None:
            return None
        headers = {**download_headers(filename), "Content-Length": str(path.stat().st_size)}
        return ViewerResponse(200, headers, file=path)
