"""`engage server`'s warm runner (started by flows/engage_server.py: `python -m
flows.engage_runner <socket>`): a process that imports Prefect, Great Expectations, Polars and
the flows once, then for each command handed over forks a child that runs it with the caller's
working directory, environment and terminal (file descriptors received over the Unix socket),
and sends back its exit status."""

import atexit
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from flows.engage_server import WARM_MODULES


def _run_in_child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the caller's command, then exit with its status (never
    return into the runner's loop)."""
    status = 1
    try:
        os.setsid()  # its own process group: the caller's Ctrl-C reaches it and its children
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        prefect = {k: v for k, v in os.environ.items() if k.startswith("PREFECT_")}
        os.environ.clear()
        os.environ.update(request["env"] | prefect)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        import flows.cli
        import flows.terminal

        flows.terminal.use_this_terminal()
        flows.cli.app(args=request["argv"], prog_name="engage")
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()  # Prefect sends the run's last logs to the API here
        os._exit(status)


def _started(
    connection: socket.socket, listener: socket.socket, callers: dict[int, socket.socket]
) -> int | None:
    """Fork the child that runs the request read from `connection` (its pid, sent to the
    caller too), or answer a ping (None)."""
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    request = json.loads(message)
    if request.get("ping") or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        connection.send(json.dumps({"pong": os.getpid()}).encode())
        return None
    pid = os.fork()
    if pid == 0:
        listener.close()
        for caller in callers.values():
            caller.close()
        _run_in_child(request, fds)
    for fd in fds:
        os.close(fd)
    connection.send(json.dumps({"pid": pid}).encode())
    return pid


def serve(path: Path) -> None:
    """The runner: import everything once, then fork a child per command received on the
    Unix socket at `path`, and send each caller its child's pid and exit status."""
    import flows.cli  # noqa: F401  (first: it sets Prefect's settings before Prefect's import)
    from tasks.pages import render_page
    from tasks.quality.data_docs import warm_context

    for module in WARM_MODULES:
        importlib.import_module(module)
    warm_context()
    render_page("data_docs_index.html", run_date="", suites=[], verdict=str)
    if threading.active_count() > 1:  # a fork copies only the forking thread
        raise RuntimeError("the engage runner must not fork with threads running")
    selector = selectors.DefaultSelector()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(path))
    listener.listen(16)
    selector.register(listener, selectors.EVENT_READ)
    callers: dict[int, socket.socket] = {}
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(f"engage runner ready on {path} (pid {os.getpid()})", flush=True)
    while True:
        for _ in selector.select(timeout=0.2):
            connection, _ = listener.accept()
            pid = None
            with contextlib.suppress(OSError, ValueError):  # a caller gone, or not a request
                pid = _started(connection, listener, callers)
            if pid is None:
                connection.close()
            else:
                callers[pid] = connection
        _report_ended(callers)


def _report_ended(callers: dict[int, socket.socket]) -> None:
    """Send each caller whose child ended its exit status (128 + signal if killed)."""
    while callers:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        with contextlib.suppress(OSError):
            callers[pid].send(json.dumps({"exit": code}).encode())
        callers.pop(pid).close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
