"""Record identity: (type, action, record id) decides "the same record", and its 64-bit key is stable."""

from damdrift.report.identity import (
    CODE_SHIFT,
    KNOWN_PAIRS,
    OVERFLOW_CODE,
    KeyCollector,
    PairTable,
    identity_digest,
    identity_text,
    record_check,
    record_key,
)


def keyed(*records: tuple[str, str, object]) -> KeyCollector:
    collector = KeyCollector()
    for rtype, action, record_id in records:
        collector.add((rtype, action), record_id)
    return collector


def test_the_same_identity_has_the_same_key_and_check_in_any_run() -> None:
    one = keyed(("MEDIA_ITEM", "CREATE", "a1"))
    other = keyed(("COLLECTION", "DELETE", "x"), ("MEDIA_ITEM", "CREATE", "a1"))
    assert (one.keys[0], one.checks[0]) == (other.keys[1], other.checks[1])


def test_type_action_and_id_each_change_the_identity() -> None:
    collector = keyed(
        ("MEDIA_ITEM", "CREATE", "a1"),
        ("MEDIA_ITEM", "UPDATE", "a1"),
        ("RENDITION", "CREATE", "a1"),
        ("MEDIA_ITEM", "CREATE", "a2"),
    )
    assert len(set(zip(collector.keys, collector.checks, strict=True))) == 4


def test_fields_cannot_run_together() -> None:
    collector = keyed(("AB", "C", "D"), ("A", "BC", "D"), ("A", "B", "CD"))
    assert len(set(collector.keys)) == 3


def test_the_collector_hashes_exactly_what_identity_text_spells() -> None:
    records = [("MEDIA_ITEM", "CREATE", "a1"), ("NEW_TYPE", "MERGE", None), ("KEYWORD", "DELETE", 7)]
    records.append(("KEYWORD", "DELETE", "\udc80 lone surrogate"))
    collector = keyed(*records)
    for (rtype, action, record_id), key, check in zip(records, collector.keys, collector.checks, strict=True):
        digest = identity_digest(identity_text(rtype, action, record_id))
        assert key == record_key(collector.pairs.code((rtype, action)), digest)
        assert check == record_check(digest)


def test_a_missing_or_non_string_id_never_equals_a_string_id() -> None:
    collector = keyed(("KEYWORD", "CREATE", None), ("KEYWORD", "CREATE", "null"), ("KEYWORD", "CREATE", 7))
    collector.add(("KEYWORD", "CREATE"), "7")
    assert len(set(collector.keys)) == 4


def test_the_key_carries_the_pair_code_in_its_top_byte() -> None:
    collector = keyed(("MEDIA_ITEM", "UPDATE", "a1"))
    assert collector.keys[0] >> CODE_SHIFT == KNOWN_PAIRS["MEDIA_ITEM", "UPDATE"]


def test_documented_pairs_have_fixed_codes_and_new_pairs_are_numbered_after_them() -> None:
    table = PairTable()
    assert len(KNOWN_PAIRS) == 36 and set(KNOWN_PAIRS.values()) == set(range(1, 37))
    assert table.code(("SMART_TAG", "CREATE")) == 37
    assert table.code(("SMART_TAG", "CREATE")) == 37
    assert table.pair(37) == ("SMART_TAG", "CREATE")
    assert PairTable(table.dynamic()).code(("SMART_TAG", "CREATE")) == 37


def test_past_255_pairs_the_codes_share_one_overflow_bucket() -> None:
    table = PairTable()
    codes = [table.code((f"TYPE_{i}", "CREATE")) for i in range(250)]
    assert codes[-1] == OVERFLOW_CODE
    assert table.pair(OVERFLOW_CODE) == ("(other)", "(other)")
