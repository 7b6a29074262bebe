"""The settings of the function that builds a check's report: where it works, how the download is
checkpointed and capped, where the ignore rules are, how much history the HTML report shows."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from damdrift.settings.base import FunctionSettings

#: Where the ignore rules file is looked for (damdrift.report.records.ignore) unless IGNORE_RULES_KEY says.
#: Kept here, not beside the rules' models, so that a function's settings do not import those models.
DEFAULT_RULES_KEY = "config/ignore-rules.json"


class ReportSettings(FunctionSettings):
    work_dir: Path = Field(Path("/tmp"), alias="WORK_DIR")  # noqa: S108 - Lambda's /tmp  # nosec B108
    #: The fetch step stores a checkpoint part every this many records (see damdrift.report.ingest.download).
    report_part_records: int = Field(250_000, alias="REPORT_PART_RECORDS", ge=1, le=10_000_000)
    #: Most records one report may have: past it the download stops (ERRORED, the records kept as partial),
    #: so a DX that pages forever cannot keep a check running.
    report_max_records: int = Field(5_000_000, alias="REPORT_MAX_RECORDS", ge=1, le=1_000_000_000)
    #: The ignore rules file in the report bucket (damdrift.report.records.ignore); absent = no rules.
    ignore_rules_key: str = Field(DEFAULT_RULES_KEY, alias="IGNORE_RULES_KEY", min_length=1, max_length=1024)
    #: Checks of the subscriber the HTML report's trend shows (the newest, this one included).
    report_trend_runs: int = Field(30, alias="REPORT_TREND_RUNS", ge=0, le=366)
