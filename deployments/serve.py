"""Serve every deployment of `deployments/prefect.yaml` from one process: no work pool, no
worker. Run from the repository root (entrypoints are stored relative to it):

    python -m deployments.serve [--inactive-schedules]

Deployments whose entrypoint module is not part of this checkout are skipped with a note.
"""

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron
from prefect.utilities.templating import apply_values

PREFECT_YAML = Path(__file__).resolve().parent / "prefect.yaml"
PROJECT_ROOT = PREFECT_YAML.parent.parent


def declared_deployments() -> list[dict[str, Any]]:
    """The deployments as `prefect.yaml` declares them."""
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    return list(document["deployments"])


def flow_of(entrypoint: str) -> Flow[..., Any] | None:
    """The flow of an entrypoint `path/to/module.py:function`, or None when the module is not
    part of this checkout."""
    path, function = entrypoint.split(":")
    if not (PROJECT_ROOT / path).is_file():
        return None
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, function)
    if not isinstance(flow, Flow):
        raise TypeError(f"{PREFECT_YAML}: entrypoint {entrypoint} is not a Prefect flow")
    return flow


def triggers_of(declared: dict[str, Any]) -> list[DeploymentEventTrigger]:
    """The event triggers a declared deployment lists (`triggers:` in prefect.yaml)."""
    triggers = []
    for trigger in declared.get("triggers") or []:
        if trigger.get("type", "event") != "event":
            raise ValueError(
                f"{PREFECT_YAML}: deployment {declared['name']!r}: only event triggers are "
                f"served, not {trigger['type']!r}"
            )
        fields = {k: v for k, v in trigger.items() if k != "type"}
        fields["expect"] = set(fields.get("expect") or [])
        triggers.append(DeploymentEventTrigger(**fields))
    return triggers


def parameters_of(declared: dict[str, Any]) -> dict[str, Any]:
    """The default parameters a declared deployment lists, `{{ $VAR }}` placeholders read from
    the environment as `prefect deploy` reads them; one whose variables are unset is left out
    (the flow then reads its ENGAGE_ setting when it runs)."""
    resolved = apply_values(declared.get("parameters") or {}, {}, remove_notset=True)
    return {name: value for name, value in resolved.items() if value not in ("", None)}


def runner_deployments(active_schedules: bool = True) -> list[RunnerDeployment]:
    """One runner deployment per declared deployment whose flow exists, with its schedules
    and event triggers."""
    deployments = []
    for declared in declared_deployments():
        flow = flow_of(declared["entrypoint"])
        if flow is None:
            print(f"skipping deployment {declared['name']!r}: {declared['entrypoint']} not found")
            continue
        schedules = [
            Cron(s["cron"], timezone=s.get("timezone"), active=active_schedules)
            for s in declared.get("schedules") or []
        ]
        deployments.append(
            flow.to_deployment(
                name=declared["name"],
                description=declared.get("description"),
                tags=declared.get("tags"),
                schedules=schedules,
                triggers=triggers_of(declared),
                parameters=parameters_of(declared),
                enforce_parameter_schema=declared.get("enforce_parameter_schema", True),
            )
        )
    return deployments


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--inactive-schedules",
        action="store_true",
        help="register the schedules but keep them off (manual and custom runs only)",
    )
    parser.add_argument("--limit", type=int, default=None, help="flow runs executed at once")
    arguments = parser.parse_args(argv)
    os.chdir(PROJECT_ROOT)  # entrypoints are stored relative to the working directory
    serve(
        *runner_deployments(active_schedules=not arguments.inactive_schedules),
        limit=arguments.limit,
    )


if __name__ == "__main__":
    sys.exit(main())
