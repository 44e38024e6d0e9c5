"""The job's Prefect tasks: the I/O edge around the pure rules of scoring/.

Importing tasks sets Polars' default engine to the streaming engine (unless the process set
POLARS_ENGINE_AFFINITY itself): measured on the benchmark's 20 M events (make bench), it
scores in 0.8x the time of the in-memory engine and runs the full daily job in 0.9x, with the
same outputs (every output is sorted before it is written).
"""

import os

import polars as pl

if "POLARS_ENGINE_AFFINITY" not in os.environ:
    pl.Config.set_engine_affinity("streaming")
