"""Files source: local globs with column mapping, and s3:// URIs on a real S3 API (moto)."""

import gzip
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tasks.extract.files import EventInputError
from tasks.extract.sources.base import ExtractWindow, SourceError
from tasks.extract.sources.config import FileSourceConfig
from tasks.extract.sources.files import FileSource

EVERYTHING = ExtractWindow(start=None, end=datetime(2026, 4, 1, tzinfo=UTC))
MAPPING = {"user_id": "customer_id", "name": "event_type", "ts": "occurred_at"}
CSV = "event_id,user_id,name,ts\n1,007,login,2026-03-30T10:00:00Z\n2,008,invite_sent,2026-03-31\n"
NDJSON = b'{"event_id": "3", "user_id": "009", "name": "login", "ts": "2026-03-29T00:00:00Z"}\n'


def _parquet(path: Path) -> None:
    pl.DataFrame(
        {"event_id": ["4"], "user_id": ["010"], "name": ["login"], "ts": [datetime(2026, 3, 1)]}
    ).write_parquet(path)


def test_local_glob_with_mapped_columns(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.ndjson.gz").write_bytes(gzip.compress(NDJSON))
    _parquet(tmp_path / "c.parquet")
    source = FileSource(FileSourceConfig(name="local", path=str(tmp_path / "*"), columns=MAPPING))
    frame = source.read(EVERYTHING).collect()
    assert frame.select("event_id", "customer_id", "event_type").rows() == [
        ("1", "007", "login"),
        ("2", "008", "invite_sent"),
        ("3", "009", "login"),
        ("4", "010", "login"),
    ]
    assert frame["occurred_at"].to_list()[1] == datetime(2026, 3, 31, tzinfo=UTC)
    assert frame["source_row"].to_list() == [1, 2, 1, 1]
    assert frame["_row"].to_list() == [0, 1, 2, 3]
    # only the window: since 2026-03-30
    window = ExtractWindow(datetime(2026, 3, 30, tzinfo=UTC), EVERYTHING.end)
    assert source.read(window).collect()["event_id"].to_list() == ["1", "2"]


OLD_FILE_READ = r"source 'local': .*old\.csv: column\(s\) user_id, name, ts of the column mapping"


def test_files_modified_before_the_window_are_not_read(tmp_path: Path) -> None:
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("not,an\nevent file at all\n")  # would fail if it were read
    new.write_text(CSV)
    march_1 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    os.utime(old, (march_1, march_1))
    config = FileSourceConfig(name="local", path=str(tmp_path / "*.csv"), columns=MAPPING)
    since_march_29 = ExtractWindow(datetime(2026, 3, 29, tzinfo=UTC), EVERYTHING.end)
    frame = FileSource(config).read(since_march_29).collect()
    assert frame["event_id"].to_list() == ["1", "2"]
    assert frame["source_file"].unique().to_list() == [str(new)]
    # a first run (no start) and `skip_old_files: false` read every file
    with pytest.raises(ValueError, match=OLD_FILE_READ):
        FileSource(config).read(EVERYTHING)
    every_file = config.model_copy(update={"skip_old_files": False})
    with pytest.raises(ValueError, match=OLD_FILE_READ):
        FileSource(every_file).read(since_march_29)


def test_missing_local_files_name_the_pattern(tmp_path: Path) -> None:
    source = FileSource(FileSourceConfig(name="local", path=str(tmp_path / "none*.csv")))
    with pytest.raises(ValueError, match="no event files match"):
        source.read(EVERYTHING)


def test_s3_objects_read_through_the_s3_api(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import s3fs

    filesystem = s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True)
    filesystem.mkdir("files-test")
    filesystem.pipe("files-test/daily/a.csv", CSV.encode())
    filesystem.pipe("files-test/daily/b.ndjson.gz", gzip.compress(NDJSON))
    _parquet(tmp_path / "c.parquet")
    filesystem.put(str(tmp_path / "c.parquet"), "files-test/daily/c.parquet")

    # endpoint from the environment
    monkeypatch.setenv("ENGAGE_S3_ENDPOINT_URL", s3_endpoint)
    config = FileSourceConfig(name="lake", path="s3://files-test/daily/", columns=MAPPING)
    frame = FileSource(config).read(EVERYTHING).collect()
    assert frame["event_id"].to_list() == ["1", "2", "3", "4"]
    assert frame["source_file"].unique(maintain_order=True).to_list() == [
        "s3://files-test/daily/a.csv",
        "s3://files-test/daily/b.ndjson.gz",
        "s3://files-test/daily/c.parquet",
    ]
    # a glob, endpoint from the configuration
    monkeypatch.delenv("ENGAGE_S3_ENDPOINT_URL")
    config = FileSourceConfig(
        name="lake", path="s3://files-test/daily/*.csv", columns=MAPPING, endpoint_url=s3_endpoint
    )
    assert FileSource(config).read(EVERYTHING).collect()["event_id"].to_list() == ["1", "2"]
    # objects uploaded before the window starts are listed but not downloaded
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    later = ExtractWindow(tomorrow, tomorrow + timedelta(days=1))
    source = FileSource(config)
    assert list(source.remote_files()) == ["s3://files-test/daily/a.csv"]
    assert source.read(later).collect().height == 0


def test_s3_errors_name_the_source_and_what_to_check(s3_endpoint: str) -> None:
    config = FileSourceConfig(
        name="lake", path="s3://no-such-bucket/x/*.csv", endpoint_url=s3_endpoint
    )
    with pytest.raises(SourceError, match=r"source 'lake': (cannot list|no event files match)"):
        FileSource(config).read(EVERYTHING)


def test_extra_columns_of_other_types_in_other_files_are_read_as_text(tmp_path: Path) -> None:
    """A time in one file and a boolean in the next ended the run with a SchemaError (exit 1)."""
    events = {
        "event_id": ["e1"],
        "customer_id": ["a"],
        "event_type": ["login"],
        "occurred_at": [datetime(2026, 3, 30, 10, tzinfo=UTC)],
    }
    took = timedelta(days=1, seconds=5)
    pl.DataFrame(events | {"x": [datetime(2026, 1, 1)], "took": [took]}).write_parquet(
        tmp_path / "a.parquet"
    )
    pl.DataFrame(events | {"x": [True], "took": ["soon"]}).write_parquet(tmp_path / "b.parquet")
    source = FileSource(FileSourceConfig(name="lake", path=str(tmp_path / "*.parquet")))
    frame = source.read(EVERYTHING).collect()
    assert frame.select("x", "took").rows() == [
        ("2026-01-01 00:00:00.000000", "P1DT5S"),
        ("true", "soon"),
    ]


def _binary_ids(path: Path) -> None:
    ids = pl.Series([b"c1", b"\xff\xfe"], dtype=pl.Binary)
    ts = [datetime(2026, 3, 30, tzinfo=UTC)] * 2
    pl.DataFrame(
        {"event_id": ["1", "2"], "user_id": ids, "name": ["login"] * 2, "ts": ts}
    ).write_parquet(path)


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        (
            "a.csv",
            lambda path: path.write_bytes(CSV.replace("007", "0\xff7").encode("latin-1")),
            r"a\.csv: line 2 is not valid UTF-8 \(byte 0xff at offset 28\); re-encode the file",
        ),
        (
            "b.ndjson",
            lambda path: path.write_bytes(NDJSON.replace(b"009", b"0\xff9")),
            r"b\.ndjson: line 1 is not valid UTF-8 \(byte 0xff at offset 31\); re-encode the file",
        ),
        (
            "c.parquet",
            _binary_ids,
            r"c\.parquet: column user_id \(mapped to customer_id\) is Binary, the event contract "
            r"says String: .*; cast it back at the source",
        ),
    ],
    ids=["csv", "ndjson", "parquet"],
)
def test_ids_that_are_not_utf8_are_one_error_naming_the_file(
    tmp_path: Path, name: str, write: Callable[[Path], object], message: str
) -> None:
    """Binary Parquet ids (bytes that are not UTF-8) ended `engage run --source` with a Polars
    InvalidOperationError traceback, exit 1; `--events` refused the same file by name."""
    write(tmp_path / name)
    source = FileSource(FileSourceConfig(name="local", path=str(tmp_path / name), columns=MAPPING))
    with pytest.raises(EventInputError, match=message):
        source.read(EVERYTHING)
