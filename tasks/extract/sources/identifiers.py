"""SQL identifiers from configuration (schema, table, column names): validated, then quoted.

Values never go into SQL text: they are bound parameters (`cursor.execute(sql, params)`).
Identifiers cannot be bound, so the few that come from configuration must pass
`sql_identifier` (a plain name) and are emitted with `quote_identifier` ("double quoted",
embedded quotes doubled), e.g.

    sql = f"select {quote_identifier(column)} from {quote_qualified(table)} where ts >= %s"
    cursor.execute(sql, (window_start,))
"""

import re

MAX_IDENTIFIER_LENGTH = 63
"""PostgreSQL truncates longer names (NAMEDATALEN - 1): refuse them instead."""

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class IdentifierError(ValueError):
    """A configured SQL name that is not a plain identifier."""


def sql_identifier(name: str, what: str = "identifier") -> str:
    """`name` if it is a plain SQL identifier (letters, digits, `_`, `$`; not starting with a
    digit; at most 63 characters), else IdentifierError naming `what` to fix."""
    if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name):
        raise IdentifierError(
            f"{what} {name!r} is not a plain SQL name: use letters, digits and _ only, "
            "starting with a letter or _"
        )
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise IdentifierError(
            f"{what} {name[:20]!r}... is {len(name)} characters; at most "
            f"{MAX_IDENTIFIER_LENGTH} are allowed"
        )
    return name


def quote_identifier(name: str, what: str = "identifier") -> str:
    """The validated name, double-quoted for SQL (so reserved words and case are kept)."""
    return '"' + sql_identifier(name, what).replace('"', '""') + '"'


def quote_qualified(name: str, what: str = "table") -> str:
    """`schema.table` (or `table`) with each part validated and quoted: `"schema"."table"`."""
    parts = name.split(".") if isinstance(name, str) else [name]
    if not 1 <= len(parts) <= 3:
        raise IdentifierError(f"{what} {name!r}: use table, schema.table or database.schema.table")
    return ".".join(quote_identifier(part, what) for part in parts)
