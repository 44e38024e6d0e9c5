"""`engage server start|stop|status`: the commands of flows/engage_server.py."""

import typer

from flows.cli_output import show
from flows.terminal import fail

server_app = typer.Typer(
    help="A Prefect server and a warm runner in the background: later commands start in "
    "seconds (flows/engage_server.py).",
    no_args_is_help=True,
)


@server_app.command("start")
def server_start() -> None:
    """Start a Prefect server (unless PREFECT_API_URL names one) and the warm runner in the
    background (state and logs under ENGAGE_SERVER_HOME, default ~/.engage/server); every
    later run, backfill, backtest or demo is handed to the runner."""
    from flows.engage_server import server_home, start

    show(f"starting engage server under {server_home()} ...")
    try:
        state = start()
    except RuntimeError as error:
        raise fail(str(error), code=1) from error
    except OSError as error:  # the home is a file, or cannot be written
        raise fail(
            f"ENGAGE_SERVER_HOME {server_home()} cannot hold the server's state and logs: "
            f"{error.strerror or error}; point ENGAGE_SERVER_HOME at a writable directory"
        ) from error
    ui = f"; UI {state.api_url.removesuffix('/api')}" if state.server_pid else ""
    show(f"engage server: Prefect API {state.api_url}{ui}; runner pid {state.runner_pid}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the runner and the Prefect server `engage server start` started."""
    from flows.engage_server import stop

    state = stop()
    show("engage server stopped" if state else "engage server was not running")


@server_app.command("status")
def server_status() -> None:
    """Whether `engage server` runs, with its Prefect API."""
    from flows.engage_server import code_fingerprint, running_state

    state = running_state()
    if state is None:
        show("engage server is not running (start it: engage server start)")
        raise typer.Exit(1)
    stale = "" if state.fingerprint == code_fingerprint() else " (runs older code: restart it)"
    show(f"engage server runs: Prefect API {state.api_url}, runner pid {state.runner_pid}{stale}")
