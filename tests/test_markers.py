"""The markers come from the fixtures a test uses (tests/conftest.py), so they cannot drift:
every declared marker has its fixtures, those fixtures exist, no test sets a marker by hand,
and a flow run in a test without the `prefect_api` fixture (hence without `e2e`) fails."""

import re
import tomllib
from pathlib import Path

import pytest

from tests.conftest import MARKER_FIXTURES

TESTS = Path(__file__).parent


def test_every_declared_marker_is_derived_from_fixtures() -> None:
    pyproject = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())
    declared = pyproject["tool"]["pytest"]["ini_options"]["markers"]
    assert {marker.split(":")[0] for marker in declared} == set(MARKER_FIXTURES)


def test_the_fixtures_behind_the_markers_exist() -> None:
    conftests = "\n".join(path.read_text() for path in TESTS.rglob("conftest.py"))
    missing = [
        name
        for fixtures in MARKER_FIXTURES.values()
        for name in fixtures
        if not re.search(rf"@pytest\.fixture[^\n]*\ndef {name}\(", conftests)
    ]
    assert missing == []


def test_no_test_sets_a_derived_marker_by_hand() -> None:
    by_hand = re.compile(r"pytest\.mark\.(" + "|".join(MARKER_FIXTURES) + r")\b")
    offenders = [str(p) for p in sorted(TESTS.rglob("*.py")) if by_hand.search(p.read_text())]
    assert offenders == []


def test_a_flow_run_without_the_prefect_api_fixture_fails() -> None:
    from prefect import flow

    @flow
    def nothing() -> int:
        return 1

    with pytest.raises(ValueError, match="No Prefect API URL"):
        nothing()
