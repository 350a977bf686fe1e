"""django-q2 entry points. They take ids only, call one service, and return short, non-secret text."""

from __future__ import annotations

from engines_app.providers.embedded.code_engine.services import job_runs_cleanup
from secrets_app.services.custom_credentials import secret_task_dispatch, secret_tasks_sweep


def secret_task_run(task_id: str) -> str:
    return f"{task_id}: {secret_task_dispatch(task_id=task_id)}"


def sweep() -> str:
    failed = secret_tasks_sweep()
    runs = job_runs_cleanup()
    return f"timed-out tasks failed: {failed}; job runs removed: {runs['removed']}, orphaned: {runs['orphaned']}"
