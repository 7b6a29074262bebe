"""damdrift.fleet.pricing: us-east-1 list prices applied to counted usage."""

import pytest

from damdrift.fleet.pricing import Invocation, Usage


def test_each_service_is_priced_at_its_us_east_1_list_price() -> None:
    usage = Usage(
        state_transitions=1000,
        invocations=[Invocation(seconds=1.0, memory_mb=1024)],
        s3={"PutObject": 600, "ListObjectsV2": 400, "GetObject": 900, "HeadObject": 100, "DeleteObject": 50},
        sns_messages=[100, 70 * 1024],
        secrets_calls=10_000,
    )
    costs = usage.costs()
    assert costs["states"] == pytest.approx(0.025)
    assert costs["lambda"] == pytest.approx(0.20 / 1_000_000 + 0.0000133334)
    assert costs["s3"] == pytest.approx(0.005 + 0.0004)  # 1,000 PUT/LIST; 1,000 GET/HEAD; DELETE free
    assert usage.sns_requests == 3  # a 70 KB message is two 64 KB requests
    assert costs["secrets"] == pytest.approx(0.05)
    assert usage.total == pytest.approx(sum(costs.values()))


def test_lambda_duration_is_billed_by_the_started_millisecond_and_x86_costs_more() -> None:
    arm = Usage(invocations=[Invocation(seconds=0.0101, memory_mb=512)])
    assert arm.gb_seconds == pytest.approx(0.011 * 0.5)
    x86 = Usage(invocations=arm.invocations, architecture="x86_64")
    assert x86.costs()["lambda"] > arm.costs()["lambda"]


def test_the_cost_line_names_every_part_and_the_total() -> None:
    line = Usage(state_transitions=12, s3={"PutObject": 3, "GetObject": 2}).line()
    assert line.startswith("cost: transitions=12 ")
    assert "s3=5 [GET:2 PUT:3]" in line and "total=$" in line and "us-east-1" in line
