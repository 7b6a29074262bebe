"""One publisher, one identity: the name its reports, baselines and history are filed under."""

import pytest

from damdrift.dx.connection import DxConnection
from damdrift.report.records.ignore import IgnoreRules


@pytest.mark.parametrize(
    ("publisher", "identity"),
    [
        ({"hostname": "dx.example.com"}, "dx.example.com"),
        ({"hostname": "DX.Example.COM", "dxPort": 443}, "dx.example.com"),
        ({"hostname": "dx.example.com", "damAPIPort": 443, "dxPort": 8443}, "dx.example.com"),
        ({"hostname": "dx.example.com", "dxPort": 8443}, "dx.example.com_8443"),
        ({"hostname": "dx.example.com", "dxProtocol": "http", "dxPort": 80}, "dx.example.com"),
        ({"hostname": "dx.example.com", "dxProtocol": "http", "dxPort": 443}, "dx.example.com_443"),
    ],
)
def test_default_ports_are_dropped_and_the_host_lower_cased(
    publisher: dict[str, object], identity: str
) -> None:
    assert DxConnection.model_validate(publisher).publisher_id == identity


def test_rules_naming_a_publisher_or_subscriber_the_check_does_not_have_are_pointed_out() -> None:
    rules = IgnoreRules.parse(
        '{"rules": ['
        '{"recordType": "MEDIA_ITEM", "publisher": "dx.example.com_443"},'
        '{"recordType": "MEDIA_ITEM", "subscriberId": "deregistered"},'
        '{"recordType": "MEDIA_ITEM", "subscriberId": "sub-*", "publisher": "dx.example.*"},'
        '{"recordType": "COLLECTION"}]}'
    )
    strangers = rules.strangers("dx.example.com", ["sub-1", "sub-2"])
    assert strangers == [
        "rules.0 names publisher 'dx.example.com_443'; this check's is 'dx.example.com'",
        "rules.1 names subscriber 'deregistered', which is not registered",
    ]
