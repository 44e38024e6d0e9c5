"""The metric step reuses what the scoring step keeps: the same tables as recomputing it."""

from datetime import date
from pathlib import Path

import polars as pl

from demo.data import generate_demo_events
from flows.settings import bundled_config_path, load_config
from scoring.events import typed_properties
from tasks.score.metrics import compute_metrics
from tasks.score.scores import TOTALS_FILE, score_customers

RUN_DATE = date(2026, 3, 31)


def demo_files(directory: Path, customers: int) -> tuple[Path, Path]:
    """The seeded demo's events and customers table as Parquet files."""
    events, table = generate_demo_events(RUN_DATE, customers=customers)
    events_path, customers_path = directory / "events.parquet", directory / "customers.parquet"
    typed_properties(events.lazy()).collect().write_parquet(events_path)
    table.write_parquet(customers_path)
    return events_path, customers_path


def test_panel_from_the_kept_totals_equals_the_recomputed_panel(tmp_path: Path) -> None:
    events_path, customers_path = demo_files(tmp_path, customers=300)
    config = load_config(bundled_config_path())

    plain = score_customers.fn(str(events_path), config, RUN_DATE, str(tmp_path / "plain"))
    kept = score_customers.fn(
        str(events_path), config, RUN_DATE, str(tmp_path / "kept"), keep_totals=True
    )
    assert plain.totals_file is None
    assert kept.totals_file == str(tmp_path / "kept" / TOTALS_FILE)
    panel_totals = pl.read_ipc(kept.totals_file)
    scores = pl.read_parquet(kept.scores_file)
    # the scores' rows, with the panel's totals of the same group-by beside them
    assert panel_totals.select(scores.columns).equals(scores)
    assert {"score_previous", "installed_at", "purchases"} <= set(panel_totals.columns)
    for name in ("scores_file", "contributions_file"):  # keeping them changes no output
        assert pl.read_parquet(getattr(kept, name)).equals(pl.read_parquet(getattr(plain, name)))

    recomputed = compute_metrics.fn(
        str(events_path), config, RUN_DATE, str(tmp_path / "m1"), str(customers_path)
    )
    reused = compute_metrics.fn(
        str(events_path),
        config,
        RUN_DATE,
        str(tmp_path / "m2"),
        str(customers_path),
        kept.totals_file,
    )
    assert reused.customers == recomputed.customers == 300
    for name in ("customer_metrics_file", "segment_metrics_file"):
        want, got = (pl.read_parquet(getattr(r, name)) for r in (recomputed, reused))
        assert got.equals(want), name


def test_tier_shares_are_the_correctly_rounded_quotient(tmp_path: Path) -> None:
    events_path, customers_path = demo_files(tmp_path, customers=14000)
    config = load_config(bundled_config_path())
    scored = score_customers.fn(str(events_path), config, RUN_DATE, str(tmp_path), keep_totals=True)
    report = compute_metrics.fn(
        str(events_path), config, RUN_DATE, str(tmp_path), str(customers_path), scored.totals_file
    )
    shares = pl.read_parquet(report.segment_metrics_file).filter(metric="tier_share")
    in_tier = pl.read_parquet(report.customer_metrics_file).group_by("tier").len()
    whole = shares.filter(segment="all").join(in_tier, left_on="detail", right_on="tier")
    assert whole.height == 5
    # one division of the exact product, as in Python: not a multiplication by 1 / customers,
    # which Polars uses for a divisor it holds as one repeated value (the last bit differs)
    for row in whole.iter_rows(named=True):
        assert row["value"] == row["len"] * 100.0 / row["customers"], row
