"""django-q2 entry points. They take ids only, call one service, and return short, non-secret text."""

from __future__ import annotations

from secrets_app.services.custom_credentials import secret_task_dispatch, secret_tasks_sweep
from secrets_app.services.deletion import deleted_secrets_purge
from secrets_app.services.leases import leases_expire
from secrets_app.services.retries import delete_retries_due
from secrets_app.services.rotation import rotations_due
from secrets_app.services.task_queue import queued_tasks_resend


def secret_task_run(task_id: str) -> str:
    return f"{task_id}: {secret_task_dispatch(task_id=task_id)}"


def sweep() -> str:
    return f"timed-out tasks failed: {secret_tasks_sweep()}"


def resend_sweep() -> str:
    return f"queued tasks sent again: {queued_tasks_resend()}"


def rotation_sweep() -> str:
    return f"secrets rotated: {rotations_due()}"


def lease_sweep() -> str:
    expired = leases_expire()
    return f"versions expired: {expired['versions']}, secrets expired: {expired['secrets']}"


def delete_retry_sweep() -> str:
    return f"delete retries queued: {delete_retries_due()}"


def purge_sweep() -> str:
    return f"deleted secrets purged: {deleted_secrets_purge()}"
