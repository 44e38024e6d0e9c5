"""The command line's terminal: its consoles, and how an expected error ends a command (one
line on stderr and an exit status; `--debug` adds the traceback)."""

import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

EXIT_INPUT, EXIT_QUALITY_GATE, EXIT_OUTPUT = 2, 3, 4
"""Exit statuses: a bad argument, input or configuration; the data-quality gate stopped the
run; the output cannot be written."""

console = Console(markup=False)
errors = Console(stderr=True, markup=False)
"""The consoles never read rich markup: what they print holds data (file names, customer names,
event types), and a `[/]` in it would end the command with a MarkupError."""


def use_this_terminal() -> None:
    """Make the consoles again for the terminal now on stdout and stderr (in a process forked by
    `engage server`'s runner: its consoles were made for the runner's log)."""
    global console, errors
    console, errors = Console(markup=False), Console(stderr=True, markup=False)


def fail(
    message: str, code: int = 2, label: str = "error", several_lines: bool = False
) -> typer.Exit:
    """Print `label: message` on stderr, secrets masked, as one line (tasks.messages.one_line:
    a newline in a file name it quotes is written `\\n`), or keeping the message's own lines if
    it has `several_lines` (the quality gate's report); end with exit `code`."""
    from tasks.messages import lines_as_written, one_line
    from tasks.secrets import redact

    text = (lines_as_written if several_lines else one_line)(redact(message))
    errors.print(
        Text.assemble((f"{label}:", "bold red"), " ", text), highlight=False, soft_wrap=True
    )
    return typer.Exit(code=code)


def subclass_names(kinds: tuple[type[Exception], ...]) -> set[str]:
    """The names of the kinds and of all their subclasses."""
    names, pending = set(), list(kinds)
    while pending:
        kind = pending.pop()
        names.add(kind.__name__)
        pending += kind.__subclasses__()
    return names


class ExpectedErrorFilter(logging.Filter):
    """Drops the console records Prefect writes for an expected error (the task's and the
    flow's traceback, their `Finished in state Failed(...)` lines): the command prints it as
    one line. Prefect's API handler still receives them (the run's logs keep the traceback).

    `also` counts other errors as expected (an OSError that is the output being full), and
    `also_text` the messages that mention them."""

    def __init__(
        self,
        kinds: tuple[type[Exception], ...],
        also: Callable[[BaseException], bool] | None = None,
        also_text: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.kinds, self.also, self.also_text = kinds, also, also_text
        self.markers = [f"{name}{end}" for name in subclass_names(kinds) for end in (":", "(")]

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.kinds) or (error and self.also and self.also(error)):
            return False
        if record.levelno < logging.ERROR:
            return True
        message = record.getMessage()
        if self.also_text is not None and self.also_text(message):
            return False
        return not any(marker in message for marker in self.markers)


class SummarizedFilter(logging.Filter):
    """Drops the console records the command's summary repeats (flows.daily.SUMMARIZED)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "engage_summary", False)


@contextmanager
def exit_on(
    *kinds: type[Exception],
    code: int = EXIT_INPUT,
    label: str = "error",
    debug: bool = False,
    quiet: logging.Filter | None = None,
    several_lines: bool = False,
) -> Iterator[None]:
    """An error of one of `kinds` ends the command: `label: message` on stderr, exit `code`
    (2: bad input or configuration; 3: the data-quality gate stopped the run; 4: the output
    cannot be written), with no traceback on the console unless `debug` (`quiet`: the filter
    of the console records of the error, by default those of `kinds`; `several_lines`: the
    message's own lines are kept, see `fail`)."""
    filters = [quiet or ExpectedErrorFilter(kinds), SummarizedFilter()] if not debug else []
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        for kind in filters:
            handler.addFilter(kind)
    try:
        yield
    except kinds as error:
        if debug:
            traceback.print_exception(error)
        raise fail(str(error), code, label, several_lines) from error
    finally:
        for handler in handlers:
            for kind in filters:
                handler.removeFilter(kind)


@contextmanager
def preflight_errors(debug: bool) -> Iterator[None]:
    """The pre-flight's errors as exit statuses: 2 for a bad argument or input, 4 for an output
    that cannot be written."""
    from flows.preflight import EXPECTED, NOT_WRITABLE

    with exit_on(*EXPECTED, debug=debug), exit_on(NOT_WRITABLE, code=EXIT_OUTPUT, debug=debug):
        yield


def gate_errors(kind: type[Exception], debug: bool) -> Any:
    """Exit 3 when the data-quality gate (QualityGateError) stops the run."""
    return exit_on(
        kind, code=EXIT_QUALITY_GATE, label="data-quality gate", debug=debug, several_lines=True
    )


def output_errors(output: Path, debug: bool) -> Any:
    """Exit 4 on OutputNotWritableError, with no console record of the error that caused it."""
    from tasks.publish.atomic import OutputNotWritableError, names_output_problem
    from tasks.publish.atomic import output_write_problem as problem

    quiet = ExpectedErrorFilter(
        (OutputNotWritableError,),
        also=lambda error: problem(error, output) is not None,
        also_text=names_output_problem,
    )
    return exit_on(OutputNotWritableError, code=EXIT_OUTPUT, debug=debug, quiet=quiet)
