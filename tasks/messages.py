"""How the job's messages quote what they did not write (file names, values from the data): so
that an error line stays one line, and a terminal shows it as written."""


def one_line(text: str) -> str:
    """`text` as one line a terminal shows as written: each character it would not print as
    itself (a line end, an escape sequence, a bidi override, U+2028) as repr writes it (`\\n`,
    `\\x1b`, `\\u2028`), so a file name holding a newline cannot split an error line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def lines_as_written(text: str) -> str:
    """A message of several lines (the quality gate's report), each line as `one_line` writes
    it: its own line ends kept, any other control character escaped."""
    return "\n".join(one_line(line) for line in text.split("\n"))
