"""Serve the follow-up deployment with its event trigger (no work pool needed):

    python -m deployments.serve_followups     # from the repository root

Each `engage.scoring.completed` event (emitted by the daily flow after publishing) starts a
`deliver-followups` run for that event's run date and output directory.
"""

from prefect import serve
from prefect.events import DeploymentEventTrigger

from flows.followups import deliver_followups
from tasks.followups.track import RUN_EVENT

DEPLOYMENT_NAME = "followups"


def run_event_trigger() -> DeploymentEventTrigger:
    """Start a follow-up run per scoring run, with the run's date and output as parameters."""
    return DeploymentEventTrigger(
        name="engage-scoring-completed",
        expect={RUN_EVENT},
        match={"prefect.resource.id": "engage.scoring.*"},
        parameters={
            "run_date": "{{ event.payload.run_date }}",
            "output": "{{ event.payload.output }}",
        },
    )


def followups_deployment():  # type: ignore[no-untyped-def]
    """The follow-up deployment, triggered by the daily flow's run event."""
    return deliver_followups.to_deployment(
        name=DEPLOYMENT_NAME,
        description="Deliver a scoring run's follow-up actions to the CRM drop and webhook.",
        triggers=[run_event_trigger()],
    )


if __name__ == "__main__":
    serve(followups_deployment())
