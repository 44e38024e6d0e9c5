"""The README is the front door: its commands and schema tables must stay true."""

import re
from pathlib import Path

from scoring.schema import readme_tables

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"


def test_schema_tables_are_generated_from_the_contract() -> None:
    section = re.search(r"<!-- schema:start -->\n(.*?)\n<!-- schema:end -->", README, re.S)
    assert section is not None
    assert section.group(1) == readme_tables()
