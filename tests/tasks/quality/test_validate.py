"""The GX gate: which rows are quarantined, with which reasons, and nothing lost."""

from pathlib import Path

import polars as pl
import pytest

from tasks.extract.files import EventFile, read_events
from tasks.quality import validate as validate_module
from tasks.quality.validate import RowsLostError, reason_counts, validate

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
