"""Environment settings (prefix ENGAGE_), read when a run starts, never at import."""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

import scoring
from scoring.config import ScoringConfig
from tasks.extract.sources.config import SourceConfig, sources_from_document


class EngageSettings(BaseSettings):
    """Where a run reads and writes when its parameters do not say."""

    model_config = SettingsConfigDict(env_prefix="ENGAGE_", extra="ignore")

    output: Path = Path("output")
    events: str | None = None
    config: Path | None = None
    source: str | None = None
    """a source named in the configuration's `sources` section (used when `events` is unset)"""
    customers: str | None = None
    """the customers table (plans, owners, names, values) when a run names none"""
    output_url: str | None = None
    """the http URL at which the output directory (`output`) is served, e.g. by `make server`:
    the run's artifacts link its report there (a browser opens no file:// link from a page)"""
    run_date_lock: bool = True
    """hold the run date's global concurrency limit while running (flows/locks.py); off, only
    the publish step's file lock serializes writers of a date (one host), and a killed run does
    not block its date until its lease expires"""


class SettingsError(ValueError):
    """An ENGAGE_* environment variable whose value does not fit its setting."""


def settings() -> EngageSettings:
    """The settings as the environment says now (SettingsError names a bad variable)."""
    try:
        return EngageSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"ENGAGE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise SettingsError(f"environment: {problems}") from error


class ConfigFileError(ValueError):
    """A configuration file that is missing, not YAML, or not a valid ScoringConfig."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping (PyYAML keeps the last
    silently: a second `weights:` would replace the first unseen)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # unhashable keys are PyYAML's own error; merged keys may be overridden
            key = self.construct_object(key_node)
            if key in seen:
                first = seen[key].line + 1
                raise yaml.constructor.ConstructorError(
                    problem=f"key {key!r} repeated (first at line {first})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""A configuration is a few kilobytes: a larger file (or /dev/zero) is not one, and is not read
whole."""


def _config_text(path: Path) -> str:
    with path.open("rb") as stream:
        data = stream.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(
            f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes: not a configuration; check --config"
        )
    return data.decode("utf-8")


def _read_yaml(path: Path) -> Any:
    """The YAML document of a configuration file; errors name the file."""
    try:
        return yaml.load(_config_text(path), Loader=_UniqueKeyLoader)
    except ConfigFileError:  # _config_text's own (a ValueError too): already one line
        raise
    except OSError as error:
        raise ConfigFileError(f"{path}: cannot read the configuration: {error}") from error
    except UnicodeDecodeError as error:
        raise ConfigFileError(
            f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}); save the configuration as UTF-8 YAML"
        ) from error
    except yaml.YAMLError as error:
        raise ConfigFileError(f"{path}: not valid YAML: {_yaml_problem(error)}") from error
    except RecursionError as error:
        raise ConfigFileError(f"{path}: not valid YAML: nested too deeply") from error
    except ValueError as error:  # a value PyYAML cannot build: 2026-02-30, 5,000 digits
        problem = str(error).split(";")[0]  # not Python's advice to raise its digit limit
        raise ConfigFileError(f"{path}: not valid YAML: {problem}; check the file") from error


def _yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (`line 1, column 10`)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def load_source(path: str | Path, name: str) -> SourceConfig:
    """The source `name` of the configuration's `sources` section; errors name file and key."""
    path = Path(path)
    try:
        document = _read_yaml(path)
        sources = sources_from_document(document if isinstance(document, dict) else {})
    except ValueError as error:
        raise ConfigFileError(f"{path}: invalid configuration: {error}") from error
    if name not in sources:
        known = ", ".join(sorted(sources)) or "none configured"
        raise ConfigFileError(f"{path}: no source {name!r} under `sources` (known: {known})")
    return sources[name]


def load_config(path: str | Path) -> ScoringConfig:
    """Read and validate a YAML scoring configuration; errors name the file and the key."""
    path = Path(path)
    document = _read_yaml(path)
    if isinstance(document, dict):
        # the `sources` section is read by load_source, not part of the scoring rules
        document = {k: v for k, v in document.items() if k != "sources"}
    try:
        config = ScoringConfig.model_validate(document or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in error.errors()
        )
        raise ConfigFileError(f"{path}: invalid configuration: {problems}") from error
    return config.read_from(str(path.resolve()))


def bundled_config_path() -> Path:
    """The configuration shipped with the package (used by the demo and the deployment)."""
    return Path(scoring.__file__).parent / "default_config.yaml"
