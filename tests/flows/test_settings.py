"""Reading the configuration file: whatever its bytes, a ScoringConfig or one ConfigFileError
naming the file and what to fix (the command line prints it and exits 2)."""

import re
from pathlib import Path

import pytest

from flows.preflight import EXPECTED, checked_config
from flows.settings import ConfigFileError, SettingsError, load_config, load_source


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\xff\xfew\x00e\x00",
            "not UTF-8 text (byte 0xff at offset 0); save the configuration as",
        ),
        ("weights: {login: 1}\n".encode("utf-16"), "not UTF-8 text (byte 0xff at offset 0)"),
        (b"weights: {login: \xe9}\n", "not UTF-8 text (byte 0xe9 at offset 17)"),
        (
            b"weights: {login: 1}\nwindow_days: 7\nweights: {login: 2}\n",
            "not valid YAML: key 'weights' repeated (first at line 1) at line 3, column 1",
        ),
        (
            b"weights: {login: 1, login: 2}\n",
            "not valid YAML: key 'login' repeated (first at line 1) at line 1",
        ),
        (b"weights: " + b"[" * 5000 + b"]" * 5000 + b"\n", "not valid YAML: nested too deeply"),
    ],
    ids=["binary", "utf-16", "latin-1", "repeated section", "repeated weight", "deep nesting"],
)
def test_a_configuration_that_cannot_be_read_is_one_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    for load in (load_config, lambda p: load_source(p, "lake")):
        with pytest.raises(ConfigFileError, match=re.escape(f"{path}: {message}")):
            load(path)


def test_a_device_or_huge_file_is_not_read_whole() -> None:
    """--config /dev/zero read forever."""
    with pytest.raises(ConfigFileError, match=r"^/dev/zero: larger than 16,777,216 bytes: not a"):
        load_config("/dev/zero")


def test_a_merged_key_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("weights:\n  <<: {login: 1, invite_sent: 5}\n  invite_sent: 3\n")
    assert load_config(path).weights == {"login": 1, "invite_sent": 3}


def test_a_bad_environment_variable_is_one_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow read it first and ended with a pydantic ValidationError traceback (exit 1)."""
    monkeypatch.setenv("ENGAGE_RUN_DATE_LOCK", "maybe")
    path = tmp_path / "config.yaml"
    path.write_text("weights: {login: 1}\n")
    message = "environment: ENGAGE_RUN_DATE_LOCK: Input should be a valid boolean"
    with pytest.raises(SettingsError, match=f"^{message}") as raised:
        checked_config(path)  # every command's pre-flight
    assert isinstance(raised.value, EXPECTED)  # exit 2, one line
