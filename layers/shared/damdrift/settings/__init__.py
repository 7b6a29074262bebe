"""The functions' settings: pydantic models read from the environment once, at cold start.

- :mod:`~damdrift.settings.functions`: one model per Lambda function (``ApproveSettings``,
  ``FetchReportSettings``...), each composed of the concept models below.
- :mod:`~damdrift.settings.base`: ``FunctionSettings``, the report bucket and ``from_env``.
- :mod:`~damdrift.settings.dx_access`: ``DxAccessSettings``, for a function that talks to DX.
- :mod:`~damdrift.settings.notices`: ``NoticeSettings`` (and ``OpsTopicSettings``), for one that tells people.
- :mod:`~damdrift.settings.report`: ``ReportSettings``, for the one that builds the report.
- :mod:`~damdrift.settings.remediation`: ``RemediationLimits``, what the stack lets remediation do.

None of them loads the DX client (``requests``): approve, request-approval and the report viewer never
talk to DX, and their cold start does not pay for it.
"""

from damdrift.settings.base import FunctionSettings
from damdrift.settings.dx_access import DxAccessSettings
from damdrift.settings.functions import (
    ApproveSettings,
    AuthenticateSettings,
    DoctorSettings,
    FetchReportSettings,
    PollSettings,
    RemediateSettings,
    ReportViewerSettings,
    RequestApprovalSettings,
    SummariseRunSettings,
    TriggerSettings,
)
from damdrift.settings.notices import NoticeSettings, OpsTopicSettings
from damdrift.settings.remediation import RemediationLimits
from damdrift.settings.report import DEFAULT_RULES_KEY, ReportSettings

__all__ = [
    "DEFAULT_RULES_KEY",
    "ApproveSettings",
    "AuthenticateSettings",
    "DoctorSettings",
    "DxAccessSettings",
    "FetchReportSettings",
    "FunctionSettings",
    "NoticeSettings",
    "OpsTopicSettings",
    "PollSettings",
    "RemediateSettings",
    "RemediationLimits",
    "ReportSettings",
    "ReportViewerSettings",
    "RequestApprovalSettings",
    "SummariseRunSettings",
    "TriggerSettings",
]
