"""Reading event files: formats, compression, typing, provenance, clear errors."""

import glob
import gzip
import subprocess
import sys
import zlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest

from tasks.extract import files
from tasks.extract.files import (
    BLOCK_BYTES,
    OCCURRED_AT_TEXT,
    EventFile,
    EventInputError,
    event_files,
    glob_files,
    read_event_file,
    read_events,
)
from tasks.quality.validate import validate

CSV = (
    "event_id,customer_id,event_type,occurred_at,plan\n"
    "1,007,login,2026-03-31T10:00:00+02:00,pro\n"
    "2,008,login,2026-03-31 10:00:00,\n"
)


def _read(*paths: Path) -> pl.DataFrame:
    return read_events([EventFile.of(str(p)) for p in paths])


def test_csv_is_read_as_text_with_typed_time_and_provenance(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(CSV)
    frame = _read(path)
    assert frame["customer_id"].to_list() == ["007", "008"]  # ids are never numbers
    assert frame["occurred_at"].to_list() == [
        datetime(2026, 3, 31, 8, tzinfo=UTC),
        datetime(2026, 3, 31, 10, tzinfo=UTC),
    ]
    assert frame["plan"].to_list() == ["pro", None]  # extra columns are kept
    assert frame["source_row"].to_list() == [1, 2]
    assert frame["source_file"].to_list() == [str(path)] * 2
    assert frame[OCCURRED_AT_TEXT].to_list() == [
        "2026-03-31T10:00:00+02:00",
        "2026-03-31 10:00:00",
    ]


def test_ndjson_gzip_and_parquet_give_the_same_events(tmp_path: Path) -> None:
    ndjson = tmp_path / "b.ndjson.gz"
    ndjson.write_bytes(
        gzip.compress(
            b'{"event_id": 1, "customer_id": "c1", "event_type": "login",'
            b' "occurred_at": "2026-03-31T00:00:00Z"}\n'
        )
    )
    parquet = tmp_path / "c.parquet"
    pl.DataFrame(
        {
            "event_id": ["1"],
            "customer_id": ["c1"],
            "event_type": ["login"],
            "occurred_at": [datetime(2026, 3, 31)],  # naive timestamp: taken as UTC
        }
    ).write_parquet(parquet)
    columns = ["event_id", "customer_id", "event_type", "occurred_at"]
    from_ndjson = _read(ndjson).select(columns)
    from_parquet = _read(parquet).select(columns)
    assert from_ndjson.equals(from_parquet)
    assert from_ndjson.row(0) == ("1", "c1", "login", datetime(2026, 3, 31, tzinfo=UTC))


def test_several_files_get_a_global_row_id_in_file_order(tmp_path: Path) -> None:
    for name in ("x.csv", "y.csv"):
        (tmp_path / name).write_text(CSV)
    files = event_files(str(tmp_path / "*.csv"))
    frame = read_events(files)
    assert frame["_row"].to_list() == [0, 1, 2, 3]
    assert frame["source_row"].to_list() == [1, 2, 1, 2]
    assert [Path(f).name for f in frame["source_file"].unique(maintain_order=True)] == [
        "x.csv",
        "y.csv",
    ]


def test_a_directory_reads_every_file_in_it(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.csv").write_text(CSV)
    assert [Path(f.path).name for f in event_files(str(tmp_path))] == ["a.csv", "b.csv"]


def test_blank_ids_are_read_as_they_are(tmp_path: Path) -> None:
    """Validation calls them missing; the quarantine keeps them as they were."""
    path = tmp_path / "a.ndjson"
    path.write_text(
        '{"event_id": " ", "customer_id": "c", "event_type": "", '
        '"occurred_at": "2026-03-31T00:00:00Z"}\n'
    )
    frame = _read(path)
    assert frame["event_id"].to_list() == [" "]
    assert frame["event_type"].to_list() == [""]


def test_missing_column_error_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,user,event_type,occurred_at\n1,a,login,2026-03-31\n")
    with pytest.raises(
        EventInputError,
        match=r"events\.csv: missing required column\(s\) "
        r"customer_id \(found: event_id, user, event_type, occurred_at\)",
    ):
        _read(path)


def test_no_matching_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EventInputError, match="no event files match"):
        event_files(str(tmp_path / "*.csv"))


def test_unsupported_extension_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EventInputError, match=r"events\.xlsx: unsupported file type '\.xlsx'"):
        EventFile.of(str(tmp_path / "events.xlsx"))


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    path.write_bytes(gzip.compress(CSV.encode())[:20])
    with pytest.raises(EventInputError, match=r"events\.csv\.gz: cannot be read"):
        _read(path)


def test_integer_timestamps_in_parquet_are_rejected_with_the_type(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pl.DataFrame(
        {"event_id": ["1"], "customer_id": ["c"], "event_type": ["x"], "occurred_at": [1]}
    ).write_parquet(path)
    with pytest.raises(EventInputError, match=r"e\.parquet: column occurred_at: .* not Int64"):
        _read(path)


def test_empty_csv_gives_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert _read(path).height == 0


NUMERIC_IDS = [
    "9007199254740993",
    "9007199254740992",
    "1.5",
    "1.50",
    "1e3",
    "1E+3",
    "-0",
    "0",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "1e400",
]


@pytest.mark.parametrize("nested", [False, True], ids=["scalars", "with-an-object"])
def test_ndjson_numbers_keep_their_source_token(tmp_path: Path, nested: bool) -> None:
    """Ids are their text as written: no float in between (two ids never merge). A file with
    an object value is read token by token, one without it faster: the same texts."""
    extra = ', "context": {"amount": 1.50}' if nested else ""
    path = tmp_path / "ids.ndjson"
    path.write_text(
        "".join(
            f'{{"event_id": {token}, "customer_id": {token}, "event_type": "login", '
            f'"occurred_at": "2026-03-31T00:00:00Z", "value": {token}{extra}}}\n'
            for token in NUMERIC_IDS
        )
    )
    frame = _read(path)
    assert frame["event_id"].to_list() == NUMERIC_IDS
    assert frame["customer_id"].to_list() == NUMERIC_IDS
    assert frame["value"].to_list() == NUMERIC_IDS  # the quarantine keeps what was written
    if nested:
        assert frame["context"].to_list() == ['{"amount": 1.50}'] * len(NUMERIC_IDS)


def test_numeric_ndjson_ids_are_neither_merged_nor_lost(tmp_path: Path) -> None:
    """Issue 26 #1: 9007199254740993 and 9007199254740992 were one Float64, two events one."""
    path = tmp_path / "ids.ndjson"
    path.write_text(
        '{"event_id": 9007199254740993, "customer_id": 1234567890123456789, '
        '"event_type": "login", "occurred_at": "2026-03-31T00:00:00Z"}\n'
        '{"event_id": 9007199254740992, "customer_id": 1234567890123456788, '
        '"event_type": "login", "occurred_at": "2026-03-31T00:00:00Z"}\n'
        '{"event_id": 1.5, "customer_id": "c", "event_type": "login", '
        '"occurred_at": "2026-03-31T00:00:00Z"}\n'
    )
    validated = validate(_read(path), run_date=date(2026, 3, 31))
    assert (validated.rows_valid, validated.duplicates_removed) == (3, 0)
    assert validated.valid["customer_id"].to_list() == [
        "1234567890123456789",
        "1234567890123456788",
        "c",
    ]


def test_ndjson_strings_are_decoded_and_literals_kept(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_bytes(
        b'\xef\xbb\xbf{"event_id": "a\\u0041\\"\\\\", "customer_id": "caf\xc3\xa9", '
        b'"event_type": true, "occurred_at": null, "flag": false, "list": [1, "x"]}\r\n'
        b'{"event_id": "b", "customer_id": "", "event_type": "login", "occurred_at": ""}\r\n'
    )
    frame = _read(path)
    assert frame.select("event_id", "customer_id", "event_type", "flag", "list").rows() == [
        ('aA"\\', "café", "true", "false", '[1, "x"]'),
        ("b", "", "login", None, None),
    ]
    assert frame[OCCURRED_AT_TEXT].to_list() == [None, ""]


def test_a_symlink_loop_under_a_recursive_glob_reads_each_real_file_once(tmp_path: Path) -> None:
    """Issue 26 #8: `**` over `d/up -> ..` read the same file 41 times."""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    (root / "d").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "a.csv").write_text(CSV)
    (root / "d" / "b.csv").write_text(CSV)
    (elsewhere / "c.csv").write_text(CSV)
    (root / "d" / "up").symlink_to("..")  # loops back
    (root / "d" / "linked").symlink_to(elsewhere)  # does not loop: followed
    (root / "same.csv").symlink_to(root / "a.csv")  # a second name of a.csv
    files = event_files(str(root / "**" / "*.csv"))
    assert [Path(f.path).relative_to(root).as_posix() for f in files] == [
        "a.csv",
        "d/b.csv",
        "d/linked/c.csv",
    ]


@pytest.mark.parametrize(
    "pattern", ["**/*.csv", "**", "d/**/*.csv", "**/d/*.csv", "*/**/x?.csv", "**/.h*/*.csv"]
)
def test_recursive_globs_match_what_glob_matches(tmp_path: Path, pattern: str) -> None:
    for name in ("a.csv", "d/b.csv", "d/e/x1.csv", "d/e/x10.csv", ".hidden/c.csv", "d/.h/f.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(CSV)
    expected = [p for p in glob.glob(str(tmp_path / pattern), recursive=True) if Path(p).is_file()]
    assert sorted(glob_files(str(tmp_path / pattern))) == sorted(expected)


def _gzip_of_repeated(path: Path, header: bytes, row: bytes, size: int) -> None:
    """A gzip file that expands to about `size` bytes (made in blocks, never whole in memory)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    block = row * (max(size // 64, len(row)) // len(row))
    with path.open("wb") as stream:
        stream.write(compressor.compress(header))
        for _ in range(size // len(block)):
            stream.write(compressor.compress(block))
        stream.write(compressor.flush())


def test_a_compressed_file_beyond_the_limit_names_the_file_and_the_setting(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.csv.gz"
    _gzip_of_repeated(path, b"event_id,customer_id,event_type,occurred_at\n", CSV_ROW, 3_000_000)
    with pytest.raises(
        EventInputError,
        match=r"big\.csv\.gz: expands to more than 1,000,000 bytes once decompressed; "
        r"raise validation\.max_uncompressed_bytes if the file is genuine$",
    ):
        read_events([EventFile.of(str(path))], max_uncompressed_bytes=1_000_000)
    assert read_events([EventFile.of(str(path))], max_uncompressed_bytes=4_000_000).height > 0


def test_a_compression_bomb_is_never_read_whole(tmp_path: Path) -> None:
    """Issue 26 #7: a 1 MB .gz expanding to 1 GiB took 5.7 GB. Here 512 MiB (0.6 MB
    compressed) over a 100 MB limit: the reader stops after one block."""
    path = tmp_path / "bomb.csv.gz"
    _gzip_of_repeated(path, b"event_id,customer_id,event_type,occurred_at\n", CSV_ROW, 512 << 20)
    child = (
        "import resource, sys\n"
        "from tasks.extract.files import EventFile, EventInputError, read_events\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    read_events([EventFile.of(sys.argv[1])], max_uncompressed_bytes=100_000_000)\n"
        "except EventInputError as error:\n"
        "    print(error)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    message, grown_mb = result.stdout.splitlines()
    assert message.endswith(
        "expands to more than 100,000,000 bytes once decompressed; "
        "raise validation.max_uncompressed_bytes if the file is genuine"
    )
    assert int(grown_mb) < 3 * BLOCK_BYTES // 2**20, result.stdout  # a block or two, not 512 MiB


CSV_ROW = b"e1,c1,login,2026-03-30T10:00:00Z\n"
QUOTED_CSV = "event_id,customer_id,event_type,occurred_at,note\n" + "".join(
    f'q{i},c{i % 7},login,2026-03-30T10:00:00Z,"line one\nline ""{i}"", two"\n'
    f"r{i},c{i % 5},login,2026-03-30T11:00:00Z,plain\n"
    for i in range(40)
)


def test_reading_in_small_pieces_gives_the_same_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces are cut at record ends: never inside a quoted field (CSV) or a line (NDJSON)."""
    csv_path, ndjson_path = tmp_path / "q.csv", tmp_path / "q.ndjson"
    csv_path.write_text(QUOTED_CSV)
    whole = _read(csv_path)
    ndjson_path.write_text(
        "".join(
            f'{{"event_id": "n{i}", "customer_id": "c", "event_type": "login", '
            f'"occurred_at": "2026-03-30T10:00:00Z", "amount": {i}.50}}\n'
            for i in range(60)
        )
    )
    whole_ndjson = _read(ndjson_path)
    monkeypatch.setattr(files, "BLOCK_BYTES", 200)
    monkeypatch.setattr(files, "_DECODE_BYTES", 150)
    assert _read(csv_path).equals(whole)
    assert _read(ndjson_path).equals(whole_ndjson)
    assert whole.height == 80 and whole_ndjson.height == 60


def test_errors_in_later_pieces_name_the_right_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "BLOCK_BYTES", 200)
    bad_byte, ragged, long_line = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.ndjson"
    header = "event_id,customer_id,event_type,occurred_at\n"
    rows = [f"e{i},c1,login,2026-03-30T10:00:00Z\n" for i in range(30)]
    bad_byte.write_bytes((header + "".join(rows[:20])).encode() + b"x,caf\xe9,login,2026\n")
    ragged.write_text(header + "".join(rows[:20]) + "x,c1,login,2026-03-30,extra\n")
    long_line.write_text('{"event_id": "e1"}\n{"event_id": "' + "x" * 500 + '"}\n')
    with pytest.raises(EventInputError, match=r"a\.csv: line 22 is not valid UTF-8 \(byte 0xe9"):
        _read(bad_byte)
    with pytest.raises(EventInputError, match=r"record 21 \(line 22\) has 5 fields, the header"):
        _read(ragged)
    with pytest.raises(EventInputError, match=r"c\.ndjson: line 2: no record ends within 200 "):
        _read(long_line)


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("event_id,customer_id,event_type,occurred_at", ","),
        ("event_id;customer_id;event_type;occurred_at", ";"),
        ("event_id\tcustomer_id\tevent_type\toccurred_at", "\t"),
        ("event_id|customer_id|event_type|occurred_at", "|"),
        ('"event_id";"customer_id";"note, with a comma";event_type;occurred_at', ";"),
        ("a;b;c", ";"),  # no wanted name: the delimiter giving the most fields
        ("single", ","),
    ],
)
def test_the_delimiter_is_the_one_that_names_the_columns(header: str, delimiter: str) -> None:
    assert files.csv_delimiter(header) == delimiter


def test_a_spreadsheet_csv_with_bom_semicolons_and_decimal_commas_is_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = "event_id;customer_id;event_type;occurred_at;amount\r\n1;a;purchase;2026-03-30;1,5\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    frame = _read(path)
    assert frame.select("event_id", "customer_id", "amount").rows() == [("1", "a", "1,5")]
    assert files.header_columns(EventFile.of(str(path)))[:2] == ["event_id", "customer_id"]
    # the decimal comma is not a number: that row is quarantined, saying so
    assert validate(frame).quarantine["reason"].to_list() == ["amount is not a number"]


def test_header_columns_read_no_rows_and_name_what_is_wrong(tmp_path: Path) -> None:
    empty, ndjson = tmp_path / "empty.csv", tmp_path / "e.ndjson"
    empty.write_text("")
    ndjson.write_text('{"event_id": 1}\n')
    assert files.header_columns(EventFile.of(str(empty))) is None
    assert files.header_columns(EventFile.of(str(ndjson))) is None  # each line names its keys
    parquet = tmp_path / "e.parquet"
    pl.DataFrame({"event_id": ["1"], "occurred_at": ["x"]}).write_parquet(parquet)
    assert files.header_columns(EventFile.of(str(parquet))) == ["event_id", "occurred_at"]
    message = files.missing_columns_message(
        "e.csv", ["event_id", "customer", "event_type", "occurred_at"], files.EVENT_COLUMN_NAMES
    )
    assert message is not None and "rename the header's columns" in message
    assert "run it with --source" in message  # a mapping --events can use: a sources entry


def _events_parquet(path: Path, first: int, rows: int, **extra: list[object]) -> Path:
    pl.DataFrame(
        {
            "event_id": [f"e{first + i}" for i in range(rows)],
            "customer_id": [f"c{(first + i) % 7}" for i in range(rows)],
            "event_type": ["login"] * rows,
            "occurred_at": [datetime(2026, 3, 30, tzinfo=UTC)] * rows,
            **extra,
        }
    ).write_parquet(path, compression="uncompressed", statistics=False)
    return path


def test_parquet_files_read_by_one_query_equal_the_files_read_one_by_one(tmp_path: Path) -> None:
    paths = [
        _events_parquet(tmp_path / "a.parquet", 0, 3),
        _events_parquet(tmp_path / "b.parquet", 3, 2, page=["/x", None]),
        _events_parquet(tmp_path / "c.parquet", 5, 4, value=[1, 2, 3, 4]),
    ]
    one_by_one = pl.concat(
        [read_event_file(EventFile.of(str(p))) for p in paths], how="diagonal_relaxed"
    ).with_row_index("_row")
    assert _read(*paths).equals(one_by_one)
    assert _read(*paths)["source_row"].to_list() == [1, 2, 3, 1, 2, 1, 2, 3, 4]


def test_a_parquet_file_whose_pages_are_corrupt_is_named_among_others(tmp_path: Path) -> None:
    """Its footer reads, its data does not: the query over every file fails, and reading them
    one by one names the file."""
    good = _events_parquet(tmp_path / "a.parquet", 0, 3)
    bad = _events_parquet(tmp_path / "b.parquet", 3, 200)
    data = bytearray(bad.read_bytes())
    data[8:400] = b"\xff" * 392  # the first column's pages, past the magic bytes
    bad.write_bytes(bytes(data))
    with pytest.raises(EventInputError, match=r"b\.parquet: cannot be read as parquet"):
        _read(good, bad)


def test_extra_columns_of_other_types_in_other_files_are_read_as_text(tmp_path: Path) -> None:
    """A column that is a time in one file and a boolean in the next (or a duration next to
    text) ended the run with a Polars SchemaError (exit 1); a duration could not be quarantined."""
    base = {
        "event_id": ["e1"],
        "customer_id": ["a"],
        "event_type": ["login"],
        "occurred_at": [datetime(2026, 3, 30, 10, tzinfo=UTC)],
    }
    pl.DataFrame(base | {"x": [time(1)], "took": [timedelta(days=1, seconds=5)]}).write_parquet(
        tmp_path / "a.parquet"
    )
    pl.DataFrame(base | {"event_id": [""], "x": [True]}).write_parquet(tmp_path / "b.parquet")
    frame = read_events([EventFile.of(str(tmp_path / n)) for n in ("a.parquet", "b.parquet")])
    assert frame.select("x", "took").rows() == [("01:00:00", "P1DT5S"), ("true", None)]
    validated = validate(frame, run_date=date(2026, 3, 31), now=datetime(2026, 4, 1, tzinfo=UTC))
    assert validated.quarantine.select("event_id", "x", "reason").rows() == [
        ("", "true", "event_id is missing")
    ]


def test_an_extra_column_of_dates_in_one_file_and_numbers_in_another_keeps_each_value(
    tmp_path: Path,
) -> None:
    """The query over every Parquet file took Polars' supertype of Date and Int64: 2024-05-17
    became the day number 19860, silently (the text rule ran only when the query failed)."""
    paths = [
        _events_parquet(tmp_path / "a.parquet", 0, 1, signup=[date(2024, 5, 17)]),
        _events_parquet(tmp_path / "b.parquet", 1, 1, signup=[7]),
        _events_parquet(tmp_path / "c.parquet", 2, 1, signup=pl.Series([None], dtype=pl.Null)),
    ]
    assert _read(*paths)["signup"].to_list() == ["2024-05-17", "7", None]
    # a column all null in a file differs from none: the dates stay dates
    assert _read(paths[0], paths[2])["signup"].to_list() == [date(2024, 5, 17), None]
