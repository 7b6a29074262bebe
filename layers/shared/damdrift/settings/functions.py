"""One settings model per Lambda function: what its environment must and may give, validated at its cold
start (``XSettings.from_env()`` in functions/<name>/app.py). Each is made of the concept models it
needs, so a function holds only the fields it reads, and a step that takes a narrower model
(``DxAccessSettings``, ``NoticeSettings``...) cannot read a field it was not given (mypy says so).

The template gives each function its variables (template.yaml: ``Globals`` and the function's own
``Environment``); tests/deploy checks that every required one is there.
"""

from __future__ import annotations

import json

from pydantic import Field, Json, field_validator

from damdrift.dx.connection import DxConnection
from damdrift.settings.base import FunctionSettings
from damdrift.settings.dx_access import DxAccessSettings
from damdrift.settings.notices import NoticeSettings, OpsTopicSettings
from damdrift.settings.remediation import RemediationLimits
from damdrift.settings.report import ReportSettings


class AuthenticateSettings(DxAccessSettings, RemediationLimits):
    """authenticate: holds the input's hosts and remediation to the stack's, logs in to the publisher."""


class TriggerSettings(DxAccessSettings):
    """trigger-mismatch: the publisher, and the subscriber's own DAM when the input names one."""


class PollSettings(DxAccessSettings):
    """poll-status: the publisher."""


class FetchReportSettings(DxAccessSettings, NoticeSettings, ReportSettings):
    """fetch-report: downloads the report, stores it, and prepares the notice with its links."""


class SummariseRunSettings(NoticeSettings):
    """summarise-run: reads the run's records, renders the overview, stores run.json and sends the
    run's notices (with signed links); never talks to DX."""


class RemediateSettings(DxAccessSettings, RemediationLimits):
    """remediate: the publisher and the subscriber's DAM within the stack's limits; its ledger in S3."""


class RequestApprovalSettings(FunctionSettings):
    """request-approval: files the approval in the report bucket (the notice comes in its event)."""


class ApproveSettings(FunctionSettings):
    """approve: reads and answers approvals in the report bucket."""


class ReportViewerSettings(FunctionSettings):
    """report-viewer: serves reports from the bucket to links signed with the key in this secret."""

    report_viewer_key_secret: str = Field(alias="REPORT_VIEWER_KEY_SECRET", min_length=1, max_length=2048)


class DoctorSettings(DxAccessSettings, OpsTopicSettings):
    """doctor: probes the publisher (the stack's own unless the event names one), stores its report in
    the bucket and sends it to the ops topic."""

    #: The publisher of the stack's parameters (the schedule input's JSON); none: the event must name one.
    publisher: Json[DxConnection] | None = Field(None, alias="DX_PUBLISHER")

    @field_validator("publisher", mode="before")
    @classmethod
    def _no_hostname_is_none(cls, value: object) -> object:
        """A stack deployed without DxHostname (the local run's) has no default publisher."""
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return value  # Json[...] names the problem
        return None if isinstance(parsed, dict) and parsed.get("hostname") == "" else value
