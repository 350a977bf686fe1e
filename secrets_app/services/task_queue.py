"""Queueing a secret task: the row, the history cap, and the dispatch once the transaction commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_q.tasks import async_task

from console.identity import Actor
from secrets_app.models import Secret, SecretTask, SecretVersion, TaskStatus

TASKS_KEPT = 100


def task_create(
    *,
    actor: Actor,
    secret: Secret,
    task_type: str,
    trigger: str,
    version: SecretVersion | None = None,
    version_custom_metadata: dict[str, Any] | None = None,
    retry_of: SecretTask | None = None,
) -> SecretTask:
    """Queue a task (caller holds a transaction); it is dispatched once the transaction commits."""
    task = SecretTask.objects.create(
        secret=secret,
        type=task_type,
        trigger=trigger,
        secret_version=version,
        secret_version_ref=version.pk if version else None,
        credentials_id=version.credentials_id if version else "",
        version_custom_metadata=version_custom_metadata or {},
        retry_of=retry_of,
        attempt=(retry_of.attempt + 1) if retry_of else 1,
        created_by=actor.iam_id,
        updated_by=actor.iam_id,
    )
    # History is capped at 100 tasks per secret: drop the oldest finished ones.
    finished = SecretTask.objects.filter(
        secret=secret,
        status__in=[
            TaskStatus.CREDENTIALS_CREATED,
            TaskStatus.CREDENTIALS_DELETED,
            TaskStatus.FAILED,
        ],
    )
    excess = SecretTask.objects.filter(secret=secret).count() - TASKS_KEPT
    if excess > 0:
        old = list(finished.order_by("creation_date").values_list("pk", flat=True)[:excess])
        SecretTask.objects.filter(pk__in=old).delete()
    task_id = task.pk
    transaction.on_commit(
        lambda: async_task("secrets_app.tasks.secret_task_run", task_id, task_name=task_id)
    )
    return task
