"""Every auth, staging and operations answer of the simulator, checked against HCL's OpenAPI specs.

The specs travel with the project (``specs/``, HCL's files unmodified, see ``specs/README.md``).
openapi-core matches each response to the spec's operation by method and path (the specs'
``servers`` are relative, so the path alone decides), then checks the status is declared and the body
(and declared headers) fit the schema. ``GET /staging/mismatches`` has no schema in the spec: its rows
are checked against the simulator's assumed shape, with the spec's enums.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30ReadValidator

from damdrift.dx.models import RecordAction, RecordType
from damdrift_cli.simulator import ManualClock, Simulator, SubscriberDam
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    FIND_FAILS_ID,
    FIND_STUCK_ID,
    IN_SYNC_ID,
    TEST_DRIFT,
    SimulatorFactory,
    login,
    make_scenario,
)

pytestmark = pytest.mark.integration

SPECS = Path(__file__).resolve().parents[2] / "specs"

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@dataclass
class Specs:
    ring: OpenAPI
    dam: OpenAPI
    dam_raw: dict[str, Any] = field(repr=False)

    def check(self, response: requests.Response) -> None:
        """Fails the test, naming the request, if the response does not fit the spec."""
        spec = self.ring if "/dx/api/core/" in response.url else self.dam
        try:
            spec.validate_response(
                RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
            )
        except OpenAPIError as exc:
            errors = [str(e) for e in getattr(exc.__cause__, "schema_errors", ())][:5]
            pytest.fail(
                f"{response.request.method} {response.request.path_url} -> {response.status_code} does not "
                f"fit the spec: {exc.__class__.__name__}: {errors or exc}; body {response.text[:300]}"
            )

    def query_enum(self, path: str, name: str) -> list[str]:
        parameters = self.dam_raw["paths"][path]["get"]["parameters"]
        enum: list[str] = next(p for p in parameters if p["name"] == name)["schema"]["enum"]
        return enum

    def dam_error_schema(self) -> dict[str, Any]:
        """The DAM error body schema, as every staging operation declares it for 4xx/5xx."""
        schema: dict[str, Any] = self.dam_raw["paths"]["/staging/subscriber/{subscriber_id}"]["patch"][
            "responses"
        ]["404"]["content"]["application/json"]["schema"]
        return schema


@pytest.fixture(scope="module")
def specs() -> Specs:
    # The specs are HCL's, not ours: skip checking the spec documents themselves (several seconds).
    config = Config(spec_validator_cls=None)
    raw = json.loads((SPECS / "dam-api.openapi.json").read_text(encoding="utf-8"))
    return Specs(
        ring=OpenAPI.from_file_path(str(SPECS / "ring-api.openapi.json"), config=config),
        dam=OpenAPI.from_dict(raw, config=config),
        dam_raw=raw,
    )


@dataclass
class Publisher:
    """A simulator with some history: finds completed, failed and running, a resync and its operations.

    ``sim`` is a subscriber's DAM for the subscriber DAM cases: it answers the same requests.
    """

    sim: Simulator | SubscriberDam
    session: requests.Session
    clock: ManualClock

    def url(self, path: str) -> str:
        return self.sim.dam_base_url + path

    def trigger(self, subscriber_id: str, status: str = "FIND_MISMATCH_START") -> requests.Response:
        url = self.url(f"/staging/subscriber/{subscriber_id}")
        return self.session.patch(url, json={"resyncStatus": status}, timeout=5)


@pytest.fixture
def dx(dx_simulator_factory: SimulatorFactory) -> Publisher:
    clock = ManualClock()
    sim = dx_simulator_factory(
        make_scenario(find_duration_seconds=10, operation_duration_seconds=60), clock=clock
    )
    dx = Publisher(sim, login(sim), clock)
    for subscriber_id in (DRIFTED_ID, FIND_FAILS_ID, IN_SYNC_ID):
        dx.trigger(subscriber_id)
    dx.clock.advance(10)
    dx.trigger(IN_SYNC_ID, "RESYNC_TRIGGER_START")
    dx.trigger(FIND_STUCK_ID)
    dx.clock.advance(1)
    return dx


@pytest.fixture
def subscriber_dam(dx_simulator_factory: SimulatorFactory) -> Publisher:
    """A subscriber DAM after a partial resync (SUCCESS and FAILED operations) and seeded ones."""
    clock = ManualClock()
    drifted = {
        "id": DRIFTED_ID,
        "targetHost": "dx-sub-drifted.test",
        "drift": TEST_DRIFT,
        "dam": True,
        "resyncOutcome": "partial",
        "operations": [{"triggerFunction": "syncStagingMediaContent", "status": "WAIT"}],
    }
    sim = dx_simulator_factory(
        make_scenario(subscribers=[drifted], operation_duration_seconds=60), clock=clock
    )
    url = f"{sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}"
    login(sim).patch(url, json={"resyncStatus": "RESYNC_TRIGGER_START"}, timeout=5).raise_for_status()
    clock.advance(60.2)
    sim.add_subscriber_operation(DRIFTED_ID, "syncStagingVersionContent", "PROCESSING")
    dam = sim.subscriber_dam(DRIFTED_ID)
    return Publisher(dam, login(dam), clock)


Prepare = Callable[[Publisher], object]


def no_session(dx: Publisher) -> None:
    dx.session.cookies.clear()


def fault(status: int, endpoint: str) -> Prepare:
    return lambda dx: dx.sim.inject_fault(endpoint, "status", status=status)


def first_operation(dx: Publisher) -> str:
    return str(dx.session.get(dx.url("/operations"), timeout=5).json()[0]["id"])


@dataclass(frozen=True)
class Case:
    """One request; paths under ``/auth`` go to the Ring API, the others to the DAM API."""

    name: str
    status: int
    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None
    data: bytes | None = None
    prepare: Prepare | None = None

    def send(self, dx: Publisher) -> requests.Response:
        base = dx.sim.ring_base_url if self.path.startswith("/auth") else dx.sim.dam_base_url
        path = (
            self.path.replace("{operation}", first_operation(dx)) if "{operation}" in self.path else self.path
        )
        return dx.session.request(
            self.method, base + path, json=self.json, params=self.params, data=self.data, timeout=5
        )


ADMIN = {"username": "wpsadmin", "password": "wpsadmin"}
SUBSCRIBER = f"/staging/subscriber/{DRIFTED_ID}"
UNKNOWN = f"/staging/subscriber/{UNKNOWN_ID}"
FIND = {"resyncStatus": "FIND_MISMATCH_START"}
PAGE = {
    "subscriberId": DRIFTED_ID,
    "recordType": "COLLECTION",
    "recordAction": "CREATE",
    "offset": "1",
    "limit": "2",
}

CASES = [
    # Ring API: auth
    Case("login", 200, "POST", "/auth/login", ADMIN),
    Case("login, wrong password", 401, "POST", "/auth/login", {**ADMIN, "password": "x"}),
    Case("login, no JSON", 400, "POST", "/auth/login", data=b"{"),
    Case("login, no fields (the spec allows it)", 401, "POST", "/auth/login", {}),
    Case("login, a number for a name", 400, "POST", "/auth/login", {"username": 7}),
    Case("login, server error", 500, "POST", "/auth/login", ADMIN, prepare=fault(500, "POST /auth/login")),
    Case("custom login", 200, "POST", "/auth/custom-login"),
    Case("custom login, no session", 401, "POST", "/auth/custom-login", prepare=no_session),
    Case("validate", 200, "POST", "/auth/validate"),
    Case("validate, no session", 401, "POST", "/auth/validate", prepare=no_session),
    Case("logout", 200, "POST", "/auth/logout"),
    # DAM API: subscribers
    Case("list subscribers", 200, "GET", "/staging/subscriber"),
    Case("list subscribers, no session", 401, "GET", "/staging/subscriber", prepare=no_session),
    Case("list, not admin", 403, "GET", "/staging/subscriber", prepare=fault(403, "GET /staging/subscriber")),
    Case(
        "list, server error", 500, "GET", "/staging/subscriber", prepare=fault(500, "GET /staging/subscriber")
    ),
    Case("get subscriber", 200, "GET", SUBSCRIBER),
    Case("get subscriber, unknown", 404, "GET", UNKNOWN),
    Case("get subscriber, no session", 401, "GET", SUBSCRIBER, prepare=no_session),
    Case(
        "register",
        200,
        "POST",
        "/staging/subscriber",
        {"targetHost": "new.test", "cycleLength": 2, "status": True},
    ),
    Case("register, duplicate", 409, "POST", "/staging/subscriber", {"targetHost": "dx-sub-drifted.test"}),
    Case("register, no targetHost", 400, "POST", "/staging/subscriber", {"cycleLength": 2}),
    Case(
        "register, no session",
        401,
        "POST",
        "/staging/subscriber",
        {"targetHost": "n.test"},
        prepare=no_session,
    ),
    Case("trigger a find", 200, "PATCH", SUBSCRIBER, FIND),
    Case("trigger a resync", 200, "PATCH", SUBSCRIBER, {"resyncStatus": "RESYNC_TRIGGER_START"}),
    Case("update fields", 200, "PATCH", SUBSCRIBER, {"cycleLength": 1440, "status": False}),
    Case(
        "update every other field",
        200,
        "PATCH",
        SUBSCRIBER,
        {
            "targetHost": "",
            "syncStatus": "FAILED",
            "syncFailureLogs": "x",
            "lastSyncTime": "2026-01-01T00:00:00Z",
            "created": "2026-01-01T00:00:00.000Z",
            "updated": "2026-01-01T00:00:00+00:00",
            "lastResyncTime": "2026-01-01T00:00:00Z",
            "resyncStatus": "FIND_MISMATCH_COMPLETED",
        },
    ),
    Case("update, unknown field", 400, "PATCH", SUBSCRIBER, {"colour": "red"}),
    Case("update, unknown subscriber", 404, "PATCH", UNKNOWN, FIND),
    Case("update, no session", 401, "PATCH", SUBSCRIBER, FIND, prepare=no_session),
    Case("deregister", 204, "DELETE", SUBSCRIBER),
    Case("deregister, unknown", 404, "DELETE", UNKNOWN),
    Case("deregister, no session", 401, "DELETE", SUBSCRIBER, prepare=no_session),
    # DAM API: mismatches
    Case("mismatches", 200, "GET", "/staging/mismatches"),
    Case("mismatches, filtered page", 200, "GET", "/staging/mismatches", params=PAGE),
    Case("mismatches, bad recordType", 400, "GET", "/staging/mismatches", params={"recordType": "X"}),
    Case("mismatches, bad offset", 400, "GET", "/staging/mismatches", params={"offset": "x"}),
    Case("mismatches, no session", 401, "GET", "/staging/mismatches", prepare=no_session),
    Case(
        "mismatches, not admin",
        403,
        "GET",
        "/staging/mismatches",
        prepare=fault(403, "GET /staging/mismatches"),
    ),
    Case("delete mismatches", 204, "DELETE", "/staging/mismatches"),
    Case(
        "delete one's mismatches", 204, "DELETE", "/staging/mismatches", params={"subscriberId": DRIFTED_ID}
    ),
    Case("delete mismatches, no session", 401, "DELETE", "/staging/mismatches", prepare=no_session),
    # DAM API: operations
    Case("operations", 200, "GET", "/operations"),
    Case(
        "operations, filtered page", 200, "GET", "/operations", params={"status": "FAILED,TODO", "limit": "5"}
    ),
    Case("operations, bad status", 400, "GET", "/operations", params={"status": "NOPE"}),
    Case("operations, no session", 401, "GET", "/operations", prepare=no_session),
    Case("operation", 200, "GET", "/operations/{operation}"),
    Case("operation, unknown", 404, "GET", "/operations/nope"),
    Case("operation, no session", 401, "GET", "/operations/nope", prepare=no_session),
]


SUBSCRIBER_DAM_CASES = [
    Case("login", 200, "POST", "/auth/login", ADMIN),
    Case("login, wrong password", 401, "POST", "/auth/login", {**ADMIN, "password": "x"}),
    Case("login, no JSON", 400, "POST", "/auth/login", data=b"{"),
    Case("login, server error", 500, "POST", "/auth/login", ADMIN, prepare=fault(500, "POST /auth/login")),
    Case("logout", 200, "POST", "/auth/logout"),
    Case("operations", 200, "GET", "/operations"),
    Case(
        "operations, filtered page", 200, "GET", "/operations", params={"status": "FAILED,WAIT", "limit": "5"}
    ),
    Case("operations, bad status", 400, "GET", "/operations", params={"status": "NOPE"}),
    Case("operations, bad offset", 400, "GET", "/operations", params={"offset": "-1"}),
    Case("operations, no session", 401, "GET", "/operations", prepare=no_session),
    Case("operations, server error", 500, "GET", "/operations", prepare=fault(500, "GET /operations")),
    Case("operation", 200, "GET", "/operations/{operation}"),
    Case("operation, unknown", 404, "GET", "/operations/nope"),
    Case("operation, no session", 401, "GET", "/operations/nope", prepare=no_session),
]


@pytest.mark.parametrize("case", SUBSCRIBER_DAM_CASES, ids=[c.name for c in SUBSCRIBER_DAM_CASES])
def test_the_subscriber_dams_answer_fits_the_spec(
    specs: Specs, subscriber_dam: Publisher, case: Case
) -> None:
    if case.prepare:
        case.prepare(subscriber_dam)

    response = case.send(subscriber_dam)

    assert response.status_code == case.status, response.text
    specs.check(response)


def test_the_subscriber_dams_operations_use_every_field_the_spec_allows(
    specs: Specs, subscriber_dam: Publisher
) -> None:
    response = subscriber_dam.session.get(subscriber_dam.url("/operations"), timeout=5)
    specs.check(response)
    operations = response.json()

    assert {op["status"] for op in operations} == {"WAIT", "SUCCESS", "FAILED", "PROCESSING"}
    assert any("errorInfo" in op and op["retryCounter"] > 0 for op in operations)
    assert all(op["inputs"]["subscriberId"] == DRIFTED_ID for op in operations)


def test_the_subscriber_dams_unknown_paths_use_the_dam_error_body(
    specs: Specs, subscriber_dam: Publisher
) -> None:
    error_body = OAS30ReadValidator(specs.dam_error_schema())

    response = subscriber_dam.session.get(subscriber_dam.url("/staging/subscriber"), timeout=5)

    assert response.status_code == 404
    assert list(error_body.iter_errors(response.json())) == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_answer_fits_the_spec(specs: Specs, dx: Publisher, case: Case) -> None:
    if case.prepare:
        case.prepare(dx)

    response = case.send(dx)

    assert response.status_code == case.status, response.text
    specs.check(response)


def test_the_login_cookie_has_the_specs_form(specs: Specs, dx: Publisher) -> None:
    login_200 = specs.ring.spec / "paths" / "/auth/login" / "post" / "responses" / "200"
    example = (login_200 / "headers" / "Set-Cookie" / "schema" / "example").read_str()
    pattern = re.escape(example).replace(re.escape(example.split("=")[1].split(";")[0]), "[0-9a-f]+")

    response = requests.post(f"{dx.sim.ring_base_url}/auth/login", json=ADMIN, timeout=5)

    assert re.fullmatch(pattern, response.headers["Set-Cookie"])


def test_subscribers_with_history_use_every_field_the_spec_allows(specs: Specs, dx: Publisher) -> None:
    response = dx.session.get(dx.url("/staging/subscriber"), timeout=5)
    specs.check(response)
    by_id = {s["id"]: s for s in response.json()}

    assert by_id[DRIFTED_ID]["resyncStatus"] == "FIND_MISMATCH_COMPLETED"
    assert by_id[FIND_FAILS_ID]["resyncStatus"] == "FIND_MISMATCH_FAILED"
    assert by_id[IN_SYNC_ID]["resyncStatus"] == "RESYNC_TRIGGER_COMPLETED"
    assert by_id[FIND_STUCK_ID]["resyncStatus"] == "FIND_MISMATCH_START"
    assert all("lastResyncTime" in by_id[s] for s in (DRIFTED_ID, FIND_FAILS_ID, IN_SYNC_ID))
    operations = dx.session.get(dx.url("/operations"), timeout=5).json()
    assert {op["status"] for op in operations} >= {"SUCCESS", "FAILED", "PROCESSING", "TODO"}
    assert any("errorInfo" in op for op in operations)


def test_mismatch_rows_fit_the_assumed_shape_and_the_specs_enums(specs: Specs, dx: Publisher) -> None:
    types = specs.query_enum("/staging/mismatches", "recordType")
    actions = specs.query_enum("/staging/mismatches", "recordAction")
    assert types == [t.value for t in RecordType]
    assert actions == [a.value for a in RecordAction]
    # ASSUMPTION: mismatch-record-shape (the spec's 200 has no schema)
    uuid_string = {"type": "string", "format": "uuid"}
    timestamp = {"type": "string", "format": "date-time"}
    row_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "subscriberId", "recordType", "recordAction", "recordId", "created", "updated"],
        "properties": {
            "id": uuid_string,
            "subscriberId": uuid_string,
            "recordType": {"type": "string", "enum": types},
            "recordAction": {"type": "string", "enum": actions},
            "recordId": uuid_string,
            "created": timestamp,
            "updated": timestamp,
        },
    }
    validator = OAS30ReadValidator(
        {"type": "array", "items": row_schema}, format_checker=OAS30ReadValidator.FORMAT_CHECKER
    )

    rows = dx.session.get(dx.url("/staging/mismatches"), timeout=5).json()

    assert len(rows) == 15
    assert [str(e) for e in validator.iter_errors(rows)] == []


def test_answers_the_spec_does_not_declare_still_use_the_dam_error_body(specs: Specs, dx: Publisher) -> None:
    error_body = OAS30ReadValidator(specs.dam_error_schema())
    dx.trigger(DRIFTED_ID)
    # ASSUMPTION: second-trigger-409 (the spec's PATCH declares 200/400/401/404/500, no 409)
    conflict = dx.trigger(DRIFTED_ID)
    wrong_method = dx.session.put(dx.url("/staging/mismatches"), timeout=5)

    assert (conflict.status_code, wrong_method.status_code) == (409, 405)
    # The spec knows the operation but not the status, and does not know the method at all.
    for response, undeclared in ((conflict, ResponseNotFound), (wrong_method, OperationNotFound)):
        assert list(error_body.iter_errors(response.json())) == []
        assert isinstance(response.json()["error"]["statusCode"], str)
        with pytest.raises(undeclared):
            specs.dam.validate_response(
                RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
            )


def test_null_for_unset_fields_does_not_fit_the_spec(
    specs: Specs, dx_simulator_factory: SimulatorFactory
) -> None:
    """Why unset fields are left out by default: dx-api.md's ``resyncStatus: null`` breaks the schema."""
    sim = dx_simulator_factory(make_scenario(unset_fields_as_null=True))
    response = login(sim).get(f"{sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}", timeout=5)

    assert response.json()["resyncStatus"] is None
    with pytest.raises(OpenAPIError):
        specs.dam.validate_response(
            RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
        )


def test_the_validation_is_not_a_rubber_stamp(specs: Specs, dx: Publisher) -> None:
    real = dx.session.get(dx.url(f"/staging/subscriber/{DRIFTED_ID}"), timeout=5)
    good = real.json()
    forgeries = [
        (404, {"error": {"statusCode": 404, "message": "x"}}),  # statusCode must be a string
        (404, []),
        (200, {**good, "created": "yesterday"}),
        (200, {**good, "colour": "red"}),  # additionalProperties: false
        (200, {k: v for k, v in good.items() if k != "targetHost"}),
    ]
    for status, body in forgeries:
        forged = requests.Response()
        forged.status_code, forged._content = status, json.dumps(body).encode()
        forged.request, forged.url = real.request, real.url
        forged.headers["Content-Type"] = "application/json"

        with pytest.raises(OpenAPIError):
            specs.dam.validate_response(
                RequestsOpenAPIRequest(forged.request), RequestsOpenAPIResponse(forged)
            )
    specs.check(real)


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PUT"])
def test_a_method_the_spec_does_not_declare_gets_405_with_allow_and_the_apis_error_body(
    specs: Specs, dx: Publisher, method: str
) -> None:
    error_body = OAS30ReadValidator(specs.dam_error_schema())

    response = dx.session.request(method, dx.url("/staging/subscriber"), timeout=5)
    ring = dx.session.request(method, f"{dx.sim.ring_base_url}/auth/login", timeout=5)

    assert (response.status_code, response.headers["Allow"]) == (405, "GET, POST")
    assert list(error_body.iter_errors(response.json())) == []
    assert (ring.status_code, ring.headers["Allow"]) == (405, "POST")
    assert set(ring.json()["error"]) == {"code", "message", "reason"}
