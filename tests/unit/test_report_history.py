"""The stored history (report_history): a subscriber's newest summaries, found without listing them all."""

from typing import Any

from damdrift.report_history import newest_summary_keys
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET

BUCKET = REPORT_BUCKET


def test_the_newest_summaries_are_found_walking_back_through_months_and_years(
    s3: Any, store: ReportStore
) -> None:
    stored = []
    for day, execution in [
        ("2023/12/31", "a"),
        ("2024/01/02", "b"),
        ("2024/02/10", "c"),
        ("2024/02/10", "d"),
    ]:
        key = f"reports/p/s/{day}/{execution}/summary.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
        s3.put_object(Bucket=BUCKET, Key=key.replace("summary.json", "report.csv"), Body=b"")
        stored.append(key)
    s3.put_object(Bucket=BUCKET, Key="reports/p/s/latest.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="reports/p/other/2024/03/01/x/summary.json", Body=b"{}")

    assert newest_summary_keys(store, "p", "s", 3) == [stored[3], stored[2], stored[1]]
    assert newest_summary_keys(store, "p", "s", 10) == stored[::-1]
    assert newest_summary_keys(store, "p", "nobody", 10) == []
