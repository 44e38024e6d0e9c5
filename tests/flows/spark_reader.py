"""Read every engage output table with Spark (local mode, one session) and print, as JSON,
each table's column types and row count. Run by tests/flows/test_reader_contract.py with the
interpreter of the Spark venv (.venv-spark): `python spark_reader.py`, then one JSON line on
stdin, `{"output": <dir>, "tables": [...]}`, once the tables exist (Spark starts meanwhile)."""

import json
import sys

from pyspark.sql import SparkSession


def main() -> None:
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("engage-reader-contract")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    request = json.loads(sys.stdin.readline())
    output, tables = request["output"], request["tables"]
    found = {}
    for table in tables:
        frame = spark.read.parquet(f"{output}/{table}")
        found[table] = {
            "types": dict(frame.dtypes),
            "rows": frame.count(),
            "first_customer": (
                first["customer_id"]
                if "customer_id" in frame.columns
                and (first := frame.orderBy("customer_id").first()) is not None
                else None
            ),
        }
        if "last_event_at" in frame.columns:  # the instant, as Spark shows it in UTC
            found[table]["last_event_at"] = sorted(
                row[0]
                for row in frame.selectExpr(
                    "date_format(last_event_at, \"yyyy-MM-dd'T'HH:mm:ss\")"
                ).collect()
            )
    spark.stop()
    print("SPARK-RESULT " + json.dumps(found, sort_keys=True))


if __name__ == "__main__":
    main()
