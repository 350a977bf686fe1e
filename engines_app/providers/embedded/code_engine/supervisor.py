"""The supervisor of one job run: `python -m engines_app.providers.embedded.code_engine.supervisor PK`.

Started by the job runner (services._spawn_supervisor), not by people. Everything it needs
arrives as JSON on standard input, before Django is set up: the settings that reach the
database, the run's whole environment (which holds SM_ACCESS_APIKEY and the job's sealed
variables, opened by the process that started the run) and the run plan (sandbox,
limits). Its own process environment stays minimal, because /proc/<pid>/environ shows the
environment a process started with, not what it sets later; secrets never appear in argv either.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m engines_app.providers.embedded.code_engine.supervisor RUN_PK")
        return 2
    try:
        handoff = json.loads(sys.stdin.read() or "{}")
        config = {str(k): str(v) for k, v in handoff["settings"].items()}
        run_env = {str(k): str(v) for k, v in handoff["run_env"].items()}
        plan_data = dict(handoff["plan"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        print("expected the run's hand-off as JSON on standard input")
        return 2
    os.environ.update(config)  # read by the settings module; not visible in /proc/<pid>/environ

    import django

    django.setup()
    from engines_app.providers.code_engine import job_run_finished
    from engines_app.providers.embedded.code_engine import services
    from engines_app.providers.embedded.code_engine.sandbox import RunPlan

    run_pk = int(argv[0])
    outcome = services.job_run_supervise(
        run_pk=run_pk, run_env=run_env, plan=RunPlan.from_json(plan_data)
    )
    if outcome is None:
        print(f"run {run_pk}: not pending, nothing to do")
        return 0
    job_run_finished.send(sender=services, outcome=outcome)
    services.job_runs_cleanup()
    print(f"run {outcome.run_name}: {outcome.status} (exit {outcome.exit_code})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
