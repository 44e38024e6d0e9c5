"""Every Polars read of a path in the job passes glob=False: Polars reads a path as a glob by
default, so a file or output directory whose name holds `[`, `?` or `*` read other files beside
it (silent duplicate rows) or none at all."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READERS = frozenset(
    {"read_parquet", "scan_parquet", "read_csv", "scan_csv", "read_ipc", "scan_ipc"}
    | {"read_ndjson", "scan_ndjson"}
)
# what these readers are given that is no path: bytes in memory, an open stream
IN_MEMORY = {"tasks/extract/files.py": {"data"}, "tasks/extract/customers.py": {"stream"}}


def globbed_reads(path: Path) -> list[str]:
    """The `pl.<reader>(...)` calls of a module that may read a path as a glob."""
    relative = path.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in READERS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "pl"
        ):
            continue
        if any(k.arg == "glob" for k in node.keywords):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Name) and first.id in IN_MEMORY.get(relative, set()):
            continue
        found.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_every_polars_read_of_a_path_turns_globbing_off() -> None:
    modules = [p for d in ("flows", "tasks", "scoring") for p in sorted((ROOT / d).rglob("*.py"))]
    assert modules
    assert [read for module in modules for read in globbed_reads(module)] == []
