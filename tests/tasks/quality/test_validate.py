"""The GX gate: which rows are quarantined, with which reasons, and nothing lost."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from scoring.config import ScoringConfig
from scoring.events import ROW_ID
from scoring.schema import SOURCE_FILE, SOURCE_ROW
from tasks.extract.files import EventFile, read_events, typed_event_frame
from tasks.quality import validate as validate_module
from tasks.quality.validate import (
    RowsLostError,
    Validated,
    escaped_counts,
    reason_counts,
    validate,
    validate_events,
    validate_events_in_memory,
)
from tasks.score.scores import score_customers

CSV = """event_id,customer_id,event_type,occurred_at,note
1,a,login,2026-03-31T10:00:00Z,ok
2,,login,2026-03-31T10:00:00Z,no customer
3,b,,2026-02-30T00:00:00Z,no type and impossible date
,c,login,2026-03-31T10:00:00Z,no id
4,d,login,,no time
5,e,login,2026-03-31T10:00:00Z,first
5,e,login,2026-03-30T10:00:00Z,duplicate id: first one wins
"""


def _validated(tmp_path: Path):
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    return validate(read_events([EventFile.of(str(path))]))


def test_quarantine_keeps_raw_fields_position_and_every_reason(tmp_path: Path) -> None:
    validated = _validated(tmp_path)
    rows = validated.quarantine.select(
        "source_row", "event_id", "customer_id", "occurred_at", "note", "reason"
    ).rows()
    assert rows == [
        (2, "2", None, "2026-03-31T10:00:00Z", "no customer", "customer_id is missing"),
        (
            3,
            "3",
            "b",
            "2026-02-30T00:00:00Z",
            "no type and impossible date",
            "event_type is missing; occurred_at is not a valid ISO 8601 timestamp",
        ),
        (4, None, "c", "2026-03-31T10:00:00Z", "no id", "event_id is missing"),
        (5, "4", "d", None, "no time", "occurred_at is missing"),
    ]


def test_a_sources_lists_objects_and_bytes_are_quarantined_as_text() -> None:
    """A source (PostgreSQL arrays, a files source's Parquet) hands them over as they are: the
    quarantine's cast to text ended the run with a Polars error (exit 1)."""
    source = pl.DataFrame(
        {
            "event_id": ["e1", ""],
            "customer_id": ["a", "a"],
            "event_type": ["login", "login"],
            "occurred_at": [datetime(2026, 3, 30, tzinfo=UTC)] * 2,
            "tags": [[1, 2], [3]],
            "context": [{"device": "ios"}, {"device": "web"}],
            "blob": [b"\x00", b"\xff"],
        }
    )
    raw = typed_event_frame(source, "postgres:warehouse:events").with_row_index(ROW_ID)
    validated = validate(raw, run_date=date(2026, 3, 31), now=datetime(2026, 4, 1, tzinfo=UTC))
    assert validated.quarantine.select("reason", "tags", "context", "blob").rows() == [
        ("event_id is missing", "[3]", '{"device":"web"}', "ff")
    ]


def test_nothing_is_lost_and_duplicates_count_once(tmp_path: Path) -> None:
    validated = _validated(tmp_path)
    assert validated.rows_read == 7
    assert validated.rows_quarantined == 4
    assert validated.duplicates_removed == 1
    assert validated.rows_valid == 2
    assert validated.valid.select("event_id", "note").rows() == [("1", "ok"), ("5", "first")]


def test_reason_counts_split_multiple_reasons(tmp_path: Path) -> None:
    counts = reason_counts(_validated(tmp_path).quarantine)
    assert counts == {
        "customer_id is missing": 1,
        "event_id is missing": 1,
        "event_type is missing": 1,
        "occurred_at is missing": 1,
        "occurred_at is not a valid ISO 8601 timestamp": 1,
    }


def test_all_valid_input_quarantines_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("event_id,customer_id,event_type,occurred_at\n1,a,login,2026-03-31\n")
    validated = validate(read_events([EventFile.of(str(path))]))
    assert validated.quarantine.height == 0
    assert validated.rows_valid == 1
    assert isinstance(validated.quarantine, pl.DataFrame)


def test_a_row_lost_in_validation_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each term of rows read = valid + quarantined + duplicates is counted on its own: a row
    lost on the way (here the typing of the valid events drops one) breaks the identity."""
    typed = validate_module.typed_properties
    monkeypatch.setattr(validate_module, "typed_properties", lambda events: typed(events).slice(1))
    with pytest.raises(
        RowsLostError,
        match=r"read 7, but valid 1 \+ quarantined 4 \+ duplicates 1 = 6; nothing was published",
    ):
        _validated(tmp_path)


RUN_DATE = date(2026, 3, 31)
NOW = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)


def _validated_csv(tmp_path: Path, rows: str, header: str = "", **kwargs: Any) -> Validated:
    path = tmp_path / "events.csv"
    path.write_text("event_id,customer_id,event_type,occurred_at" + header + "\n" + rows)
    return validate(read_events([EventFile.of(str(path))]), run_date=RUN_DATE, now=NOW, **kwargs)


def test_timestamps_outside_years_1_to_9999_are_quarantined_not_a_crash(tmp_path: Path) -> None:
    """Issue 26 #4: one event dated year 0 crashed the run (GX cannot serialize it for the
    Data Docs: validating with a staging directory keeps those results)."""
    validated = _validated_csv(
        tmp_path,
        "1,c,login,0000-01-01T00:00:00Z\n2,c,login,-0001-06-01\n3,c,login,+10000-01-01T00:00:00Z\n"
        "4,c,login,2026-03-30T10:00:00Z\n",
        staging=tmp_path / "staging",
    )
    out_of_range = "occurred_at is out of range (years 1 to 9999)"
    assert validated.quarantine.select("source_row", "occurred_at", "reason").rows() == [
        (1, "0000-01-01T00:00:00Z", out_of_range),
        (2, "-0001-06-01", out_of_range),
        (3, "+10000-01-01T00:00:00Z", out_of_range),
    ]
    assert validated.rows_valid == 1


def test_typed_timestamps_outside_years_1_to_9999_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pl.DataFrame(
        {
            "event_id": ["1", "2"],
            "customer_id": ["c", "c"],
            "event_type": ["login", "login"],
            "occurred_at": ["0000-01-01", "2026-03-30"],
        }
    ).with_columns(pl.col("occurred_at").str.to_datetime("%Y-%m-%d")).write_parquet(path)
    raw = read_events([EventFile.of(str(path))])
    validated = validate(raw, run_date=RUN_DATE, now=NOW, staging=tmp_path / "staging")
    assert validated.quarantine.select("occurred_at", "reason").rows() == [
        ("0000-01-01T00:00:00Z", "occurred_at is out of range (years 1 to 9999)")
    ]


def test_numbers_too_large_to_sum_exactly_are_quarantined(tmp_path: Path) -> None:
    """Issue 26 #4: one purchase of 1e30 overflowed Decimal(38, 9) in exact_sum (exit 1)."""
    validated = _validated_csv(
        tmp_path,
        "1,c,purchase,2026-03-30T10:00:00Z,1e30\n2,c,purchase,2026-03-30T10:00:00Z,-1e308\n"
        "3,c,purchase,2026-03-30T10:00:00Z,999999999999999\n"
        "4,c,purchase,2026-03-30T10:00:00Z,1e400\n",
        header=",amount",
    )
    beyond = "amount is beyond the representable range (±1e+15)"
    assert validated.quarantine.select("source_row", "amount", "reason").rows() == [
        (1, "1e30", beyond),
        (2, "-1e308", f"{beyond}; amount is below 0"),
        (4, "1e400", "amount is not a finite number"),
    ]
    assert validated.valid["amount"].to_list() == [999999999999999.0]


def test_the_quarantine_keeps_blank_ids_as_they_were(tmp_path: Path) -> None:
    """Issue 26 #9: white-space ids were stored as null in the quarantine."""
    validated = _validated_csv(
        tmp_path,
        '1,   ,login,2026-03-30T10:00:00Z\n" \t ",c,login,2026-03-30T10:00:00Z\n'
        "3,c,\u00a0,2026-03-30T10:00:00Z\n",
    )
    quarantined = validated.quarantine.select("event_id", "customer_id", "event_type", "reason")
    assert quarantined.rows() == [
        ("1", "   ", "login", "customer_id is missing"),
        (" \t ", "c", "login", "event_id is missing"),
        ("3", "c", "\u00a0", "event_type is missing"),
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("event_type", "login\r"),
        ("event_type", "log\tin"),
        ("event_id", "e\n1"),
        ("customer_id", "c\x85"),  # C1: next line
        ("customer_id", "c\u2028d"),  # line separator
        ("event_type", "\x1b[31mlogin"),
    ],
)
def test_control_characters_in_ids_and_event_types_are_quarantined(
    tmp_path: Path, column: str, value: str
) -> None:
    """Issue 26 #10: tab, newline and carriage return were accepted; `login\\r` became its own
    event type. The quarantine keeps the value as it was."""
    row = {"event_id": "e1", "customer_id": "c1", "event_type": "login"} | {column: value}
    path = tmp_path / "events.csv"
    pl.DataFrame([{**row, "occurred_at": "2026-03-30T10:00:00Z"}]).write_csv(path)
    validated = validate(read_events([EventFile.of(str(path))]), run_date=RUN_DATE, now=NOW)
    assert validated.quarantine.select(column, "reason").rows() == [
        (value, f"{column} contains control characters")
    ]


def test_messages_show_invisible_characters_escaped() -> None:
    assert escaped_counts({"login": 3, "sign\u200bup": 1, "a\u202eb": 1200}) == (
        "'login' (3), 'sign\\u200bup' (1), 'a\\u202eb' (1,200)"
    )


def test_the_valid_events_handed_in_memory_score_as_the_staged_ones(tmp_path: Path) -> None:
    """A run on event files keeps its valid events in memory (validate_events_in_memory):
    the same report (no valid_events work file written), the same rows less where each came
    from, and scores and contributions byte-identical to those scored from the staged file."""
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    config, run_date = ScoringConfig(weights={"login": 2}), date(2026, 3, 31)
    raw = read_events([EventFile.of(str(path))])
    staged = validate_events.fn(raw, str(tmp_path / "staged"), run_date, config)
    report, valid = validate_events_in_memory.fn(raw, str(tmp_path / "memory"), run_date, config)

    assert report.valid_path is None and staged.valid_path is not None
    assert not (tmp_path / "memory" / "valid_events.parquet").exists()
    assert {**report.__dict__, "valid_path": None, "quarantine_file": None} == {
        **staged.__dict__, "valid_path": None, "quarantine_file": None,
    }  # fmt: skip
    provenance = [ROW_ID, SOURCE_FILE, SOURCE_ROW]  # kept by the quarantine, not the valid
    assert not set(provenance) & set(valid.columns)
    assert_frame_equal(valid, pl.read_parquet(staged.valid_path).drop(provenance))
    from_file = score_customers.fn(staged.valid_path, config, run_date, str(tmp_path / "a"))
    in_memory = score_customers.fn(valid, config, run_date, str(tmp_path / "b"))
    assert from_file.customers == in_memory.customers == 2
    for table in ("scores_file", "contributions_file"):
        a, b = getattr(from_file, table), getattr(in_memory, table)
        assert Path(a).read_bytes() == Path(b).read_bytes()
