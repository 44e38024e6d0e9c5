"""The gate's rules one by one: volume band, error budget, numeric ranges, messages."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from scoring.config import NumericRange, RowCountBand, ScoringConfig, ValidationRules
from tasks.extract.files import EventFile, read_events
from tasks.quality.expectations import raw_event_rules, row_flags
from tasks.quality.validate import gate_message, row_count_band, validate

RUN_DATE = date(2026, 3, 31)
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _manifests(output: Path, rows: dict[str, int]) -> None:
    for day, rows_read in rows.items():
        directory = output / "runs" / f"run_date={day}"
        directory.mkdir(parents=True)
        (directory / "manifest.json").write_text(json.dumps({"counts": {"rows_read": rows_read}}))


def _raw(tmp_path: Path, body: str, header: str = "event_id,customer_id,event_type,occurred_at"):
    path = tmp_path / "events.csv"
    path.write_text(header + "\n" + body)
    return read_events([EventFile.of(str(path))])


def test_row_count_band_is_a_ratio_of_the_median_of_recent_earlier_runs(tmp_path: Path) -> None:
    _manifests(
        tmp_path,
        {
            "2026-03-26": 1000,  # too old: only the 3 latest earlier runs count
            "2026-03-27": 100,
            "2026-03-29": 120,
            "2026-03-30": 81,
            "2026-03-31": 5,  # the run date itself is not history (a rerun)
            "2026-04-01": 7,  # nor is anything later
        },
    )
    band = RowCountBand(recent_runs=3, min_history=3, min_ratio=0.5, max_ratio=2.0)
    # median(100, 120, 81) = 100 -> [floor(50), ceil(200)]
    assert row_count_band(tmp_path, RUN_DATE, band) == (50, 200)
    assert row_count_band(tmp_path, RUN_DATE, band.model_copy(update={"max_ratio": None})) == (
        50,
        None,
    )
    # 2026-03-30's history is 1000, 100, 120 (3 runs) but 03-29 has only 2 before it
    assert row_count_band(tmp_path, date(2026, 3, 29), band) is None
    assert row_count_band(None, RUN_DATE, band) is None
    assert row_count_band(tmp_path, RUN_DATE, None) is None


def test_a_drop_in_volume_fails_the_gate(tmp_path: Path) -> None:
    output = tmp_path / "out"
    _manifests(output, {"2026-03-28": 10, "2026-03-29": 12, "2026-03-30": 8})
    raw = _raw(tmp_path, "1,a,login,2026-03-30T10:00:00Z\n2,a,login,2026-03-30T11:00:00Z\n")
    validated = validate(raw, ScoringConfig(), RUN_DATE, NOW, output=output)
    # median 10 -> band [5, 30]; 2 rows read
    assert validated.gate_failures == ["2 rows read, outside the 5 to 30 expected from recent runs"]
    assert validated.rows_quarantined == 0  # a table-level failure quarantines no row


def test_the_error_budget_is_a_share_of_rows_read(tmp_path: Path) -> None:
    body = "".join(f"{i},c,login,2026-03-30T10:00:00Z\n" for i in range(1, 10)) + "10,,login,x\n"
    raw = _raw(tmp_path, body)
    at_limit = ScoringConfig(validation=ValidationRules(error_budget=0.1, error_budget_min_rows=0))
    below = ScoringConfig(validation=ValidationRules(error_budget=0.09, error_budget_min_rows=0))
    assert validate(raw, at_limit, RUN_DATE, NOW).gate_failures == []  # 1/10 is not above 10 %
    assert validate(raw, below, RUN_DATE, NOW).gate_failures == [
        "1 of 10 rows (10%) quarantined, above the 9% error budget"
    ]


def test_configured_ranges_apply_per_event_type_and_to_every_type(tmp_path: Path) -> None:
    rules = ValidationRules(
        ranges={
            "effort_response": {"value": NumericRange(min=1, max=7)},
            "*": {"amount": NumericRange(min=0)},
        }
    )
    raw = _raw(
        tmp_path,
        "1,c,effort_response,2026-03-30T10:00:00Z,7,\n"
        "2,c,effort_response,2026-03-30T10:00:00Z,8,\n"
        "3,c,nps_response,2026-03-30T10:00:00Z,11,\n"  # no nps range configured here
        "4,c,purchase,2026-03-30T10:00:00Z,,-0.01\n"
        "5,c,purchase,2026-03-30T10:00:00Z,,0\n",
        header="event_id,customer_id,event_type,occurred_at,value,amount",
    )
    validated = validate(raw, ScoringConfig(validation=rules), RUN_DATE, NOW)
    assert validated.quarantine.select("event_id", "reason").rows() == [
        ("2", "value of effort_response is outside [1, 7]"),
        ("4", "amount is below 0"),
    ]


def test_a_row_keeps_every_reason_and_expectation(tmp_path: Path) -> None:
    raw = _raw(tmp_path, ",,login,2099-01-01\n")
    validated = validate(raw, ScoringConfig(), RUN_DATE, NOW, run_id="run-42")
    row = validated.quarantine.row(0, named=True)
    assert row["reason"] == (
        "event_id is missing; customer_id is missing; occurred_at is more than 24 h in the future"
    )
    assert row["failed_expectations"] == (
        "expect_column_values_to_not_be_null(event_id__length); "
        "expect_column_values_to_not_be_null(customer_id__length); "
        "expect_column_values_to_be_between(occurred_at)"
    )
    assert row["run_id"] == "run-42"


def test_the_gate_message_names_reasons_bad_values_and_the_fix(tmp_path: Path) -> None:
    raw = _raw(
        tmp_path, "1,,login,2026-03-30\n2,,login,2026-03-30\n3,c,login,soon\n4,c,login,2026-03-30\n"
    )
    strict = ScoringConfig(validation=ValidationRules(error_budget_min_rows=0))
    validated = validate(raw, strict, RUN_DATE, NOW)
    message = gate_message(validated, RUN_DATE, Path("docs/index.html"), samples=2)
    path = tmp_path / "events.csv"
    assert message.splitlines() == [
        "data-quality gate failed for 2026-03-31: 3 of 4 rows (75%) quarantined, "
        "above the 1% error budget",
        "why rows were quarantined:",
        "  customer_id is missing: 2 row(s)",
        "  occurred_at is not a valid ISO 8601 timestamp: 1 row(s)",  # not "missing"
        "sample quarantined rows:",
        f"  {path} row 1: customer_id is missing",
        f"  {path} row 3: occurred_at is not a valid ISO 8601 timestamp (occurred_at='soon')",
        "Data Docs: docs/index.html",
        # 75 % failing: the fix is the feed, not a larger error budget
        "nothing was published (earlier outputs are untouched): fix the input (the reasons and "
        "rows above); write occurred_at in ISO 8601, e.g. 2026-03-31T10:00:00Z or 2026-03-31; "
        "with 75% of the rows failing, fix the feed before raising validation.error_budget "
        "(that would publish scores of the few rows left)",
    ]


def test_the_gate_report_quotes_a_file_name_holding_a_newline_on_its_own_line(
    tmp_path: Path,
) -> None:
    """A newline in the file name split the sample row's line of the report in two."""
    path = tmp_path / "ev\nents\u2028.csv"
    path.write_text("event_id,customer_id,event_type,occurred_at\n1,,login,2026-03-30\n")
    strict = ScoringConfig(validation=ValidationRules(error_budget_min_rows=0))
    validated = validate(read_events([EventFile.of(str(path))]), strict, RUN_DATE, NOW)
    lines = gate_message(validated, RUN_DATE, tmp_path / "out\n/docs.html").splitlines()
    assert f"  {tmp_path}/ev\\nents\\u2028.csv row 1: customer_id is missing" in lines
    assert f"Data Docs: {tmp_path}/out\\n/docs.html" in lines
    assert len(lines) == 7


def test_a_few_bad_rows_may_be_within_a_larger_budget_a_range_may_be_too_narrow(
    tmp_path: Path,
) -> None:
    body = "".join(f"{i},c,purchase,2026-03-30,{i - 1}\n" for i in range(1, 20))
    body += "20,c,purchase,2026-03-30,-1\n"
    raw = _raw(tmp_path, body, header="event_id,customer_id,event_type,occurred_at,amount")
    rules = ValidationRules(
        error_budget_min_rows=0, ranges={"purchase": {"amount": NumericRange(min=0)}}
    )
    validated = validate(raw, ScoringConfig(validation=rules), RUN_DATE, NOW)
    message = gate_message(validated, RUN_DATE, None)
    assert "  amount of purchase is below 0: 1 row(s)" in message.splitlines()
    assert message.splitlines()[-1].endswith(
        "widen validation.ranges for an event type whose values are valid; or raise "
        "validation.error_budget if this share of bad rows is normal"
    )


def test_a_run_whose_every_row_is_quarantined_stops_whatever_the_minimum_rows(
    tmp_path: Path,
) -> None:
    raw = _raw(tmp_path, "1,c,login,03/30/2026 10:00\n2,d,login,03/30/2026 11:00\n")
    validated = validate(raw, ScoringConfig(), RUN_DATE, NOW)  # 2 rows: under the 100 minimum
    assert validated.gate_failures == ["all 2 rows read were quarantined: nothing to score"]
    table = {o.reason: o for o in validated.outcomes if o.suite == "raw_events_table"}
    assert table["not every row read is quarantined"].observed_value == "100%"
    assert not table["quarantined rows within the 1% error budget"].success  # a warning
    assert "(occurred_at='03/30/2026 10:00')" in gate_message(validated, RUN_DATE, None)


def test_numbers_are_checked_only_where_the_column_exists(tmp_path: Path) -> None:
    raw = _raw(tmp_path, "1,c,login,2026-03-30\n")
    validated = validate(raw, ScoringConfig(), RUN_DATE, NOW)
    expectations = [o.expectation for o in validated.outcomes]
    assert not any("(value" in e for e in expectations)
    assert validated.rows_valid == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "value is not a number"),
        ("nan", "value is not a finite number"),
        ("-inf", "value is not a finite number"),
        ("10.5", "value of nps_response is outside [0, 10]"),
    ],
)
def test_survey_values_that_are_not_answers(tmp_path: Path, text: str, reason: str) -> None:
    raw = _raw(
        tmp_path,
        f"1,c,nps_response,2026-03-30,{text}\n",
        header="event_id,customer_id,event_type,occurred_at,value",
    )
    assert validate(raw, ScoringConfig(), RUN_DATE, NOW).quarantine["reason"].to_list() == [reason]


def test_unknown_types_are_not_checked_without_a_catalogue(tmp_path: Path) -> None:
    raw = _raw(tmp_path, "1,c,anything,2026-03-30\n")
    validated = validate(raw, ScoringConfig(), RUN_DATE, NOW)
    assert validated.unknown_event_types == {}
    assert {o.suite for o in validated.outcomes} == {"raw_events", "raw_events_table"}
    assert isinstance(validated.valid, pl.DataFrame)


def test_a_quarantined_row_does_not_shadow_a_later_valid_one(tmp_path: Path) -> None:
    raw = _raw(
        tmp_path,
        "1,,login,2026-03-30\n1,c,login,2026-03-30\n1,c,login,2026-03-29\n2,d,login,2026-03-30\n",
    )
    validated = validate(
        raw, ScoringConfig(validation=ValidationRules(error_budget=1)), RUN_DATE, NOW
    )
    assert validated.valid.select("event_id", "source_row").rows() == [("1", 2), ("2", 4)]
    assert (validated.rows_quarantined, validated.duplicates_removed) == (1, 1)


def test_control_characters_in_event_types_are_found_through_the_distinct_types(
    tmp_path: Path,
) -> None:
    raw = _raw(
        tmp_path,
        "1,a,login,2026-03-30\n2,b,log\x07in,2026-03-30\n3,c,,2026-03-30\n"
        "4,d,log\x07in,2026-03-30\n5,e,page_view,2026-03-30\n",
    )
    rules = ValidationRules()
    suite = raw_event_rules(raw, rules, RUN_DATE, NOW)
    distinct = raw.get_column("event_type").drop_nulls().unique()
    by_types = row_flags(raw, rules, suite, distinct).collect().get_column("suspect")
    by_rows = row_flags(raw, rules, suite).collect().get_column("suspect")
    # rows 2 and 4 hold BEL in their type, row 3 has none (missing, also suspect)
    assert by_types.to_list() == by_rows.to_list() == [False, True, True, True, False]
    clean = raw.filter(pl.col("event_id").is_in(["1", "5"]))
    no_bad_types = pl.Series(["login", "page_view"])
    assert not row_flags(clean, rules, suite, no_bad_types).collect()["suspect"].any()
