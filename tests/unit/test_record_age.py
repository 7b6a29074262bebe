"""Drift age per record (record-age.bin): carried from the previous check's file, never from older
reports; a record present in consecutive checks continues its streak, any other starts one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from damdrift.report.analysis.record_age import (
    RecordAgeError,
    RecordAges,
    carry_forward,
    oldest,
    since_datetime,
)
from damdrift.report.records.identity import KeyCollector
from damdrift.report.records.keyset import KeyFile, write_sorted

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def keyed(
    tmp_path: Path, name: str, ids: list[str], pair: tuple[str, str] = ("KEYWORD", "CREATE")
) -> KeyFile:
    collector = KeyCollector()
    for record_id in ids:
        collector.add(pair, record_id)
    return write_sorted(collector, tmp_path / f"{name}.bin")


class Run:
    """One check: its keys and the ages carried to it."""

    def __init__(
        self,
        tmp_path: Path,
        name: str,
        ids: list[str],
        before: Run | None,
        started: datetime,
        pair: tuple[str, str] = ("KEYWORD", "CREATE"),
    ) -> None:
        self.keys = keyed(tmp_path, name, ids, pair)
        self.ages = carry_forward(
            self.keys, before.keys if before else None, before.ages if before else None, started
        )

    def by_line(self) -> dict[int, tuple[datetime, int]]:
        lines = [line for _k, _c, block in self.keys.blocks() for line in block]
        return {
            line: (since_datetime(since), streak)
            for line, since, streak in zip(lines, self.ages.since, self.ages.streak, strict=True)
        }


def test_records_in_consecutive_checks_continue_their_streak_and_new_ones_start_one(tmp_path: Path) -> None:
    first = Run(tmp_path, "1", ["a", "b", "c"], None, T0)
    second = Run(tmp_path, "2", ["b", "c", "d"], first, T0 + DAY)
    third = Run(tmp_path, "3", ["c", "d", "a"], second, T0 + 2 * DAY)
    # lines are the records' positions in each check's report: c=0, d=1, a=2 in the third
    assert third.by_line() == {0: (T0, 3), 1: (T0 + DAY, 2), 2: (T0 + 2 * DAY, 1)}  # "a" came back: new


def test_the_same_id_under_another_type_or_action_is_another_record(tmp_path: Path) -> None:
    first = Run(tmp_path, "1", ["x"], None, T0, ("KEYWORD", "CREATE"))
    second = Run(tmp_path, "2", ["x"], first, T0 + DAY, ("KEYWORD", "DELETE"))
    assert second.by_line() == {0: (T0 + DAY, 1)}


def test_duplicates_pair_off_like_a_multiset(tmp_path: Path) -> None:
    first = Run(tmp_path, "1", ["x"], None, T0)
    second = Run(tmp_path, "2", ["x", "x"], first, T0 + DAY)
    assert sorted(second.ages.streak) == [1, 2]


def test_a_previous_check_without_ages_is_bridged_from_its_record_keys(tmp_path: Path) -> None:
    old_keys = keyed(tmp_path, "1", ["a", "b"])
    second_keys = keyed(tmp_path, "2", ["b", "z"])
    ages = carry_forward(second_keys, old_keys, RecordAges.starting(len(old_keys), T0), T0 + DAY)
    lines = [line for _k, _c, block in second_keys.blocks() for line in block]
    assert dict(zip(lines, zip(ages.since, ages.streak, strict=True), strict=True)) == {
        0: (int(T0.timestamp()), 2),
        1: (int((T0 + DAY).timestamp()), 1),
    }


def test_the_file_round_trips_and_a_truncated_one_is_refused(tmp_path: Path) -> None:
    ages = Run(tmp_path, "1", [f"r{i}" for i in range(100)], None, T0).ages
    ages.write(tmp_path / "record-age.bin")
    again = RecordAges.read(tmp_path / "record-age.bin")
    assert (again.since, again.streak) == (ages.since, ages.streak)
    (tmp_path / "broken.bin").write_bytes((tmp_path / "record-age.bin").read_bytes()[:-3])
    with pytest.raises(RecordAgeError, match="expected 600"):
        RecordAges.read(tmp_path / "broken.bin")


def test_the_oldest_are_the_longest_streaks_first(tmp_path: Path) -> None:
    first = Run(tmp_path, "1", ["a", "b"], None, T0)
    second = Run(tmp_path, "2", ["a", "b", "c"], first, T0 + DAY)
    third = Run(tmp_path, "3", ["c", "a", "d"], second, T0 + 2 * DAY)
    assert [(line, streak) for line, _since, streak in oldest(third.ages, third.keys, 2)] == [(1, 3), (0, 2)]
