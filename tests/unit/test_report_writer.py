"""ReportWriter: records.jsonl.gz keeps exactly what DX sent, report.csv is safe to open, counts add up."""

import csv
import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from damdrift.errors import UnexpectedResponse
from damdrift.report.ingest import writer as writer_module
from damdrift.report.ingest.writer import CSV_FILENAME, RECORDS_FILENAME, ReportFiles, ReportWriter
from damdrift.report.records.fields import CSV_COLUMNS, MAX_NAME_CHARS, MAX_PAIRS

TYPES = ["COLLECTION", "MEDIA_ITEM", "RENDITION"]
ACTIONS = ["CREATE", "UPDATE", "DELETE"]


def make_record(i: int, **fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": f"log-{i}",
        "subscriberId": "sub-1",
        "recordType": TYPES[i % 3],
        "recordAction": ACTIONS[i % 2],
        "recordId": f"rec-{i}",
        "created": "2024-05-01T10:00:00.000Z",
        "updated": "2024-05-01T10:00:00.000Z",
    }
    raw.update(fields)
    return raw


def write(tmp_path: Path, records: list[dict[str, Any]]) -> ReportFiles:
    with ReportWriter(tmp_path) as writer:
        writer.add_many(records)
    return writer.result


def jsonl(files: ReportFiles) -> list[Any]:
    with gzip.open(files.records_path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def csv_rows(files: ReportFiles) -> list[list[str]]:
    with files.csv_path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_records_file_round_trips_to_exactly_the_input(tmp_path: Path) -> None:
    records = [make_record(i, extra={"nested": [1, 2.5, None, True]}) for i in range(3000)]
    files = write(tmp_path, records)
    assert files.records_path == tmp_path / RECORDS_FILENAME
    assert jsonl(files) == records


def test_records_file_is_compact_json_one_record_per_line(tmp_path: Path) -> None:
    files = write(tmp_path, [make_record(0), make_record(1)])
    lines = gzip.decompress(files.records_path.read_bytes()).decode("utf-8").split("\n")
    assert lines[-1] == ""  # ends with a newline
    assert lines[0] == json.dumps(make_record(0), separators=(",", ":"), ensure_ascii=False)
    assert len(lines) == 3


def test_the_line_encoder_gives_the_same_text_as_json_dumps() -> None:
    value = {"a": [1, -2.5, 1e300, None, True, False], "ü": 'é😀"\\\n\t\u2028', "": {"x": []}}
    assert writer_module._compact_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_csv_has_the_header_then_one_row_per_record(tmp_path: Path) -> None:
    files = write(tmp_path, [make_record(i) for i in range(5)])
    rows = csv_rows(files)
    assert files.csv_path == tmp_path / CSV_FILENAME
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == ["sub-1", "COLLECTION", "CREATE", "rec-0", "2024-05-01T10:00:00.000Z"]
    assert len(rows) == 6


def test_both_field_spellings_reach_the_csv(tmp_path: Path) -> None:
    raw = {"type": "KEYWORD", "action": "DELETE", "subscriber_id": "s-2", "record_id": "r-7", "created": "c"}
    files = write(tmp_path, [raw])
    assert csv_rows(files)[1] == ["s-2", "KEYWORD", "DELETE", "r-7", "c"]
    assert files.counts == {"KEYWORD": {"DELETE": 1}}


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_writer_neutralises_csv_formula_cells(tmp_path: Path, start: str) -> None:
    payload = start + 'HYPERLINK("http://evil","x")'
    raw = make_record(0, recordId=payload, subscriberId=payload, created=payload, recordType=payload)
    files = write(tmp_path, [raw])
    row = csv_rows(files)[1]
    assert row == ["'" + payload, "'" + payload, "CREATE", "'" + payload, "'" + payload]
    assert jsonl(files) == [raw]  # the evidence is untouched
    assert files.counts == {payload: {"CREATE": 1}}


def test_cells_that_merely_contain_formula_characters_are_left_alone(tmp_path: Path) -> None:
    files = write(tmp_path, [make_record(0, recordId="a=b+c-d@e", created="2024-05-01")])
    assert csv_rows(files)[1][3:] == ["a=b+c-d@e", "2024-05-01"]


HOSTILE = [
    "<script>alert('x')</script>",
    'He said "hi", then left',
    "line one\nline two\r\nline three\rend",
    "x" * 10_000,
    "emoji 😀 and \U0001d54f and 中文",  # non-BMP: face, double-struck X
    "comma,separated,values",
    "trailing space ",
    "tab\tinside",
    "nul\x00byte",
    "",
    '"',
    "'quoted'",
]


def test_hostile_values_round_trip_through_csv(tmp_path: Path) -> None:
    records = [make_record(i, recordId=value, subscriberId=value[::-1]) for i, value in enumerate(HOSTILE)]
    rows = csv_rows(write(tmp_path, records))[1:]
    assert [row[3] for row in rows] == HOSTILE
    assert [row[0] for row in rows] == [value[::-1] for value in HOSTILE]
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)


def test_fast_rows_are_byte_identical_to_what_the_csv_module_writes(tmp_path: Path) -> None:
    rng = random.Random(7)
    alphabet = ["a", "Z", "0", ",", '"', "\n", "\r", "=", "+", "-", "@", "\t", " ", "'", "é", "😀", ";"]
    records = [
        make_record(
            i,
            subscriberId="".join(rng.choices(alphabet, k=rng.randint(0, 6))),
            recordId="".join(rng.choices(alphabet, k=rng.randint(0, 6))),
            created=rng.choice([None, 5, -1.5, "", "=1+1", "2024"]),
        )
        for i in range(3000)
    ]
    files = write(tmp_path, records)

    expected = io.StringIO(newline="")
    reference = csv.writer(expected)
    reference.writerow(CSV_COLUMNS)
    for raw in records:
        cells = [raw["subscriberId"], raw["recordType"], raw["recordAction"], raw["recordId"], raw["created"]]
        reference.writerow([writer_module._cell(value) for value in cells])
    assert files.csv_path.read_bytes() == expected.getvalue().encode("utf-8")


def test_non_string_values_become_json_text_and_null_an_empty_cell(tmp_path: Path) -> None:
    raw = make_record(0, subscriberId=42, recordId={"k": [1, True]}, created=None)
    raw_bool = make_record(1, subscriberId=False, recordId=[1, "a"], created=-3)
    rows = csv_rows(write(tmp_path, [raw, raw_bool]))
    assert rows[1] == ["42", "COLLECTION", "CREATE", '{"k":[1,true]}', ""]
    assert rows[2] == ["false", "MEDIA_ITEM", "UPDATE", '[1,"a"]', "'-3"]


def test_lone_surrogates_are_kept_exactly_in_the_records_and_shown_as_fffd_in_the_csv(tmp_path: Path) -> None:
    # json.loads('"\\ud800"') gives a lone surrogate: DX sent an escape that is not valid Unicode.
    broken = json.loads('"bad \\ud800 and \\udcff end"')
    files = write(tmp_path, [make_record(0, recordId=broken, **{"key\udc80": broken})])
    assert jsonl(files)[0]["recordId"] == broken
    assert jsonl(files)[0]["key\udc80"] == broken
    assert csv_rows(files)[1][3] == "bad \ufffd and \ufffd end"
    assert "\\ud800" in gzip.decompress(files.records_path.read_bytes()).decode("utf-8")  # valid UTF-8
    files.csv_path.read_bytes().decode("utf-8")  # valid UTF-8 too


def test_counts_by_type_then_action_and_total(tmp_path: Path) -> None:
    files = write(tmp_path, [make_record(i) for i in range(12)])
    assert files.total == 12
    assert files.counts == {
        "COLLECTION": {"CREATE": 2, "UPDATE": 2},
        "MEDIA_ITEM": {"UPDATE": 2, "CREATE": 2},
        "RENDITION": {"CREATE": 2, "UPDATE": 2},
    }
    assert files.records_bytes == files.records_path.stat().st_size > 0
    assert files.csv_bytes == files.csv_path.stat().st_size > 0


def test_add_and_add_many_count_the_same_way(tmp_path: Path) -> None:
    with ReportWriter(tmp_path) as writer:
        writer.add(make_record(0))
        assert writer.add_many(make_record(i) for i in range(1, 4)) == 3
        assert writer.total == 4
        assert writer.counts["COLLECTION"] == {"CREATE": 1, "UPDATE": 1}
    assert writer.result.total == 4


def test_an_empty_report_has_the_header_only(tmp_path: Path) -> None:
    files = write(tmp_path, [])
    assert (files.total, files.counts) == (0, {})
    assert jsonl(files) == []
    assert csv_rows(files) == [list(CSV_COLUMNS)]


def test_partial_files_are_kept_after_an_exception_inside_the_with(tmp_path: Path) -> None:
    def download() -> Any:
        for i in range(2500):
            yield make_record(i)
        raise ConnectionError("DX went away")

    with pytest.raises(ConnectionError), ReportWriter(tmp_path) as writer:
        writer.add_many(download())
    files = writer.result
    assert files.total == 2500
    assert jsonl(files) == [make_record(i) for i in range(2500)]
    assert len(csv_rows(files)) == 2501


def test_a_record_without_a_type_stops_the_writer_and_is_not_written(tmp_path: Path) -> None:
    records = [make_record(0), make_record(1), {"recordAction": "CREATE", "recordId": "r"}, make_record(3)]
    with pytest.raises(UnexpectedResponse, match="recordType"), ReportWriter(tmp_path) as writer:
        writer.add_many(records)
    files = writer.result
    assert files.total == 2
    assert jsonl(files) == records[:2]
    assert len(csv_rows(files)) == 3


def test_close_is_idempotent_and_the_writer_refuses_records_afterwards(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path)
    writer.add(make_record(0))
    first = writer.close()
    assert writer.close() is first is writer.result
    with pytest.raises(RuntimeError, match="closed"):
        writer.add(make_record(1))


def test_the_result_is_not_available_while_the_writer_is_open(tmp_path: Path) -> None:
    with ReportWriter(tmp_path) as writer, pytest.raises(RuntimeError, match="still open"):
        _ = writer.result


def test_the_directory_is_created_when_missing(tmp_path: Path) -> None:
    files = write(tmp_path / "a" / "b", [make_record(0)])
    assert files.records_path.parent == tmp_path / "a" / "b"


# -- bounded: type/action values and distinct (type, action) pairs (issue 23, item 8) ----------------


@pytest.mark.parametrize("field", ["recordType", "recordAction", "type", "action"])
def test_a_type_or_action_longer_than_the_bound_is_refused_before_it_is_written(
    tmp_path: Path, field: str
) -> None:
    long_value = "X" * (MAX_NAME_CHARS + 1)
    hostile = make_record(5)
    if field in ("type", "action"):  # the table's column spelling
        hostile.pop("recordType" if field == "type" else "recordAction")
    hostile[field] = long_value
    writer = ReportWriter(tmp_path)
    with pytest.raises(UnexpectedResponse) as caught:
        writer.add_many([*(make_record(i) for i in range(5)), hostile, make_record(6)])
    files = writer.close()
    message = str(caught.value)
    name = "recordAction" if "ction" in field else "recordType"
    assert f"a {name} of {MAX_NAME_CHARS + 1} characters, more than {MAX_NAME_CHARS}" in message
    assert long_value not in message
    assert files.total == 5 and len(jsonl(files)) == 5 and len(csv_rows(files)) == 6


def test_more_distinct_type_action_pairs_than_the_bound_are_refused_keeping_the_records_before(
    tmp_path: Path,
) -> None:
    records = [make_record(i, recordType=f"TYPE_{i}") for i in range(MAX_PAIRS + 10)]
    writer = ReportWriter(tmp_path)
    with pytest.raises(UnexpectedResponse, match=f"more than {MAX_PAIRS} distinct"):
        writer.add_many(records)
    files = writer.close()
    assert files.total == MAX_PAIRS and len(jsonl(files)) == MAX_PAIRS
    assert sum(len(actions) for actions in files.counts.values()) == MAX_PAIRS


def test_the_pair_bound_counts_the_pairs_of_earlier_parts_too(tmp_path: Path) -> None:
    seen: set[tuple[str, str]] = set()
    with ReportWriter(tmp_path / "part-1", pairs_seen=seen) as first:
        first.add_many(make_record(i, recordType=f"TYPE_{i}") for i in range(MAX_PAIRS - 1))
    with ReportWriter(tmp_path / "part-2", pairs_seen=seen) as second:
        second.add_many([make_record(0, recordType="TYPE_0"), make_record(1, recordType="NEW")])
        with pytest.raises(UnexpectedResponse, match="distinct"):
            second.add(make_record(2, recordType="ONE_TOO_MANY"))
    assert second.result.total == 2


def test_many_records_of_few_pairs_are_never_refused(tmp_path: Path) -> None:
    files = write(tmp_path, [make_record(i) for i in range(5000)])
    assert files.total == 5000
