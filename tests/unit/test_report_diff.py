"""The diff of two runs: NEW, RESOLVED and UNCHANGED records, exact, from compact sorted keys."""

import gzip
import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from damdrift.report.analysis.diff import NEW_FILENAME, RESOLVED_FILENAME, RunDiff, compare, diff_keys
from damdrift.report.ingest.tracker import RecordTracker
from damdrift.report.ingest.writer import ReportWriter
from damdrift.report.records.gzlines import pick_lines
from damdrift.report.records.ignore import IgnoreRules
from damdrift.report.records.keyset import KeyFileError, SortedKeys

Identity = tuple[str, str, str]


NOW = datetime(2024, 5, 1, tzinfo=UTC)


def record(rtype: str, action: str, record_id: str, row: int = 0) -> dict[str, Any]:
    # Row id and timestamps differ between runs, as in DX: they are not part of the identity.
    return {
        "id": f"row-{row}-{random.random()}",
        "subscriberId": "sub-1",
        "recordType": rtype,
        "recordAction": action,
        "recordId": record_id,
        "created": f"2024-05-0{1 + row % 9}T10:00:00Z",
    }


class Run:
    """A run's report written by the real writer, with its keys collected while writing."""

    def __init__(self, directory: Path, records: list[dict[str, Any]], rules: IgnoreRules | None = None):
        matcher = rules.matcher("dx.example.com", "sub-1", NOW) if rules else None
        self.tracker = RecordTracker(matcher)
        with ReportWriter(directory, observer=self.tracker.observe) as writer:
            writer.add_many(records)
        self.records = writer.result.records_path
        self.keys = SortedKeys.from_collector(self.tracker.collector)


def run_diff(tmp_path: Path, previous: Run | None, current: Run, **options: Any) -> RunDiff:
    return compare(
        "exec-2",
        current.keys,
        current.records,
        previous_keys=previous.keys if previous else None,
        previous_records=(lambda: open(previous.records, "rb")) if previous else None,
        ignore=current.tracker.ignore,
        current_ignored=current.tracker.ignored,
        **options,
    )


def ids(changes: Any) -> set[Identity]:
    return {(s.record_type, s.record_action, s.record_id) for s in changes.samples}


def test_records_are_new_resolved_or_unchanged_by_identity_not_by_row(tmp_path: Path) -> None:
    before = Run(
        tmp_path / "1",
        [
            record("COLLECTION", "CREATE", "c1"),
            record("COLLECTION", "CREATE", "c2"),
            record("KEYWORD", "DELETE", "k1"),
        ],
    )
    after = Run(
        tmp_path / "2",
        [
            record("COLLECTION", "CREATE", "c2", 1),
            record("KEYWORD", "DELETE", "k1", 1),
            record("MEDIA_ITEM", "UPDATE", "m1"),
        ],
    )

    diff = run_diff(tmp_path, before, after)

    assert ids(diff.new) == {("MEDIA_ITEM", "UPDATE", "m1")}
    assert ids(diff.resolved) == {("COLLECTION", "CREATE", "c1")}
    assert ids(diff.unchanged) == {("COLLECTION", "CREATE", "c2"), ("KEYWORD", "DELETE", "k1")}
    assert (diff.new.total, diff.resolved.total, diff.unchanged.total) == (1, 1, 2)
    assert diff.new.counts == {"MEDIA_ITEM": {"UPDATE": 1}}
    assert diff.resolved.counts == {"COLLECTION": {"CREATE": 1}}
    assert diff.unchanged.counts == {"COLLECTION": {"CREATE": 1}, "KEYWORD": {"DELETE": 1}}
    assert diff.collisions == 0


def test_the_full_new_and_resolved_records_are_written_as_dx_sent_them(tmp_path: Path) -> None:
    old = [record("VERSION", "CREATE", f"v{i}", i) for i in range(5)]
    new = [record("VERSION", "CREATE", f"v{i}", i) for i in range(3, 9)]
    diff = run_diff(tmp_path, Run(tmp_path / "1", old), Run(tmp_path / "2", new), out_dir=tmp_path / "out")

    def lines(name: str) -> list[dict[str, Any]]:
        with gzip.open(tmp_path / "out" / name, "rt", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    assert diff.new_file == str(tmp_path / "out" / NEW_FILENAME)
    assert lines(NEW_FILENAME) == new[2:]
    assert lines(RESOLVED_FILENAME) == old[:3]


def test_duplicates_are_counted_as_a_multiset(tmp_path: Path) -> None:
    twice = [record("KEYWORD", "CREATE", "k"), record("KEYWORD", "CREATE", "k")]
    diff = run_diff(tmp_path, Run(tmp_path / "1", twice[:1]), Run(tmp_path / "2", twice))
    assert (diff.new.total, diff.resolved.total, diff.unchanged.total) == (1, 0, 1)


def test_a_64_bit_key_collision_is_told_apart_by_the_check(tmp_path: Path) -> None:
    before = Run(
        tmp_path / "1", [record("MEDIA_ITEM", "CREATE", "a"), record("MEDIA_ITEM", "CREATE", "same")]
    )
    after = Run(tmp_path / "2", [record("MEDIA_ITEM", "CREATE", "b"), record("MEDIA_ITEM", "CREATE", "same")])
    # Force what a weak hash would do: "b" gets the very key "a" has (the check still differs).
    collector = after.tracker.collector
    collector.keys[0] = before.tracker.collector.keys[0]
    after.keys = SortedKeys.from_collector(collector)

    diff = run_diff(tmp_path, before, after)

    assert diff.collisions == 1
    assert ids(diff.new) == {("MEDIA_ITEM", "CREATE", "b")}
    assert ids(diff.resolved) == {("MEDIA_ITEM", "CREATE", "a")}
    assert ids(diff.unchanged) == {("MEDIA_ITEM", "CREATE", "same")}


def test_a_collision_inside_one_run_keeps_both_records(tmp_path: Path) -> None:
    run = Run(tmp_path / "1", [record("RENDITION", "UPDATE", "x"), record("RENDITION", "UPDATE", "y")])
    collector = run.tracker.collector
    collector.keys[1] = collector.keys[0]
    keys = SortedKeys.from_collector(collector)
    merged = diff_keys(keys, keys)
    assert (merged.new, merged.resolved, sum(merged.unchanged.values())) == ([], [], 2)


def test_two_hundred_thousand_records_agree_with_the_naive_set_difference(tmp_path: Path) -> None:
    rng = random.Random(5)
    types, actions = ["COLLECTION", "MEDIA_ITEM", "RENDITION", "VERSION"], ["CREATE", "UPDATE", "DELETE"]
    universe = [(types[i % 4], actions[i % 3], f"{rng.getrandbits(64):016x}") for i in range(260_000)]
    old_ids = universe[:200_000]
    new_ids = universe[30_000:230_000]
    rng.shuffle(new_ids)

    def compact(identity: Identity) -> dict[str, str]:
        rtype, action, record_id = identity
        return {
            "subscriberId": "s",
            "recordType": rtype,
            "recordAction": action,
            "recordId": record_id,
            "created": "t",
        }

    diff = run_diff(
        tmp_path,
        Run(tmp_path / "1", [compact(t) for t in old_ids]),
        Run(tmp_path / "2", [compact(t) for t in new_ids]),
        out_dir=tmp_path / "out",
    )

    def stored(name: str) -> list[Identity]:
        with gzip.open(tmp_path / "out" / name, "rb") as handle:
            return [(r["recordType"], r["recordAction"], r["recordId"]) for r in map(json.loads, handle)]

    naive_old, naive_new = set(old_ids), set(new_ids)
    assert set(stored(NEW_FILENAME)) == naive_new - naive_old
    assert set(stored(RESOLVED_FILENAME)) == naive_old - naive_new
    unchanged: dict[str, dict[str, int]] = {}
    for rtype, action, _id in naive_new & naive_old:
        unchanged.setdefault(rtype, {}).setdefault(action, 0)
        unchanged[rtype][action] += 1
    assert diff.unchanged.counts == unchanged
    assert (diff.new.total, diff.resolved.total, diff.unchanged.total) == (30_000, 30_000, 170_000)
    assert ids(diff.unchanged) <= naive_new & naive_old


def test_the_first_check_is_all_new_and_sampled_from_the_report(tmp_path: Path) -> None:
    records = [record("FAVORITE", "CREATE", f"f{i}") for i in range(7)]
    diff = run_diff(tmp_path, None, Run(tmp_path / "1", records), sample_cap=3, out_dir=tmp_path / "out")
    assert diff.previous is None
    assert (diff.new.total, diff.resolved.total, diff.unchanged.total) == (7, 0, 0)
    assert [s.record_id for s in diff.new.samples] == ["f0", "f1", "f2"]
    assert diff.new_file is None  # the report itself is the full list


def test_after_an_in_sync_check_every_record_is_new_and_the_report_is_the_full_list(tmp_path: Path) -> None:
    records = [record("KEYWORD", "CREATE", f"k{i}") for i in range(3)]
    diff = run_diff(tmp_path, Run(tmp_path / "1", []), Run(tmp_path / "2", records), out_dir=tmp_path / "out")
    assert (diff.new.total, diff.resolved.total, diff.unchanged.total) == (3, 0, 0)
    assert diff.new_file is None and not (tmp_path / "out" / NEW_FILENAME).exists()


def test_samples_are_capped_and_ignored_records_are_counted_per_class(tmp_path: Path) -> None:
    rules = IgnoreRules.parse('{"rules": [{"recordType": "RENDITION"}]}')
    old = [record("RENDITION", "CREATE", f"r{i}") for i in range(4)] + [record("KEYWORD", "CREATE", "k0")]
    new = [record("RENDITION", "CREATE", f"r{i}") for i in range(2, 8)] + [record("KEYWORD", "CREATE", "k1")]

    diff = run_diff(tmp_path, Run(tmp_path / "1", old, rules), Run(tmp_path / "2", new, rules), sample_cap=2)

    assert (diff.new.total, diff.new.ignored) == (5, 4)
    assert (diff.resolved.total, diff.resolved.ignored) == (3, 2)
    assert (diff.unchanged.total, diff.unchanged.ignored) == (2, 2)
    assert len(diff.new.samples) == 2
    assert all(s.ignored_by == 0 for s in diff.unchanged.samples)


def test_pairs_numbered_differently_in_two_runs_still_match(tmp_path: Path) -> None:
    before = Run(tmp_path / "1", [record("SMART_TAG", "LINK", "s"), record("AI_TAG", "LINK", "a")])
    after = Run(tmp_path / "2", [record("AI_TAG", "LINK", "a"), record("SMART_TAG", "LINK", "s")])
    assert before.keys.pairs.code(("SMART_TAG", "LINK")) != after.keys.pairs.code(("SMART_TAG", "LINK"))
    diff = run_diff(tmp_path, before, after)
    assert (diff.new.total, diff.resolved.total, diff.unchanged.total) == (0, 0, 2)
    assert diff.unchanged.counts == {"AI_TAG": {"LINK": 1}, "SMART_TAG": {"LINK": 1}}


def test_the_keys_file_round_trips(tmp_path: Path) -> None:
    run = Run(
        tmp_path, [record("CUSTOM_URL", "DELETE", f"u{i}") for i in range(50)] + [record("X", "Y", "z")]
    )
    out = io.BytesIO()
    run.keys.write(out)
    back = SortedKeys.read(out.getvalue())
    assert (back.keys, back.checks, back.lines) == (run.keys.keys, run.keys.checks, run.keys.lines)
    assert back.pairs.dynamic() == run.keys.pairs.dynamic() == [(37, ("X", "Y"))]


@pytest.mark.parametrize(
    "damage", [lambda b: b[:-1], lambda b: b"XX" + b[2:], lambda b: b.replace(b'"count"', b'"cnt"')]
)
def test_a_damaged_keys_file_is_refused(tmp_path: Path, damage: Any) -> None:
    out = io.BytesIO()
    Run(tmp_path, [record("KEYWORD", "CREATE", "k")]).keys.write(out)
    with pytest.raises(KeyFileError):
        SortedKeys.read(damage(out.getvalue()))


def test_keys_computed_from_stored_records_equal_those_collected_while_writing(tmp_path: Path) -> None:
    run = Run(
        tmp_path, [record("MEDIA_ITEM", "UPDATE", f"m{i}") for i in range(20)] + [record("NEW", "X", "n")]
    )
    with open(run.records, "rb") as stream:
        again = SortedKeys.from_records_gz(stream)
    assert (again.keys, again.checks, again.lines) == (run.keys.keys, run.keys.checks, run.keys.lines)


def picked(data: bytes, wanted: list[int]) -> list[bytes]:
    return [line for batch in pick_lines(io.BytesIO(data), wanted) for line in batch]


def test_lines_are_picked_from_concatenated_gzip_members_and_an_unterminated_last_line() -> None:
    assert picked(gzip.compress(b"a\nb\n") + gzip.compress(b"c\nd"), [0, 2, 3, 9]) == [b"a", b"c", b"d"]


def test_lines_are_picked_across_blocks_in_order() -> None:
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(300_000)))
    wanted = [0, 1, 99_999, 100_000, 250_123, 299_999]
    assert picked(data, wanted) == [b"line %d" % i for i in wanted]


def test_a_truncated_report_is_an_error_not_a_shorter_one() -> None:
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(10_000)))
    with pytest.raises(EOFError):
        picked(data[: len(data) // 2], [9_999])
