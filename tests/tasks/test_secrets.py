"""tasks/secrets.py without a Prefect server: what `redact` masks in any text."""

import pytest

from flows.terminal import fail
from tasks.secrets import redact


def test_cli_error_messages_mask_the_password_of_any_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A connection URI typed where a path belongs was echoed whole by the error naming it."""
    assert fail("no event files match 'postgresql://alice:S3c@r3t@db:5432/x.csv'").exit_code == 2
    printed = capsys.readouterr().err
    assert "'postgresql://alice:**********@db:5432/x.csv'" in printed
    assert "S3c" not in printed


@pytest.mark.parametrize(
    "text",
    [
        "s3://key@bucket/events/",  # a user alone is no secret
        "http://127.0.0.1:8080/events",  # nor a port
        "alice:secret@host",  # no URL
        "postgresql://user:password@host:port/db",  # the messages' example stays readable
    ],
)
def test_text_without_a_url_password_is_left_as_it_is(text: str) -> None:
    assert redact(text) == text
