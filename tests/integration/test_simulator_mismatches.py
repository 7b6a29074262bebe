"""GET /staging/mismatches: filters, offset/limit paging, and a lazily served 1,000,000-row log."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import pytest
import requests

from damdrift_cli.simulator import ManualClock, Simulator, record_id
from damdrift_cli.simulator.dataset import MismatchFilter
from damdrift_cli.simulator.pytest_plugin import DRIFTED_ID, TEST_DRIFT, SimulatorFactory, login

pytestmark = pytest.mark.integration

TOTAL = sum(n for actions in TEST_DRIFT.values() for n in actions.values())
LARGE_ID = "1b32dab2-0da9-4862-87c7-6abe3c33bf0f"
EXTRA_ID = "3c1bb2c2-8a4e-4f37-9a55-0d1b5a6f1009"


def _find(sim: Simulator, session: requests.Session, clock: ManualClock, *subscriber_ids: str) -> None:
    for subscriber_id in subscriber_ids:
        url = f"{sim.dam_base_url}/staging/subscriber/{subscriber_id}"
        assert session.patch(url, json={"resyncStatus": "FIND_MISMATCH_START"}, timeout=5).status_code == 200
    clock.advance(3600)


def _get(sim: Simulator, session: requests.Session, /, **params: Any) -> requests.Response:
    return session.get(f"{sim.dam_base_url}/staging/mismatches", params=params, timeout=30)


@pytest.fixture
def found(dx_simulator_factory: SimulatorFactory) -> tuple[Simulator, requests.Session]:
    """A simulator after one find on the drifted subscriber and one on an extra subscriber."""
    clock = ManualClock()
    sim = dx_simulator_factory(clock=clock)
    sim.add_subscriber("dx-sub-extra.test", subscriber_id=EXTRA_ID, drift=TEST_DRIFT)
    session = login(sim)
    _find(sim, session, clock, DRIFTED_ID, EXTRA_ID)
    return sim, session


def test_no_parameters_return_every_row(found: tuple[Simulator, requests.Session]) -> None:
    response = _get(*found)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert len(response.json()) == 2 * TOTAL


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"subscriberId": DRIFTED_ID}, TOTAL),
        ({"recordType": "COLLECTION"}, 2 * 5),
        ({"recordAction": "CREATE"}, 2 * 12),
        ({"subscriberId": DRIFTED_ID, "recordType": "MEDIA_ITEM", "recordAction": "DELETE"}, 1),
        ({"recordType": "PERMISSION"}, 0),
        ({"subscriberId": "00000000-0000-4000-8000-000000000000"}, 0),
        ({"recordType": ""}, 2 * TOTAL),
    ],
)
def test_filters(found: tuple[Simulator, requests.Session], params: dict[str, str], expected: int) -> None:
    rows = _get(*found, **params).json()

    assert len(rows) == expected
    for name, value in params.items():
        if value:
            assert {row[name] for row in rows} <= {value}


def test_pages_put_together_give_the_whole_log(found: tuple[Simulator, requests.Session]) -> None:
    everything = _get(*found).json()
    pages = [_get(*found, offset=offset, limit=4).json() for offset in range(0, 2 * TOTAL + 4, 4)]

    assert [row for page in pages for row in page] == everything
    assert [len(page) for page in pages[-3:]] == [4, 2, 0]
    assert _get(*found, limit=0).json() == []
    assert (
        _get(*found, subscriberId=DRIFTED_ID, recordAction="CREATE", offset=10, limit=5).json()
        == [r for r in everything if r["subscriberId"] == DRIFTED_ID and r["recordAction"] == "CREATE"][10:15]
    )


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"recordType": "COLLECTIONS"}, "recordType"),
        ({"recordAction": "create"}, "recordAction"),
        ({"offset": "ten"}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "2.5"}, "limit"),
    ],
)
def test_bad_parameters_are_400(
    dx_simulator: Simulator, dx_session: requests.Session, params: dict[str, str], named: str
) -> None:
    response = _get(dx_simulator, dx_session, **params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["statusCode"], error["name"]) == ("400", "BadRequestError")
    assert named in error["message"]


def test_long_answers_are_streamed(dx_simulator_factory: SimulatorFactory) -> None:
    clock = ManualClock()
    sim = dx_simulator_factory(clock=clock, record_exchanges=False)
    sim.set_drift(DRIFTED_ID, {"MEDIA_ITEM": {"CREATE": 4000}, "RENDITION": {"UPDATE": 1001}})
    session = login(sim)
    _find(sim, session, clock, DRIFTED_ID)

    response = _get(sim, session)

    assert response.headers["Transfer-Encoding"] == "chunked"
    rows = response.json()
    assert len(rows) == 5001
    assert Counter((r["recordType"], r["recordAction"]) for r in rows) == {
        ("MEDIA_ITEM", "CREATE"): 4000,
        ("RENDITION", "UPDATE"): 1001,
    }


def _objects_reachable_from(root: object) -> int:
    """Counts the objects a root keeps alive (types and modules aside), as a memory footprint."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        stack.extend(gc.get_referents(obj))
    return len(seen)


def test_a_million_rows_are_served_by_arithmetic(dx_simulator_factory: SimulatorFactory) -> None:
    clock = ManualClock()
    sim = dx_simulator_factory("large", clock=clock, record_exchanges=False)
    session = login(sim)
    _find(sim, session, clock, LARGE_ID)

    page = _get(sim, session, subscriberId=LARGE_ID, offset=999_900, limit=1000).json()

    # The last block in enum order is RESOURCE/CREATE with 2000 records: the page is its last 100.
    assert len(page) == 100
    assert {(r["recordType"], r["recordAction"]) for r in page} == {("RESOURCE", "CREATE")}
    assert page[-1]["recordId"] == record_id(1_000_000, LARGE_ID, "RESOURCE", "CREATE", 1999)
    assert _get(sim, session, offset=1_000_000, limit=10).json() == []
    filtered = _get(
        sim, session, recordType="MEDIA_ITEM", recordAction="DELETE", offset=19_990, limit=50
    ).json()
    assert [r["recordId"] for r in filtered] == [
        record_id(1_000_000, LARGE_ID, "MEDIA_ITEM", "DELETE", i) for i in range(19_990, 20_000)
    ]
    log = sim.state.mismatch_log
    assert log.count(MismatchFilter()) == 1_000_000
    assert _objects_reachable_from(log) < 1000  # one segment of 21 blocks, no per-row objects
