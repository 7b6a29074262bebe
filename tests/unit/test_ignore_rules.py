"""Ignore rules and baselines: which records a rules file ignores, when a rule expires, what is refused, and
the rules file read from the bucket (a missing or broken one ignores nothing)."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from damdrift.models.summary import CheckStatus, Summary
from damdrift.report.analysis.baseline import baseline_rules, merged
from damdrift.report.records.ignore import IgnoreMatcher, IgnoreRules, IgnoreRulesError, load_ignore_rules
from damdrift.settings import FetchReportSettings
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SETTINGS = FetchReportSettings.from_env({"REPORT_BUCKET": REPORT_BUCKET})


def matcher(*rules: dict[str, Any], subscriber: str = "sub-1", now: datetime = NOW) -> IgnoreMatcher:
    return IgnoreRules.model_validate({"rules": list(rules)}).matcher("dx.example.com", subscriber, now)


def test_a_rule_by_record_type_ignores_every_action_and_id_of_it() -> None:
    rules = matcher({"recordType": "RENDITION"})
    assert rules.match("RENDITION", "CREATE", "r1") == 0
    assert rules.match("RENDITION", "DELETE", None) == 0
    assert rules.match("MEDIA_ITEM", "CREATE", "r1") is None


def test_type_action_and_id_patterns_all_have_to_match() -> None:
    rules = matcher({"recordType": "MEDIA_*", "recordAction": "UPDATE", "recordId": "tmp-[0-9]*"})
    assert rules.match("MEDIA_ITEM", "UPDATE", "tmp-42") == 0
    assert rules.match("MEDIA_TYPE", "UPDATE", "tmp-7x") == 0
    assert rules.match("MEDIA_ITEM", "CREATE", "tmp-42") is None
    assert rules.match("MEDIA_ITEM", "UPDATE", "tmp-x") is None
    assert rules.match("MEDIA_ITEM", "UPDATE", "TMP-42") is None  # case-sensitive, as ids are
    assert rules.match("MEDIA_ITEM", "UPDATE", None) is None  # an id pattern needs an id


def test_an_id_pattern_is_anchored_and_treats_regex_characters_literally() -> None:
    rules = matcher({"recordId": "a.b+c"})
    assert rules.match("KEYWORD", "CREATE", "a.b+c") == 0
    assert rules.match("KEYWORD", "CREATE", "axb+c") is None
    assert rules.match("KEYWORD", "CREATE", "xa.b+c") is None


def test_exact_id_lists_match_only_those_ids() -> None:
    rules = matcher({"recordType": "COLLECTION", "recordIds": ["c1", "c2"]})
    assert [rules.match("COLLECTION", "CREATE", i) for i in ("c1", "c2", "c3")] == [0, 0, None]


def test_the_first_matching_rule_in_the_file_is_the_one_reported() -> None:
    rules = matcher(
        {"recordType": "KEYWORD", "recordId": "k-*"},
        {"recordType": "KEYWORD", "recordIds": ["k-1", "other"]},
        {"recordType": "KEYWORD"},
    )
    assert rules.match("KEYWORD", "CREATE", "k-1") == 0
    assert rules.match("KEYWORD", "CREATE", "other") == 1
    assert rules.match("KEYWORD", "CREATE", "z") == 2


def test_rules_can_be_scoped_to_a_publisher_and_subscriber() -> None:
    rule = {"subscriberId": "sub-1", "publisher": "dx.*", "recordType": "VERSION"}
    assert matcher(rule).match("VERSION", "CREATE", "v") == 0
    assert matcher(rule, subscriber="sub-2").match("VERSION", "CREATE", "v") is None


def test_an_expired_rule_is_reported_and_not_applied() -> None:
    rules = matcher(
        {"recordType": "FAVORITE", "expires": "2026-06-14", "comment": "until the migration ends"},
        {"recordType": "KEYWORD", "expires": "2026-06-15"},
    )
    assert rules.match("FAVORITE", "CREATE", "f") is None
    assert rules.match("KEYWORD", "CREATE", "k") == 1  # a date applies through that whole UTC day
    [(index, expired)] = rules.expired
    assert (index, expired.comment) == (0, "until the migration ends")


def test_an_expiry_timestamp_is_exact() -> None:
    rule = {"recordType": "FAVORITE", "expires": "2026-06-15T12:00:00Z"}
    assert matcher(rule, now=NOW - timedelta(seconds=1)).active
    assert not matcher(rule, now=NOW).active


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ('{"rules": [{"comment": "matches everything"}]}', "rules.0"),
        ('{"rules": [{"recordTyp": "COLLECTION"}]}', "rules.0.recordTyp"),
        ('{"rules": [{"recordId": "a", "recordIds": ["b"]}]}', "rules.0"),
        ('{"rules": [{"recordType": "X", "expires": "next week"}]}', "rules.0.expires"),
        ('{"version": 2, "rules": []}', "version"),
        ("not json", "file"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_place(document: str, where: str) -> None:
    with pytest.raises(IgnoreRulesError, match=rf"\(1 problem\): {where}: "):
        IgnoreRules.parse(document)


def test_every_mistake_of_a_rules_file_is_reported_at_once() -> None:
    document = (
        '{"rules": [{"recordTyp": "COLLECTION"}, {"recordType": "MEDIA_ITEM"},'
        ' {"recordType": "X", "expires": "next week"}, {"comment": "matches everything"}]}'
    )
    with pytest.raises(IgnoreRulesError) as refused:
        IgnoreRules.parse(document)
    message = str(refused.value)
    assert message.startswith("invalid ignore rules (3 problems): ")
    assert "rules.0.recordTyp: " in message and "rules.3: name at least one of recordType" in message
    assert "rules.2.expires: expected a date YYYY-MM-DD" in message and "rules.1" not in message


def test_without_a_rules_file_nothing_is_ignored_and_the_summary_says_nothing(store: ReportStore) -> None:
    setup = load_ignore_rules(store, SETTINGS, "p", "s", NOW)
    assert (setup.matcher, setup.summary) == (None, None)


def test_a_broken_rules_file_ignores_nothing_and_says_why(store: ReportStore) -> None:
    store.put_bytes(SETTINGS.ignore_rules_key, b'{"rules": [{}]}', "application/json", check_prefix="config/")
    setup = load_ignore_rules(store, SETTINGS, "p", "s", NOW)
    assert setup.matcher is None
    assert setup.summary is not None and "invalid ignore rules" in (setup.summary.error or "")


def test_rules_are_read_from_the_configured_key_with_their_expired_ones_listed(store: ReportStore) -> None:
    settings = FetchReportSettings.from_env(
        {"REPORT_BUCKET": REPORT_BUCKET, "IGNORE_RULES_KEY": "team/rules.json"}
    )
    rules = {
        "rules": [
            {"recordType": "RENDITION"},
            {"recordType": "VERSION", "expires": "2026-01-01", "comment": "c"},
        ]
    }
    store.put_bytes("team/rules.json", json.dumps(rules).encode(), "application/json", check_prefix="team/")
    setup = load_ignore_rules(store, settings, "p", "s", NOW)
    assert setup.summary is not None
    assert (setup.summary.rules_key, setup.summary.active) == ("team/rules.json", 1)
    assert [(r.index, r.rule, r.expires, r.comment) for r in setup.summary.expired] == [
        (1, "VERSION * *", "2026-01-01", "c")
    ]


def summary() -> Summary:
    return Summary(
        publisher="dx.example.com",
        subscriber_id="sub-1",
        status=CheckStatus.DRIFT,
        counts={"MEDIA_ITEM": {"CREATE": 2}, "COLLECTION": {"DELETE": 1}},
        total=3,
        execution="exec-1",
    )


def raw(rtype: str, action: str, record_id: object) -> dict[str, Any]:
    return {"recordType": rtype, "recordAction": action, "recordId": record_id}


def test_a_baseline_ignores_exactly_the_records_of_its_check_for_its_subscriber_only() -> None:
    records = [
        raw("MEDIA_ITEM", "CREATE", "m1"),
        raw("COLLECTION", "DELETE", "c1"),
        raw("MEDIA_ITEM", "CREATE", "m2"),
    ]
    baseline = baseline_rules(summary(), records, comment="accepted", expires=date(2026, 12, 31))

    assert [(r.record_type, r.record_action, r.record_ids) for r in baseline.rules] == [
        ("COLLECTION", "DELETE", ("c1",)),
        ("MEDIA_ITEM", "CREATE", ("m1", "m2")),
    ]
    rules = IgnoreRules.parse(merged(None, baseline).dumps())
    mine = rules.matcher("dx.example.com", "sub-1", NOW)
    assert [mine.match(r["recordType"], r["recordAction"], r["recordId"]) for r in records] == [1, 0, 1]
    assert mine.match("MEDIA_ITEM", "CREATE", "m3") is None
    assert not rules.matcher("dx.example.com", "sub-2", NOW).match("MEDIA_ITEM", "CREATE", "m1")
    assert all(r.comment == "accepted" and r.expires == date(2026, 12, 31) for r in rules.rules)


def test_records_without_an_id_are_left_out_of_a_baseline_and_counted() -> None:
    baseline = baseline_rules(summary(), [raw("KEYWORD", "CREATE", None), raw("KEYWORD", "CREATE", "k")])
    assert (baseline.records, baseline.skipped, len(baseline.rules)) == (2, 1, 1)
    assert baseline.rules[0].comment == "baseline of check exec-1 (2 records)"


def test_a_baseline_added_to_a_rules_file_keeps_its_rules_and_their_indices() -> None:
    existing = IgnoreRules.parse('{"rules": [{"recordType": "RENDITION"}]}')
    rules = merged(existing, baseline_rules(summary(), [raw("VERSION", "CREATE", "v")]))
    assert [r.record_type for r in rules.rules] == ["RENDITION", "VERSION"]
