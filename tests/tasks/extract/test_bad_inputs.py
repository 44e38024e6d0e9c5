"""The bad-input corpus (tests/tasks/extract/bad_inputs/): every kind has one exact outcome.

Either the file cannot be events at all (a clear error naming the file and the line, record
or field), or its rows are read and each is valid, a duplicate, or quarantined with the
right reason. Nothing is lost: rows read = valid + quarantined + duplicates, per file.
All readable files are validated together in one GX run (one suite run keeps this fast).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from scoring.config import ScoringConfig, ValidationRules
from tasks.extract.files import EventFile, EventInputError, read_events
from tasks.quality.validate import Validated, validate

CORPUS = Path(__file__).parent / "bad_inputs"
RUN_DATE = date(2026, 3, 31)
NOW = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)  # future limit = NOW + 24 h = 2026-04-02T06:00Z
CONFIG = ScoringConfig(
    weights={"login": 1, "invite_sent": 10},
    validation=ValidationRules(event_types=["nps_response", "csat_response", "page_view"]),
)
FUTURE = "occurred_at is more than 24 h in the future"
# 2016-03-31 is 3652 days before the run date (leap days 2020, 2024): 8 more days back
PAST = "occurred_at is older than the 3660-day lookback (before 2016-03-23)"
NOT_ISO = "occurred_at is not a valid ISO 8601 timestamp"


@dataclass(frozen=True)
class Case:
    """The exact outcome of one corpus file."""

    error: str | None = None  # regex the EventInputError must match (after the file name)
    quarantined: dict[int, str] = field(default_factory=dict)  # source_row -> reason
    valid: int = 0
    duplicates: int = 0


CASES: dict[str, Case] = {
    "missing_column.csv": Case(error=r": missing required column\(s\) customer_id \(found: "),
    "extra_columns.csv": Case(valid=2),
    "wrong_types.ndjson": Case(quarantined={2: NOT_ISO, 3: "value is not a number"}, valid=2),
    "empty.csv": Case(),
    "header_only.csv": Case(),
    "bom.csv": Case(valid=1),
    "mixed_time_zones.csv": Case(valid=4),
    "naive_timestamps.csv": Case(valid=2),
    "far_future.csv": Case(quarantined={1: FUTURE, 3: FUTURE}, valid=1),
    "far_past.csv": Case(quarantined={1: PAST, 2: PAST}, valid=1),
    "nan_inf.csv": Case(
        quarantined={r: "value is not a finite number" for r in (1, 2, 3)}, valid=1
    ),
    "duplicate_ids.csv": Case(valid=1, duplicates=2),
    "gigantic_strings.csv": Case(
        quarantined={1: "customer_id is longer than 256 characters"}, valid=1
    ),
    "non_utf8.csv": Case(error=r": line 3 is not valid UTF-8 \(byte 0xe9 at offset 85\)"),
    "truncated.csv.gz": Case(error=r": cannot be read: Compressed file ended"),
    "quotes_newlines.csv": Case(valid=3),
    "broken_line.ndjson": Case(error=r": cannot be read as ndjson: line 2 is not valid JSON"),
    "other_schema.parquet": Case(valid=2),
    "missing_time.parquet": Case(error=r": missing required column\(s\) occurred_at"),
    "corrupt.parquet": Case(error=r": cannot be read as parquet"),
    "sql_strings.csv": Case(valid=2),
    "path_like_ids.csv": Case(valid=2),
    "control_characters.csv": Case(
        quarantined={
            1: "customer_id contains control characters",
            2: "event_type contains control characters",
        }
    ),
    "blank_ids.csv": Case(
        quarantined={
            1: "customer_id is missing",
            2: "event_id is missing",
            3: "event_type is missing",
        }
    ),
    "impossible_dates.csv": Case(quarantined={r: NOT_ISO for r in (1, 2, 3, 4)}),
    "survey_out_of_range.csv": Case(
        quarantined={
            1: "value of nps_response is outside [0, 10]",
            2: "value of nps_response is outside [0, 10]",
            3: "value of csat_response is outside [1, 5]",
            5: "scroll_pct is outside [0, 100]",
        },
        valid=2,
    ),
    "unknown_event_types.csv": Case(valid=2),
    "ragged_rows.csv": Case(
        error=r": cannot be read as csv: record 2 \(line 3\) has 5 fields, the header has 4"
    ),
    "short_rows.csv": Case(quarantined={1: "occurred_at is missing"}, valid=1),
    "nested_property.ndjson": Case(valid=1),
    "nested_id.ndjson": Case(error=r": record 2: field customer_id holds a JSON object or array"),
    "not_objects.ndjson": Case(
        error=r": cannot be read as ndjson: line 2 is a JSON list, not an object"
    ),
    "nan_literal.ndjson": Case(
        error=r": cannot be read as ndjson: line 1 is not valid JSON \(NaN is not JSON\)"
    ),
    "events.xlsx": Case(error=r": unsupported file type '\.xlsx'"),
    "repeated_header.csv": Case(quarantined={2: NOT_ISO}, valid=2),
    "numbers_as_text.csv": Case(quarantined={2: "value is not a number"}, valid=2),
}


def _path(name: str) -> str:
    return str(CORPUS / name)


@pytest.fixture(scope="module")
def validated() -> Validated:
    readable = [_path(name) for name, case in CASES.items() if case.error is None]
    return validate(read_events([EventFile.of(p) for p in readable]), CONFIG, RUN_DATE, NOW)


def test_the_corpus_has_every_file_and_at_least_25_kinds() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix != ".py" and p.is_file()}
    assert on_disk == set(CASES)
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_bad_input_has_its_exact_outcome(name: str, validated: Validated) -> None:
    case = CASES[name]
    if case.error is not None:
        with pytest.raises(EventInputError, match=rf"^{CORPUS / name}{case.error}"):
            read_events([EventFile.of(_path(name))])
        return
    quarantined = validated.quarantine.filter(pl.col("source_file") == _path(name))
    valid = validated.valid.filter(pl.col("source_file") == _path(name))
    assert dict(quarantined.select("source_row", "reason").iter_rows()) == case.quarantined
    assert valid.height == case.valid
    rows_read = read_events([EventFile.of(_path(name))]).height
    assert rows_read == valid.height + quarantined.height + case.duplicates  # nothing lost


def test_the_whole_corpus_is_accounted_for(validated: Validated) -> None:
    expected = [c for c in CASES.values() if c.error is None]
    assert validated.rows_valid == sum(c.valid for c in expected)
    assert validated.rows_quarantined == sum(len(c.quarantined) for c in expected)
    assert validated.duplicates_removed == sum(c.duplicates for c in expected) == 2
    assert validated.rows_read == (
        validated.rows_valid + validated.rows_quarantined + validated.duplicates_removed
    )
    # far over the 1 % budget, but 26 rows are fewer than error_budget_min_rows (100): the
    # budget only warns; enforced from the first row, a run on this corpus stops
    assert validated.gate_failures == []
    budget = next(o for o in validated.outcomes if "quarantined_share" in o.expectation)
    assert (budget.success, budget.severity) == (False, "warning")


def _valid(validated: Validated, name: str) -> pl.DataFrame:
    return validated.valid.filter(pl.col("source_file") == _path(name))


def test_time_zones_and_naive_times_become_utc(validated: Validated) -> None:
    assert _valid(validated, "mixed_time_zones.csv")["occurred_at"].to_list() == [
        datetime(2026, 3, 30, 8, tzinfo=UTC),
        datetime(2026, 3, 30, 10, tzinfo=UTC),
        datetime(2026, 3, 30, 15, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 8, tzinfo=UTC),
    ]
    assert (
        _valid(validated, "naive_timestamps.csv")["occurred_at"].to_list()
        == [datetime(2026, 3, 30, 10, tzinfo=UTC)] * 2
    )


def test_hostile_looking_ids_are_kept_verbatim_as_data(validated: Validated) -> None:
    assert _valid(validated, "sql_strings.csv")["customer_id"].to_list() == [
        "'; DROP TABLE events; --",
        "c1' OR '1'='1",
    ]
    assert _valid(validated, "path_like_ids.csv")["customer_id"].to_list() == [
        "../../etc/passwd",
        "C:\\Windows\\win.ini",
    ]


def test_quotes_newlines_bom_and_nested_properties_survive(validated: Validated) -> None:
    quoted = _valid(validated, "quotes_newlines.csv")
    assert quoted["comment"].to_list() == ['said "hi", then left', "line one\nline two", None]
    assert quoted["customer_id"].to_list() == ["c1", "c1", "c,2"]
    assert _valid(validated, "bom.csv")["event_id"].to_list() == ["bom1"]
    nested = _valid(validated, "nested_property.ndjson")["context"].to_list()
    assert nested == ['{"device": "ios", "tags": [1, 2]}']  # its JSON text, as written


def test_duplicates_keep_the_first_row_and_are_reported(validated: Validated) -> None:
    kept = _valid(validated, "duplicate_ids.csv")
    assert kept.select("event_id", "customer_id", "event_type").rows() == [("du1", "c1", "login")]
    repeated = next(o for o in validated.outcomes if "repeated_event_ids" in o.expectation)
    assert (repeated.success, repeated.severity, repeated.observed_value) == (False, "warning", "2")


def test_unknown_event_types_warn_and_are_kept(validated: Validated) -> None:
    assert validated.unknown_event_types == {"teleported": 1, "true": 1}
    assert "teleported" in _valid(validated, "unknown_event_types.csv")["event_type"].to_list()


def test_parquet_with_other_types_reads_ids_as_text(validated: Validated) -> None:
    other = _valid(validated, "other_schema.parquet")
    assert other.select("event_id", "customer_id", "occurred_at").rows() == [
        ("1", "7", datetime(2026, 3, 30, tzinfo=UTC)),
        ("2", "8", datetime(2026, 3, 31, tzinfo=UTC)),
    ]


def test_quarantine_rows_name_their_expectations(validated: Validated) -> None:
    rows = validated.quarantine.filter(
        pl.col("source_file") == _path("survey_out_of_range.csv")
    ).select("source_row", "failed_expectations", "value", "scroll_pct")
    assert rows.rows() == [
        (1, "expect_column_values_to_be_between(value__nps_response)", "11", None),
        (2, "expect_column_values_to_be_between(value__nps_response)", "-1", None),
        (3, "expect_column_values_to_be_between(value__csat_response)", "0", None),
        (5, "expect_column_values_to_be_between(scroll_pct__*)", None, "150"),
    ]
