"""The incremental tasks' own rules: the watermark never moves back, only published runs
move it, and the manifest section lists the published dates a late event affects."""

from datetime import UTC, date, datetime
from pathlib import Path

from tasks.extract.incremental import (
    ExtractionPlan,
    SourceExtraction,
    advance_watermark,
    extraction_manifest,
)
from tasks.extract.sources.base import ExtractWindow
from tasks.extract.sources.state import StoreReport, read_watermark


def _plan(previous: datetime | None, end: datetime) -> ExtractionPlan:
    return ExtractionPlan("api", "http", previous, ExtractWindow(None, end))


def test_the_watermark_moves_forward_and_never_back(tmp_path: Path) -> None:
    april_2 = datetime(2026, 4, 2, tzinfo=UTC)
    advance_watermark.fn(_plan(None, april_2), str(tmp_path), date(2026, 4, 1))
    assert read_watermark(tmp_path, "api") == april_2
    # rerunning 2026-03-20 later keeps what had been read
    march_21 = datetime(2026, 3, 21, tzinfo=UTC)
    advance_watermark.fn(_plan(april_2, march_21), str(tmp_path), date(2026, 3, 20))
    assert read_watermark(tmp_path, "api") == april_2


def test_manifest_lists_the_published_dates_a_late_event_affects(tmp_path: Path) -> None:
    for day in ("2026-03-28", "2026-03-30", "2026-03-31"):
        (tmp_path / "scores" / f"run_date={day}").mkdir(parents=True)
        (tmp_path / "scores" / f"run_date={day}" / "part-0.parquet").touch()
    (tmp_path / "scores" / "run_date=2026-03-29").mkdir()  # no file: not published
    plan = ExtractionPlan(
        "api",
        "http",
        datetime(2026, 4, 1, tzinfo=UTC),
        ExtractWindow(datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)),
    )
    stored = StoreReport(
        events_added=2,
        events_already_stored=5,
        event_dates_added=["2026-03-30", "2026-04-01"],
        late_events=1,
        late_event_dates=["2026-03-30"],
        store_events=40,
    )
    extraction = SourceExtraction(plan, "raw.parquet", 7, "http:api")
    section = extraction_manifest(extraction, stored, str(tmp_path), date(2026, 4, 1))
    assert section["window_start"] == "2026-03-29T00:00:00+00:00"
    assert section["previous_watermark"] == "2026-04-01T00:00:00+00:00"
    assert section["rows_read"] == 7
    assert section["store"]["events_already_stored"] == 5
    assert section["late_events"] == {
        "count": 1,
        "event_dates": ["2026-03-30"],
        "affected_run_dates": ["2026-03-30", "2026-03-31"],
    }
