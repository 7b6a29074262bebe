"""A DX unlike the assumed one in the two ways the doctor measures: mismatch rows spelled as the table's
columns (``type``/``action``) and pages capped below the client's ``limit``. The whole check still
reports every record, and the doctor names both differences."""

from collections.abc import Iterator

import pytest

from damdrift.doctor import run_doctor
from damdrift.dx.client import ClientTuning
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Scenario, Simulator
from tests.e2e.conftest import check_input

pytestmark = pytest.mark.e2e

DRIFT = {"COLLECTION": {"CREATE": 6, "DELETE": 1}, "MEDIA_ITEM": {"UPDATE": 4}}


@pytest.fixture
def publisher() -> Iterator[Simulator]:
    scenario = Scenario.model_validate(
        {
            "name": "columns-and-cap",
            "findDurationSeconds": 0.3,
            "credentials": {"password": "e2e-Pa55-word-93"},
            "recordFields": "columns",
            "maxPageSize": 4,
        }
    )
    with Simulator(scenario, record_exchanges=True) as simulator:
        yield simulator


def test_a_dx_with_column_spellings_and_a_page_cap_is_reported_whole_and_the_doctor_names_both(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("sub-drifted.example.com", drift=DRIFT)

    run = aws.run_check(check_input(publisher))

    item = next(i for i in run.outcomes if i["subscriberId"] == sub)
    assert (run.status, item["status"], item["outcome"]["total"]) == ("SUCCEEDED", "DRIFT", 11)
    assert item["outcome"]["counts"] == {
        "COLLECTION": {"CREATE": 6, "DELETE": 1},
        "MEDIA_ITEM": {"UPDATE": 4},
    }
    connection = DxConnection(hostname=publisher.hostname, dxProtocol="http", dxPort=publisher.port)
    credentials = DxCredentials.model_validate(
        {"username": publisher.username, "password": publisher.password}
    )
    report = run_doctor(connection, credentials, tuning=ClientTuning(retries=0, read_timeout=5))
    assert report.page_size == 4
    assert report.record_fields is not None and {"type", "action"} <= set(report.record_fields)
    shape = next(c for c in report.checks if c.id == "assumption mismatch-record-shape")
    assert shape.status.value == "WARN"
