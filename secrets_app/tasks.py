"""django-q2 entry points. They take ids only, call one service, and return short, non-secret text."""

from __future__ import annotations

from secrets_app.services.custom_credentials import secret_task_dispatch, secret_tasks_sweep


def secret_task_run(task_id: str) -> str:
    return f"{task_id}: {secret_task_dispatch(task_id=task_id)}"


def sweep() -> str:
    return f"timed-out tasks failed: {secret_tasks_sweep()}"
