"""The links a notice carries: to the check's report and the publisher's overview through the report
viewer (:mod:`damdrift.viewer`), signed to expire, and to the report's folder in the S3 console."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from damdrift.errors import ConfigurationError
from damdrift.observability import logger
from damdrift.report.rendering.notice import ReportLink
from damdrift.settings import NoticeSettings
from damdrift.viewer import links
from damdrift.viewer.keys import link_key, viewer_url


def notice_links(settings: NoticeSettings, publisher: str, html_key: str, now: datetime) -> ReportLink | None:
    """The notice's links: the report and the overview through the report viewer, signed to work until
    ``now + REPORT_LINK_EXPIRY_SECONDS`` (whole seconds, as the link says), and the S3 console's view of
    the report's folder. A key that cannot be read leaves the viewer links out (logged)."""
    expires = datetime.fromtimestamp(int(now.timestamp()) + settings.report_link_expiry_seconds, UTC)
    link = ReportLink(expires=expires)
    secret = settings.report_viewer_key_secret
    if secret and (settings.report_viewer_url or settings.report_viewer_function):
        try:
            key = link_key(secret)
            viewer = settings.report_viewer_url or viewer_url(str(settings.report_viewer_function))
        except ConfigurationError as exc:
            logger.warning("no links to the report viewer", extra={"error": exc.message})
        else:
            link.url = links.report_link(viewer, key, html_key, expires)
            link.overview_url = links.overview_link(viewer, key, publisher, expires)
    if settings.report_console_links and settings.aws_region:
        link.console_url = console_url(settings.aws_region, settings.report_bucket, html_key)
    return link if link.url or link.console_url else None


def console_url(region: str, bucket: str, key: str) -> str:
    """The S3 console's page of the folder holding ``key`` (the reader's own AWS login applies)."""
    folder = key.rsplit("/", 1)[0] + "/"
    query = urlencode({"region": region, "prefix": folder, "showversions": "false"})
    return f"https://{region}.console.aws.amazon.com/s3/buckets/{quote(bucket, safe='')}?{query}"
