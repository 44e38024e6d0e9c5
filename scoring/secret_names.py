"""Names of the places secrets are kept (an environment variable, a Prefect Secret block), as the
configuration gives them. A value that is no such name is refused without being quoted: it is
most likely the secret itself, put where its name belongs."""

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

ENVIRONMENT_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BLOCK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
"""Prefect block names are lowercase letters, digits and dashes; this accepts a little more."""


def secret_place_name(pattern: re.Pattern[str], place: str, kind: str) -> Callable[[str], str]:
    """A validator of the name of a `place` where a secret is kept: the name when `pattern`
    matches it whole, else ValueError (not quoting it; `kind` says what a name is made of)."""

    def checked(name: str) -> str:
        if not pattern.fullmatch(name):
            raise ValueError(
                f"must be the name of {place} ({kind}), not the secret itself: put the secret "
                f"in that {place.split()[-1]}"
            )
        return name

    return checked


environment_variable_name = secret_place_name(
    ENVIRONMENT_VARIABLE, "an environment variable", "letters, digits and _"
)
block_name = secret_place_name(BLOCK_NAME, "a Prefect Secret block", "letters, digits, - and _")


EnvironmentVariableName = Annotated[str, AfterValidator(environment_variable_name)]
BlockName = Annotated[str, AfterValidator(block_name)]
