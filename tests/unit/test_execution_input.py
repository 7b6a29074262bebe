"""The execution input: what is accepted, and how a mistake is reported (field named, expectation said)."""

import pytest

from damdrift.errors import InvalidInput
from damdrift.execution_input import CheckInput
from damdrift.validation import parse_input


def parse(data: object) -> CheckInput:
    return parse_input(CheckInput, data, "execution input")


def test_minimal_input_gets_dxclient_defaults() -> None:
    check = parse({"publisher": {"hostname": "dx.example.com"}})
    assert check.publisher.protocol == "https"
    assert check.publisher.ring_base_url == "https://dx.example.com/dx/api/core/v1"
    assert check.publisher.dam_base_url == "https://dx.example.com/dx/api/dam/v1"
    assert check.subscriber_ids == []
    assert check.poll.max_duration_seconds == 7200


def test_separate_ring_and_dam_ports_build_separate_base_urls() -> None:
    check = parse(
        {"publisher": {"hostname": "dx.local", "dxProtocol": "http", "ringAPIPort": 4000, "damAPIPort": 3000}}
    )
    assert check.publisher.ring_base_url == "http://dx.local:4000/dx/api/core/v1"
    assert check.publisher.dam_base_url == "http://dx.local:3000/dx/api/dam/v1"


@pytest.mark.parametrize(
    "hostname",
    ["https://dx.example.com", "dx.example.com/path", "admin:secret@dx.example.com", "dx example.com", ""],
)
def test_hostname_with_scheme_path_credentials_or_spaces_is_refused(hostname: str) -> None:
    with pytest.raises(InvalidInput, match=r"publisher\.hostname: .*bare host name"):
        parse({"publisher": {"hostname": hostname}})


def test_refused_hostname_is_not_echoed_back() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse({"publisher": {"hostname": "admin:hunter2@dx.example.com"}})
    assert "hunter2" not in str(caught.value)


def test_missing_publisher_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="publisher: required field is missing"):
        parse({})


def test_misspelt_field_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(InvalidInput, match="subscriberID: unknown field"):
        parse({"publisher": {"hostname": "dx.example.com"}, "subscriberID": ["a"]})


@pytest.mark.parametrize(("field", "value"), [("dxPort", 0), ("dxPort", 70000), ("damAPIPort", "x")])
def test_ports_out_of_range_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=f"publisher.{field}"):
        parse({"publisher": {"hostname": "dx.example.com", field: value}})


def test_api_version_must_look_like_v1() -> None:
    with pytest.raises(InvalidInput, match=r"publisher\.damAPIVersion: .*v1"):
        parse({"publisher": {"hostname": "dx.example.com", "damAPIVersion": "1; drop"}})


def test_subscriber_ids_are_checked_and_must_not_repeat() -> None:
    with pytest.raises(InvalidInput, match="subscriberIds"):
        parse({"publisher": {"hostname": "dx.example.com"}, "subscriberIds": ["../etc"]})
    with pytest.raises(InvalidInput, match="must not repeat"):
        parse({"publisher": {"hostname": "dx.example.com"}, "subscriberIds": ["a", "a"]})


def test_poll_max_wait_below_initial_wait_is_refused() -> None:
    with pytest.raises(InvalidInput, match="maxWaitSeconds must be at least initialWaitSeconds"):
        parse(
            {
                "publisher": {"hostname": "dx.example.com"},
                "poll": {"initialWaitSeconds": 30, "maxWaitSeconds": 10},
            }
        )


def test_a_password_field_in_the_input_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse({"publisher": {"hostname": "dx.example.com"}, "password": "hunter2"})
    assert "password: unknown field" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "hostname",
    [
        "10.0.0.1:443",
        "dx.example.com:443",
        "dead:beef",
        "fe80::1%eth0",
        "[::1",
        "dx.example.com\n",
        "dx\x00.com",
    ],
)
def test_hostname_with_a_port_an_invalid_address_or_a_control_character_is_refused(hostname: str) -> None:
    with pytest.raises(InvalidInput, match=r"publisher\.hostname: .*bare host name"):
        parse({"publisher": {"hostname": hostname}})


@pytest.mark.parametrize("hostname", ["::1", "[2001:db8::5]", "10.0.0.1", "dx-1.internal"])
def test_ip_literals_and_internal_names_are_accepted(hostname: str) -> None:
    assert parse({"publisher": {"hostname": hostname}}).publisher.hostname == hostname


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("publisher.damAPIVersion", "v1\n"),
        ("publisher.dxPort", True),
        ("subscriberIds.0", "8c72ef60\n"),
        ("credentialsSecret", "dam-drift/dx\n"),
    ],
)
def test_a_trailing_newline_or_a_boolean_where_a_value_belongs_is_refused(field: str, value: object) -> None:
    section, _, name = field.partition(".")
    data: dict[str, object] = {"publisher": {"hostname": "dx.example.com"}}
    if section == "publisher":
        data["publisher"] = {"hostname": "dx.example.com", name: value}
    elif section == "subscriberIds":
        data["subscriberIds"] = [value]
    else:
        data[section] = value
    with pytest.raises(InvalidInput, match=section):
        parse(data)


def test_tls_options_must_agree_with_each_other_and_with_the_protocol() -> None:
    with pytest.raises(InvalidInput, match="contradict"):
        parse({"publisher": {"hostname": "dx.example.com", "verifyTls": False, "caBundle": "/opt/ca.pem"}})
    with pytest.raises(InvalidInput, match="for dxProtocol https"):
        parse({"publisher": {"hostname": "dx.example.com", "dxProtocol": "http", "verifyTls": False}})
    with pytest.raises(InvalidInput, match="PEM file"):
        parse({"publisher": {"hostname": "dx.example.com", "caBundle": "/opt/ca.pem\nx"}})
    bundle = parse({"publisher": {"hostname": "dx.example.com", "caBundle": "/opt/dx-ca.pem"}}).publisher
    assert (bundle.verify_tls, bundle.ca_bundle) == (True, "/opt/dx-ca.pem")
