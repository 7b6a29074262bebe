"""The report bucket's key layout: one dated folder per check, and only plainly safe key segments."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from damdrift.report_layout import prefix_for

STARTED = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
PREFIX = "reports/dx.example.com/sub-1/2024/05/01/exec-1/"


def test_prefix_layout_is_publisher_subscriber_date_execution() -> None:
    assert prefix_for("dx.example.com", "sub-1", STARTED, "exec-1") == PREFIX


def test_prefix_dates_are_utc() -> None:
    local = datetime(2024, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 2024-05-01 23:30 UTC
    assert prefix_for("p", "s", local, "e") == "reports/p/s/2024/05/01/e/"
    assert prefix_for("p", "s", datetime(2024, 1, 9), "e") == "reports/p/s/2024/01/09/e/"


def test_prefix_accepts_ids_ips_and_execution_names() -> None:
    prefix = prefix_for("10.0.0.1", "3fa85f64-5717-4562-b3fc-2c963f66afa6", STARTED, "run_2024:a.b")
    assert prefix == "reports/10.0.0.1/3fa85f64-5717-4562-b3fc-2c963f66afa6/2024/05/01/run_2024:a.b/"


@pytest.mark.parametrize(
    ("publisher", "subscriber", "execution", "named"),
    [
        ("dx/../../etc", "s", "e", "publisher"),
        ("p", "..", "e", "subscriberId"),
        ("p", "s", ".", "execution"),
        ("p", "s", "a..b", "execution"),
        ("p", "", "e", "subscriberId"),
        ("p", "s", "has space", "execution"),
        ("bücher.example", "s", "e", "publisher"),
        ("p", "s\n", "e", "subscriberId"),
        ("p", "s", "x" * 201, "execution"),
    ],
)
def test_prefix_refuses_unsafe_segments_and_names_them(
    publisher: str, subscriber: str, execution: str, named: str
) -> None:
    with pytest.raises(ValueError, match=f"^{named} ") as caught:
        prefix_for(publisher, subscriber, STARTED, execution)
    assert repr({"publisher": publisher, "subscriberId": subscriber, "execution": execution}[named])[
        :40
    ] in str(caught.value)
