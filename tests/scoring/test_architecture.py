"""What the import-linter contracts (pyproject.toml, `lint-imports` in `make test`) cannot
see: scoring/ loads no forbidden package even through a third-party one, imports nothing by
a name given at run time, and does no I/O."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCORING = ROOT / "scoring"
# `python -m scoring.schema` prints the docs' schema tables: the one module meant to output
MODULES = sorted(path for path in SCORING.rglob("*.py") if path.name != "__main__.py")


def forbidden_packages() -> list[str]:
    """The external packages the import-linter contract forbids scoring/ to import."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = settings["tool"]["importlinter"]["contracts"]
    (scoring,) = [
        c for c in contracts if c["type"] == "forbidden" and c["source_modules"] == ["scoring"]
    ]
    return scoring["forbidden_modules"]


IO_NAMES = frozenset(
    {"open", "read_text", "read_bytes", "write_text", "write_bytes", "urlopen", "getenv", "environ"}
)
IO_PREFIXES = ("read_", "scan_", "write_", "sink_")
"""Polars' readers, scanners and writers, and Python's files and environment."""


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def io_uses(source: str) -> set[str]:
    """The I/O calls (and environment reads) of a module's source."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        name = _called_name(node) if isinstance(node, ast.Call) else None
        if name and (name in IO_NAMES or name.startswith(IO_PREFIXES)):
            names.add(name)
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            names.add(node.attr)
    return names


def imports_by_name(source: str) -> set[str]:
    """Calls of __import__ or importlib.import_module: imports import-linter cannot follow."""
    return {
        name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and (name := _called_name(node)) in ("__import__", "import_module")
    }


def test_the_scoring_package_is_found() -> None:
    names = {path.relative_to(SCORING).as_posix() for path in MODULES}
    assert {"__init__.py", "schema/__init__.py", "config.py", "engagement.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(SCORING)))
def test_scoring_does_no_io_and_imports_only_by_statement(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert io_uses(source) == set()
    assert imports_by_name(source) == set()


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("pl.read_parquet(path)", {"read_parquet"}),
        ("frame.lazy().sink_parquet(path)", {"sink_parquet"}),
        ("pl.scan_csv(path).collect()", {"scan_csv"}),
        ("Path(p).read_text()", {"read_text"}),
        ("with open(p) as f:\n    pass", {"open"}),
        ("os.environ['X']", {"environ"}),
        ("os.getenv('X')", {"getenv"}),
        ("pl.col('a').sum().alias('read_count')", set()),
        ("frame.with_columns(opened=pl.lit(1))", set()),
    ],
)
def test_the_io_check_finds_io(source: str, found: set[str]) -> None:
    assert io_uses(source) == found


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("importlib.import_module('prefect')", {"import_module"}),
        ("__import__('pandas')", {"__import__"}),
        ("import polars as pl", set()),
    ],
)
def test_the_check_finds_imports_by_name(source: str, found: set[str]) -> None:
    assert imports_by_name(source) == found


def test_importing_scoring_loads_no_forbidden_package() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in MODULES
    ]
    forbidden = forbidden_packages()
    program = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in modules)
        + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
    assert "prefect" in forbidden and "pandas" in forbidden
