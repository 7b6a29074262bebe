"""Drift age per record (record-age.bin): carried from the previous check's file, never from older
reports; a record present in consecutive checks continues its streak, any other starts one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from damdrift.report.identity import KeyCollector
from damdrift.report.keyset import KeyFile, write_sorted
from damdrift.report.record_age import RecordAgeError, RecordAges, carry_forward, since_datetime

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def keyed(
    tmp_path: Path, name: str, ids: list[str], pair: tuple[str, str] = ("KEYWORD", "CREATE")
) -> KeyFile:
    collector = KeyCollector()
    for record_id in ids:
        collector.add(pair, record_id)
    return write_sorted(collector, tmp_path / f"{name}.bin")


def ages_by_line(ages: RecordAges) -> dict[int, tuple[datetime, int]]:
    return {
        line: (since_datetime(since), streak)
        for line, since, streak in zip(ages.lines, ages.since, ages.streak, strict=True)
    }


def test_records_in_consecutive_checks_continue_their_streak_and_new_ones_start_one(tmp_path: Path) -> None:
    first = carry_forward(keyed(tmp_path, "1", ["a", "b", "c"]), None, T0)
    second = carry_forward(keyed(tmp_path, "2", ["b", "c", "d"]), first, T0 + DAY)
    third = carry_forward(keyed(tmp_path, "3", ["c", "d", "a"]), second, T0 + 2 * DAY)
    # lines are the records' positions in each check's report: c=0, d=1, a=2 in the third
    assert ages_by_line(third) == {0: (T0, 3), 1: (T0 + DAY, 2), 2: (T0 + 2 * DAY, 1)}  # "a" came back: new


def test_the_same_id_under_another_type_or_action_is_another_record(tmp_path: Path) -> None:
    first = carry_forward(keyed(tmp_path, "1", ["x"], ("KEYWORD", "CREATE")), None, T0)
    second = carry_forward(keyed(tmp_path, "2", ["x"], ("KEYWORD", "DELETE")), first, T0 + DAY)
    assert ages_by_line(second) == {0: (T0 + DAY, 1)}


def test_duplicates_pair_off_like_a_multiset(tmp_path: Path) -> None:
    first = carry_forward(keyed(tmp_path, "1", ["x"]), None, T0)
    second = carry_forward(keyed(tmp_path, "2", ["x", "x"]), first, T0 + DAY)
    assert sorted(second.streak) == [1, 2]


def test_a_previous_check_without_ages_is_bridged_from_its_record_keys(tmp_path: Path) -> None:
    bridged = RecordAges.bridged(keyed(tmp_path, "1", ["a", "b"]), T0)
    second = carry_forward(keyed(tmp_path, "2", ["b", "z"]), bridged, T0 + DAY)
    assert ages_by_line(second) == {0: (T0, 2), 1: (T0 + DAY, 1)}


def test_the_file_round_trips_and_a_truncated_one_is_refused(tmp_path: Path) -> None:
    ages = carry_forward(keyed(tmp_path, "1", [f"r{i}" for i in range(100)]), None, T0)
    ages.write(tmp_path / "record-age.bin")
    again = RecordAges.read(tmp_path / "record-age.bin")
    assert (again.checks, again.since, again.streak, again.lines) == (
        ages.checks,
        ages.since,
        ages.streak,
        ages.lines,
    )
    (tmp_path / "broken.bin").write_bytes((tmp_path / "record-age.bin").read_bytes()[:-3])
    with pytest.raises(RecordAgeError, match="expected 1800"):
        RecordAges.read(tmp_path / "broken.bin")


def test_the_oldest_are_the_longest_streaks_first(tmp_path: Path) -> None:
    ages = carry_forward(keyed(tmp_path, "1", ["a", "b"]), None, T0)
    ages = carry_forward(keyed(tmp_path, "2", ["a", "b", "c"]), ages, T0 + DAY)
    ages = carry_forward(keyed(tmp_path, "3", ["c", "a", "d"]), ages, T0 + 2 * DAY)
    assert [(line, streak) for line, _since, streak in ages.oldest(2)] == [(1, 3), (0, 2)]
