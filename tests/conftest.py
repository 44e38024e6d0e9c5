"""Shared fixtures: quiet, fast Prefect settings for every test process."""

import os
from collections.abc import Iterator

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


# Real servers shared by the source tests (tests/servers.py): started once per session.
import pytest


@pytest.fixture(scope="session")
def postgres_uri() -> Iterator[str]:
    """A real PostgreSQL server for the session (Debian binaries; `make test` installs them)."""
    from tests.servers import postgres_server

    with postgres_server() as uri:
        yield uri


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server for the session; dummy AWS credentials are set meanwhile."""
    from tests.servers import s3_server

    with s3_server() as endpoint:
        yield endpoint
