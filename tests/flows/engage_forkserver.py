"""A fork server for the kill test: imports the engage CLI once (Prefect, Great Expectations,
Polars: ~10 s on a busy machine), then forks one child process per `engage run`, so a test
can SIGKILL many real runs without paying the imports each time.

Protocol on stdin/stdout, one line each:
    run <json: {"args": [...], "env": {...}, "log": path}>  ->  pid <pid>
    wait <pid>                                               ->  status <exit code | -signal>
"""

import json
import os
import sys
import traceback

import great_expectations  # noqa: F401  (imported here so that children start warm)

import flows.cli
import flows.daily
import tasks.quality.validate  # noqa: F401


def _child(request: dict) -> None:
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(request.get("env", {}))
    sys.argv = ["engage", *request["args"]]
    code = 0
    try:
        flows.cli.app()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "run":
            pid = os.fork()
            if pid == 0:
                _child(json.loads(argument))
            print(f"pid {pid}", flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(argument), 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            print(f"status {code}", flush=True)


if __name__ == "__main__":
    main()
