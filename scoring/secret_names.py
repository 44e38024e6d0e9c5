"""Names of the places secrets are kept (an environment variable, a Prefect Secret block), as the
configuration gives them. A value that is no such name is refused without being quoted: it is
most likely the secret itself, put where its name belongs."""

import re
from typing import Annotated

from pydantic import AfterValidator

ENVIRONMENT_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BLOCK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
"""Prefect block names are lowercase letters, digits and dashes; this accepts a little more."""


def environment_variable_name(name: str) -> str:
    """`name` when it can name an environment variable (ValueError, not quoting it, if not)."""
    if not ENVIRONMENT_VARIABLE.fullmatch(name):
        raise ValueError(
            "must be the name of an environment variable (letters, digits and _), not the "
            "secret itself: put the secret in that variable"
        )
    return name


def block_name(name: str) -> str:
    """`name` when it can name a Prefect block (ValueError, not quoting it, if not)."""
    if not BLOCK_NAME.fullmatch(name):
        raise ValueError(
            "must be the name of a Prefect Secret block (letters, digits, - and _), not the "
            "secret itself: put the secret in that block"
        )
    return name


EnvironmentVariableName = Annotated[str, AfterValidator(environment_variable_name)]
BlockName = Annotated[str, AfterValidator(block_name)]
