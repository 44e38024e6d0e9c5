"""The options the commands share, typed and described (typer's Annotated aliases)."""

from pathlib import Path
from typing import Annotated

import typer

EVENTS_HELP = "Event file, directory or glob (CSV/NDJSON/Parquet)."
Events = Annotated[str, typer.Option(help=EVENTS_HELP)]
Output = Annotated[Path, typer.Option(help="Directory of the Parquet outputs.")]
Customers = Annotated[
    Path | None,
    typer.Option(
        help="Customers table (CSV/NDJSON/Parquet): customer_id, plan and attribute columns."
    ),
]
Debug = Annotated[
    bool, typer.Option("--debug", help="Print the traceback of an error, not just its line.")
]
AllowFuture = Annotated[
    bool,
    typer.Option(
        "--allow-future", help="Score a run date no time zone has reached yet (refused by default)."
    ),
]


BacktestCustomers = Annotated[
    Path | None,
    typer.Option(
        "--customers",
        help="Customers table (CSV/NDJSON/Parquet): customer_id + segment columns; an "
        "observed_until column (YYYY-MM-DD) ends each customer's observation.",
    ),
]
Labels = Annotated[
    Path | None,
    typer.Option(
        help="Churn labels (CSV/Parquet: customer_id, observation_date, churned 0/1, optional "
        "observed_until) instead of the silence rule; their dates from --from to --to are the "
        "observation dates.",
    ),
]
