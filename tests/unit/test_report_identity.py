"""Record identity: (type, action, record id) decides "the same record", and its 64-bit key is stable."""

from array import array
from collections.abc import Sequence

from damdrift.report.records.identity import (
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


class _Chunks:
    def __init__(self) -> None:
        self.got: list[tuple[list[int], list[int], int]] = []

    def add(self, keys: array[int], checks: array[int], first_line: int) -> None:
        self.got.append((list(keys), list(checks), first_line))


def _expected(records: Sequence[tuple[str, str, object]], pairs: PairTable) -> tuple[list[int], list[int]]:
    digests = [identity_digest(identity_text(*record)) for record in records]
    keys = [record_key(pairs.code(record[:2]), d) for record, d in zip(records, digests, strict=True)]
    return keys, [record_check(d) for d in digests]


def test_keys_collected_in_batches_and_chunks_are_the_identity_definition_for_every_record() -> None:
    # More records than a batch, chunks that end inside a batch, ids of every kind (the general path).
    ids: list[object] = [f"rec-{n}" for n in range(5000)]
    ids[17], ids[1500], ids[2049], ids[4999] = None, 42, "\ud800lone", {"b": 1, "a": [2]}
    pairs = [("MEDIA_ITEM", "CREATE"), ("COLLECTION", "DELETE"), ("NEW_TYPE", "NEW_ACTION")]
    records = [(*pairs[n % 3], record_id) for n, record_id in enumerate(ids)]
    sink = _Chunks()
    collector = KeyCollector(sink=sink, chunk=1500)

    for rtype, action, record_id in records:
        collector.add((rtype, action), record_id)
    assert len(collector) == 5000
    collector.hand_over()

    keys, checks = _expected(records, collector.pairs)
    assert [first for _, _, first in sink.got] == [0, 1500, 3000, 4500]
    assert [key for chunk, _, _ in sink.got for key in chunk] == keys
    assert [check for _, chunk, _ in sink.got for check in chunk] == checks


def test_reading_the_keys_half_way_changes_neither_them_nor_where_chunks_end() -> None:
    records = [("KEYWORD", "UPDATE", f"k{n}") for n in range(3000)]
    sink = _Chunks()
    collector = KeyCollector(sink=sink, chunk=1000)
    for n, (rtype, action, record_id) in enumerate(records):
        collector.add((rtype, action), record_id)
        if n in (10, 999, 1234):
            assert len(collector.keys) == n + 1 - collector.spilled
    collector.hand_over()

    assert [len(keys) for keys, _, _ in sink.got] == [1000, 1000, 1000]
    assert [key for chunk, _, _ in sink.got for key in chunk] == _expected(records, collector.pairs)[0]
