"""scoring/ is pure Polars: no module in it imports prefect, great_expectations or pandas."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[2] / "scoring"
BANNED = frozenset({"prefect", "great_expectations", "pandas"})
MODULES = sorted(SCORING.rglob("*.py"))


def imported_modules(source: str) -> set[str]:
    """Every module an Import / ImportFrom (or a literal importlib / __import__ call) names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            names.add(node.args[0].value)
    return names


def banned_imports(source: str) -> set[str]:
    return {name for name in imported_modules(source) if name.split(".")[0] in BANNED}


def test_the_scoring_package_is_found() -> None:
    names = {path.name for path in MODULES}
    assert {"__init__.py", "schema.py", "config.py", "events.py", "engagement.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(SCORING)))
def test_no_scoring_module_imports_a_banned_package(path: Path) -> None:
    assert banned_imports(path.read_text(encoding="utf-8")) == set()


@pytest.mark.parametrize(
    "source",
    [
        "import prefect",
        "import pandas as pd",
        "import great_expectations.core",
        "import os, prefect.flows",
        "from prefect import flow",
        "from great_expectations.core import ExpectationSuite",
        "from pandas.api.types import is_string_dtype",
        "def load():\n    import pandas\n",
        "if TYPE_CHECKING:\n    from prefect import Flow\n",
        "try:\n    import pandas\nexcept ImportError:\n    pass\n",
        "import importlib\nimportlib.import_module('prefect')",
        "__import__('pandas')",
    ],
)
def test_the_check_catches_banned_imports(source: str) -> None:
    assert banned_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "import polars as pl",
        "from scoring.config import ScoringConfig",
        "from . import schema",
        "import pandas_like_but_not_pandas",
        "import prefecture",
        "text = 'import pandas'",
    ],
)
def test_the_check_allows_other_imports(source: str) -> None:
    assert banned_imports(source) == set()


def test_importing_scoring_loads_none_of_them() -> None:
    modules = [
        ".".join(path.relative_to(SCORING.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in MODULES
    ]
    program = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in modules)
        + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(BANNED)!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
