"""Validation time versus scoring time on generated events.

    .venv/bin/python benchmarks/validation.py --events 5000000

Generates `--events` raw events (text ids, typed UTC times, a survey `value` column, 0.5 % bad
rows, 0.1 % duplicate ids) as the extractor would hand them over, then times, in the same
loop, the GX gate (`tasks.quality.validate.validate` as the daily flow runs it: with a staging
directory, so the suites and results are kept for the Data Docs) and the scoring
(`customer_scores`, `contributions`, `unweighted_event_types_from_totals`) on the valid rows.
The Polars row pass (`row_flags`: every row-level rule, and the numbers parsed) is also timed alone.
"""

import argparse
import shutil
import tempfile
import time
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from scoring.aggregates import unweighted_event_types_from_totals, window_totals
from scoring.config import ScoringConfig, ValidationRules
from scoring.engagement import contributions, customer_scores
from scoring.events import ROW_ID
from scoring.schema import SOURCE_FILE, SOURCE_ROW
from tasks.extract.files import OCCURRED_AT_TEXT
from tasks.quality.expectations import raw_event_rules, row_flags
from tasks.quality.validate import validate

RUN_DATE = date(2026, 3, 31)
TYPES = ["login", "page_view", "feature_used", "invite_sent", "nps_response", "email_open"]
CONFIG = ScoringConfig(
    weights={"login": 1, "page_view": 0.1, "feature_used": 2, "invite_sent": 8},
    validation=ValidationRules(event_types=["nps_response", "email_open"]),
)


def raw_events(rows: int, seed: int = 7) -> pl.DataFrame:
    """A raw event frame shaped like the extractor's output."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    span = 90 * 86_400 * 1_000_000
    event_ids = np.arange(rows)
    event_ids[rng.random(rows) < 0.001] = 0  # some duplicate ids
    bad = rng.random(rows) < 0.005
    customer = rng.integers(0, max(rows // 50, 1), rows)
    frame = pl.DataFrame(
        {
            "event_id": pl.Series(event_ids).cast(pl.String),
            "customer_id": pl.Series(customer).cast(pl.String),
            "event_type": pl.Series(rng.choice(TYPES, rows)),
            "occurred_at": pl.Series(start + rng.integers(0, span, rows)).cast(
                pl.Datetime("us", "UTC")
            ),
            "value": pl.Series(rng.integers(0, 11, rows)).cast(pl.String),
        }
    )
    return frame.with_columns(
        pl.when(pl.Series(bad)).then(None).otherwise(pl.col("customer_id")).alias("customer_id"),
        pl.lit(None, pl.String).alias(OCCURRED_AT_TEXT),
        pl.lit("events.parquet").alias(SOURCE_FILE),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(SOURCE_ROW),
    ).with_row_index(ROW_ID)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N (shared machines)")
    arguments = parser.parse_args()
    rows = arguments.events
    raw = raw_events(rows)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    rules = CONFIG.validation_rules
    staging = tempfile.mkdtemp(prefix="engage-bench-validation-")
    validate(raw.head(1000), CONFIG, RUN_DATE, now, staging=staging)  # warm-up: GX import

    row_pass = validation = scoring = validation_cpu = scoring_cpu = float("inf")
    for _ in range(arguments.repeat):
        started = time.perf_counter()
        row_flags(raw, rules, raw_event_rules(raw, rules, RUN_DATE, now)).collect()
        row_pass = min(row_pass, time.perf_counter() - started)

        started, cpu = time.perf_counter(), time.process_time()
        validated = validate(raw, CONFIG, RUN_DATE, now, staging=staging)
        validation = min(validation, time.perf_counter() - started)
        validation_cpu = min(validation_cpu, time.process_time() - cpu)

        events = validated.valid.lazy()
        started, cpu = time.perf_counter(), time.process_time()
        pl.collect_all(
            [
                customer_scores(events, CONFIG, RUN_DATE),
                contributions(events, CONFIG, RUN_DATE),
                unweighted_event_types_from_totals(window_totals(events, CONFIG, RUN_DATE), CONFIG),
            ]
        )
        scoring = min(scoring, time.perf_counter() - started)
        scoring_cpu = min(scoring_cpu, time.process_time() - cpu)
    shutil.rmtree(staging)

    print(
        f"events: {rows:,}  quarantined: {validated.rows_quarantined:,}  "
        f"duplicates: {validated.duplicates_removed:,}  (best of {arguments.repeat})"
    )
    # CPU seconds (all threads of this process) move less than wall time on a shared machine
    print("                           wall      CPU")
    print(f"  Polars row pass alone:  {row_pass:6.2f} s")
    print(f"validation (whole gate):  {validation:6.2f} s  {validation_cpu:6.2f} s")
    print(f"scoring:                  {scoring:6.2f} s  {scoring_cpu:6.2f} s")
    ratio, cpu_ratio = validation / scoring, validation_cpu / scoring_cpu
    print(f"validation / scoring:     {ratio:6.2f}    {cpu_ratio:6.2f}")


if __name__ == "__main__":
    main()
