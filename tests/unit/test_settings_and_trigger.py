"""Function settings (validated at cold start) and the one configurable DX assumption: the trigger call."""

import pytest

from damdrift.dx.trigger import FIND_MISMATCH_DEFAULT, TriggerRequest
from damdrift.errors import ConfigurationError, FindMismatchFailed, split_diagnosis
from damdrift.settings import (
    ApproveSettings,
    AuthenticateSettings,
    DoctorSettings,
    FetchReportSettings,
    FunctionSettings,
    PollSettings,
    RemediateSettings,
    ReportViewerSettings,
    RequestApprovalSettings,
    TriggerSettings,
)

EVERY_FUNCTION: list[type[FunctionSettings]] = [
    AuthenticateSettings,
    TriggerSettings,
    PollSettings,
    FetchReportSettings,
    RemediateSettings,
    RequestApprovalSettings,
    ApproveSettings,
    ReportViewerSettings,
    DoctorSettings,
]


@pytest.mark.parametrize("model", EVERY_FUNCTION)
def test_every_functions_settings_need_the_report_bucket(model: type[FunctionSettings]) -> None:
    with pytest.raises(ConfigurationError, match=r"^invalid function environment: REPORT_BUCKET: required"):
        model.from_env({"REPORT_VIEWER_KEY_SECRET": "link-key"})


def test_settings_name_a_malformed_variable() -> None:
    with pytest.raises(ConfigurationError, match="DX_PAGE_SIZE"):
        PollSettings.from_env({"REPORT_BUCKET": "reports", "DX_PAGE_SIZE": "lots"})


def test_blank_optional_settings_mean_unset() -> None:
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": "reports", "OPS_TOPIC_ARN": ""})
    assert settings.ops_topic_arn is None


def test_a_blank_setting_with_a_default_takes_the_default() -> None:
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": "reports", "REPORT_LINK_EXPIRY_SECONDS": ""})
    assert settings.report_link_expiry_seconds == 7 * 24 * 3600


@pytest.mark.parametrize("value", [None, ""])
def test_the_report_viewer_fails_its_cold_start_without_its_link_key_secret(value: str | None) -> None:
    env = {"REPORT_BUCKET": "reports"} | ({} if value is None else {"REPORT_VIEWER_KEY_SECRET": value})
    with pytest.raises(ConfigurationError, match="REPORT_VIEWER_KEY_SECRET: required field is missing"):
        ReportViewerSettings.from_env(env)


def test_functions_that_never_talk_to_dx_hold_no_dx_settings() -> None:
    for model in (ApproveSettings, RequestApprovalSettings, ReportViewerSettings):
        assert not {"credentials_secret", "allowed_dx_hosts", "dx_page_size"} & set(model.model_fields)
    assert set(ApproveSettings.model_fields) == {"report_bucket"}


def test_only_the_report_building_function_reads_the_report_and_notice_settings() -> None:
    readers = [m for m in EVERY_FUNCTION if {"work_dir", "drift_topic_arn"} & set(m.model_fields)]
    assert readers == [FetchReportSettings]


def test_default_find_trigger_is_the_documented_patch_assumption() -> None:
    assert FIND_MISMATCH_DEFAULT.render("sub-1") == (
        "PATCH",
        "/staging/subscriber/sub-1",
        {"resyncStatus": "FIND_MISMATCH_START"},
    )


def test_find_trigger_can_be_switched_by_configuration() -> None:
    settings = TriggerSettings.from_env(
        {
            "REPORT_BUCKET": "reports",
            "DX_FIND_MISMATCH_REQUEST": 'POST /staging/mismatches/find {"subscriberId": "{subscriberId}"}',
        }
    )
    request = settings.client_tuning().find_mismatch_request
    assert request.render("s-9") == ("POST", "/staging/mismatches/find", {"subscriberId": "s-9"})


def test_malformed_trigger_setting_fails_the_cold_start_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="DX_FIND_MISMATCH_REQUEST"):
        TriggerSettings.from_env({"REPORT_BUCKET": "reports", "DX_FIND_MISMATCH_REQUEST": "FETCH somewhere"})


def test_trigger_body_must_be_json() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        TriggerRequest.parse("PATCH /x {not json}", "SETTING")


def test_diagnosis_travels_inside_the_message_and_comes_back() -> None:
    error = FindMismatchFailed("find failed", {"operation": {"retryCounter": 2}})
    message, diagnosis = split_diagnosis(str(error))
    assert message == "find failed"
    assert diagnosis == {"operation": {"retryCounter": 2}}


def test_message_without_diagnosis_is_returned_whole() -> None:
    assert split_diagnosis("plain") == ("plain", None)


def test_a_hostile_subscriber_id_from_dx_changes_neither_the_trigger_path_nor_its_body() -> None:
    hostile = 'x/../../operations?a=1#", "resyncStatus": "RESYNC_TRIGGER_START'
    request = TriggerRequest.parse(
        'POST /staging/subscriber/{subscriberId}/find {"id": "{subscriberId}"}', "X"
    )

    _, path, body = request.render(hostile)

    assert path.startswith("/staging/subscriber/x%2F..%2F") and path.endswith("/find")
    assert path.count("/") == 4 and "?" not in path and "#" not in path
    assert body == {"id": hostile}
    assert FIND_MISMATCH_DEFAULT.render(hostile)[2] == {"resyncStatus": "FIND_MISMATCH_START"}
