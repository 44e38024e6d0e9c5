"""The scoring computation as one DuckDB SQL script: the benchmark's reference.

Same rules as scoring/ (no decay): every customer with an event by the end of the run date,
score = sum of round(weight x count, 9) over weighted types in the window, event_count,
last_event_at; contributions per customer and weighted type in the window.
"""

from datetime import date, timedelta

import duckdb
import pyarrow as pa


def _timestamp(day: date) -> str:
    return f"TIMESTAMPTZ '{day.isoformat()} 00:00:00+00'"


def duckdb_scores(
    files: list[str], weights: dict[str, float], run_date: date, window_days: int
) -> tuple[pa.Table, pa.Table]:
    """(scores, contributions) as Arrow tables, sorted like the project's outputs."""
    end = run_date + timedelta(days=1)
    start = end - timedelta(days=window_days)
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        "CREATE TEMP TABLE weights (event_type VARCHAR, weight DOUBLE)",
    )
    connection.executemany("INSERT INTO weights VALUES (?, ?)", list(weights.items()))
    connection.execute(
        f"""
        CREATE TEMP TABLE per_type AS
        SELECT customer_id, event_type,
               count(*) FILTER (WHERE occurred_at >= {_timestamp(start)}) AS n,
               max(occurred_at) AS last_event_at
        FROM read_parquet($files)
        WHERE occurred_at < {_timestamp(end)}
        GROUP BY ALL
        """,
        {"files": files},
    )
    contributions = connection.sql(
        """
        SELECT p.customer_id, p.event_type, p.n AS count, w.weight,
               round(w.weight * p.n, 9) AS contribution
        FROM per_type p JOIN weights w USING (event_type)
        WHERE p.n > 0
        ORDER BY p.customer_id, p.event_type
        """
    ).to_arrow_table()
    scores = connection.sql(
        """
        WITH parts AS (
            SELECT p.customer_id, p.n, p.last_event_at, round(w.weight * p.n, 9) AS part
            FROM per_type p LEFT JOIN weights w USING (event_type)
        )
        SELECT customer_id, round(coalesce(sum(part), 0), 9) AS score,
               sum(n)::BIGINT AS event_count, max(last_event_at) AS last_event_at
        FROM parts GROUP BY customer_id ORDER BY customer_id
        """
    ).to_arrow_table()
    connection.close()
    return scores, contributions


def duckdb_run(
    files: list[str], weights: dict[str, float], run_date: date, window_days: int, target: str
) -> int:
    """The end-to-end reference of `engage run`: one DuckDB query that reads the events,
    keeps one row per event_id, scores every customer seen by the run date (score,
    event_count, last_event_at) and writes the scores to Parquet; returns their rows."""
    end = run_date + timedelta(days=1)
    start = end - timedelta(days=window_days)
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE TEMP TABLE weights (event_type VARCHAR, weight DOUBLE)")
    connection.executemany("INSERT INTO weights VALUES (?, ?)", list(weights.items()))
    connection.execute(
        f"""
        COPY (
            WITH events AS (
                SELECT DISTINCT ON (event_id) customer_id, event_type, occurred_at
                FROM read_parquet($files)
                WHERE occurred_at < {_timestamp(end)}
            ),
            per_type AS (
                SELECT customer_id, event_type,
                       count(*) FILTER (WHERE occurred_at >= {_timestamp(start)}) AS n,
                       max(occurred_at) AS last_event_at
                FROM events GROUP BY ALL
            )
            SELECT p.customer_id, round(coalesce(sum(round(w.weight * p.n, 9)), 0), 9) AS score,
                   sum(p.n)::BIGINT AS event_count, max(p.last_event_at) AS last_event_at
            FROM per_type p LEFT JOIN weights w USING (event_type)
            GROUP BY p.customer_id ORDER BY p.customer_id
        ) TO '{target}' (FORMAT parquet)
        """,
        {"files": files},
    )
    rows = connection.sql(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()
    connection.close()
    return int(rows[0][0])
