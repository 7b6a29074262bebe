"""Keys sorted in spilled runs and read back in blocks: the same file and the same diff as in memory."""

import io
import random
from pathlib import Path

import pytest

from damdrift.report.analysis.diff import diff_keys
from damdrift.report.records import keyset
from damdrift.report.records.identity import KeyCollector
from damdrift.report.records.keyset import KeyFile, KeyFileError, SortedKeys, SortedRuns, write_sorted

TYPES = ("COLLECTION", "MEDIA_ITEM", "RENDITION", "SMART_TAG", "AI_TAG")
ACTIONS = ("CREATE", "UPDATE", "LINK")


def identities(rng: random.Random, n: int, universe: int) -> list[tuple[str, str, str]]:
    """``n`` identities drawn from a small universe, so that runs share records and repeat some."""
    return [
        (TYPES[i % len(TYPES)], ACTIONS[i % len(ACTIONS)], f"id-{i}")
        for i in (rng.randrange(universe) for _ in range(n))
    ]


def collect(records: list[tuple[str, str, str]], collector: KeyCollector) -> KeyCollector:
    for rtype, action, record_id in records:
        collector.add((rtype, action), record_id)
    return collector


def in_memory(records: list[tuple[str, str, str]]) -> SortedKeys:
    return SortedKeys.from_collector(collect(records, KeyCollector()))


def spilled(records: list[tuple[str, str, str]], tmp_path: Path, name: str, chunk: int = 700) -> KeyFile:
    collector = collect(records, KeyCollector(sink=SortedRuns(tmp_path / f"{name}-runs"), chunk=chunk))
    return write_sorted(collector, tmp_path / f"{name}.bin")


def file_bytes(keys: SortedKeys) -> bytes:
    out = io.BytesIO()
    keys.write(out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks far smaller than the runs, so that every merge cuts blocks and refills them.
    monkeypatch.setattr(keyset, "BLOCK", 64)


def test_spilled_sorted_runs_merge_into_the_very_file_an_in_memory_sort_writes(
    tmp_path: Path,
) -> None:
    records = identities(random.Random(1), 5_000, 3_000)  # duplicates included

    merged = spilled(records, tmp_path, "run")

    assert len(list((tmp_path / "run-runs").iterdir())) == 0  # the runs are gone once merged
    assert merged.path.read_bytes() == file_bytes(in_memory(records))
    assert merged.code_counts() == in_memory(records).code_counts()


def test_the_collector_holds_at_most_one_chunk_when_it_spills(tmp_path: Path) -> None:
    collector = KeyCollector(sink=SortedRuns(tmp_path), chunk=100)
    collect(identities(random.Random(2), 1_050, 10_000), collector)
    assert (len(collector), collector.spilled, len(collector.keys)) == (1_050, 1_000, 50)
    with pytest.raises(ValueError, match="write_sorted"):
        SortedKeys.from_collector(collector)


def test_a_key_file_of_the_current_format_is_read_in_blocks_as_written(tmp_path: Path) -> None:
    keys = in_memory([*identities(random.Random(3), 999, 500), ("X", "Y", "z")])
    path = tmp_path / "record-keys.bin"
    path.write_bytes(file_bytes(keys))  # as every stored run's record-keys.bin was written

    opened = KeyFile.open(path)

    blocks = list(opened.blocks())
    assert len(blocks) > 1
    joined = [[value for block in blocks for value in block[n]] for n in range(3)]
    assert joined == [list(keys.keys), list(keys.checks), list(keys.lines)]
    assert opened.pairs.dynamic() == keys.pairs.dynamic()
    assert ("X", "Y") in [pair for _code, pair in opened.pairs.dynamic()]
    # And the other way round: a file merged from runs reads as the current format.
    again = SortedKeys.read(spilled([("X", "Y", "z")], tmp_path, "new").path.read_bytes())
    assert again.pairs.dynamic() == [(37, ("X", "Y"))]


@pytest.mark.parametrize(
    "damage", [lambda b: b[:-1], lambda b: b"XX" + b[2:], lambda b: b.replace(b'"count"', b'"cnt"')]
)
def test_a_damaged_key_file_is_refused_before_it_is_read(tmp_path: Path, damage: object) -> None:
    path = tmp_path / "record-keys.bin"
    path.write_bytes(damage(file_bytes(in_memory([("KEYWORD", "CREATE", "k")]))))  # type: ignore[operator]
    with pytest.raises(KeyFileError):
        KeyFile.open(path)


def test_the_diff_read_from_files_a_block_at_a_time_equals_the_diff_in_memory(tmp_path: Path) -> None:
    rng = random.Random(4)
    before, after = identities(rng, 4_000, 6_000), identities(rng, 4_500, 6_000)

    streamed = diff_keys(spilled(before, tmp_path, "before"), spilled(after, tmp_path, "after"))
    expected = diff_keys(in_memory(before), in_memory(after))

    assert streamed == expected
    assert streamed.new and streamed.resolved and streamed.unchanged


def test_a_collision_is_told_apart_across_block_boundaries(tmp_path: Path) -> None:
    before = KeyCollector()
    after = KeyCollector()
    collect([("MEDIA_ITEM", "CREATE", f"m{i}") for i in range(300)], before)
    collect([("MEDIA_ITEM", "CREATE", f"m{i}") for i in range(1, 301)], after)
    after.keys[-1] = before.keys[0]  # "m300" now has "m0"'s key; its check still differs
    files = []
    for name, collector in (("before", before), ("after", after)):
        path = tmp_path / f"{name}.bin"
        path.write_bytes(file_bytes(SortedKeys.from_collector(collector)))
        files.append(KeyFile.open(path))

    merged = diff_keys(files[0], files[1])

    assert merged.collisions == 1
    assert (len(merged.new), len(merged.resolved), sum(merged.unchanged.values())) == (1, 1, 299)


def test_pairs_numbered_differently_in_two_runs_match_when_read_from_files(tmp_path: Path) -> None:
    before = [("SMART_TAG", "LINK", f"s{i}") for i in range(200)] + [
        ("AI_TAG", "LINK", f"a{i}") for i in range(90)
    ]
    after = [("AI_TAG", "LINK", f"a{i}") for i in range(100)] + [
        ("SMART_TAG", "LINK", f"s{i}") for i in range(200)
    ]
    old, new = spilled(before, tmp_path, "before"), spilled(after, tmp_path, "after")
    assert old.pairs.code(("SMART_TAG", "LINK")) != new.pairs.code(("SMART_TAG", "LINK"))

    merged = diff_keys(old.recoded(new.pairs), new)

    assert (len(merged.new), len(merged.resolved), sum(merged.unchanged.values())) == (10, 0, 290)
    assert merged == diff_keys(in_memory(before).recoded(in_memory(after).pairs), in_memory(after))


def test_pairs_past_the_overflow_code_are_re_sorted_in_memory_with_the_same_result(tmp_path: Path) -> None:
    many = [(f"T{i}", "A", "x") for i in range(230)]  # 218 dynamic codes, then the shared 255
    old = spilled(many, tmp_path, "old")

    def current() -> SortedKeys:  # numbered the other way round: other pairs overflow into 255
        return in_memory(list(reversed(many)))

    now = current()
    streamed = diff_keys(old.recoded(now.pairs), now)
    again = current()
    assert streamed == diff_keys(in_memory(many).recoded(again.pairs), again)
