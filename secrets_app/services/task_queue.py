"""Queueing a secret task: the row, the history cap, and the dispatch once the transaction commits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from django_q.tasks import async_task

from console.identity import Actor
from secrets_app.models import Secret, SecretTask, SecretVersion, TaskStatus

TASKS_KEPT = 100
# A task still queued this long after it was queued (or last sent again) is sent again. The
# ORM broker hands an unacknowledged task out again after Q_CLUSTER["retry"] (120 s), but the
# Redis broker keeps no acknowledgement: a task a cluster took off the list just before it died
# is gone, and its secret would stay in pre_activation. Sending it twice is harmless, because
# dispatching claims only a task that is still queued (secret_task_dispatch).
REQUEUE_AFTER = timedelta(minutes=5)


def status_entry(status: str, at: datetime | None = None) -> dict[str, str]:
    """One step of a task's status_history."""
    return {"status": str(status), "at": (at or timezone.now()).isoformat()}


class StatusHistoryAppend(models.Func):
    """`status_history` with one more entry, computed by the database, so that a conditional
    `.update(status=..., status_history=StatusHistoryAppend(entry))` records the step in the
    same statement that claims it (SQLite's json_insert, PostgreSQL's jsonb ||)."""

    output_field = models.JSONField()

    def __init__(self, entry: dict[str, str]) -> None:
        super().__init__(F("status_history"))
        self.entry = entry

    # Any other database has no such function, so the statement fails instead of writing junk.
    function = "status_history_append_is_not_supported_here"

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.source_expressions[0])
        sql = f"json_insert(COALESCE({column}, '[]'), '$[#]', json(%s))"
        return sql, (*params, json.dumps(self.entry))

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.source_expressions[0])
        sql = f"(COALESCE({column}, '[]'::jsonb) || %s::jsonb)"
        return sql, (*params, json.dumps([self.entry]))


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
        status_history=[status_entry(TaskStatus.QUEUED)],
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
    _send_on_commit(task.pk)
    return task


def _send_on_commit(task_id: str) -> None:
    transaction.on_commit(
        lambda: async_task("secrets_app.tasks.secret_task_run", task_id, task_name=task_id)
    )


@transaction.atomic
def queued_tasks_resend(*, now: datetime | None = None) -> int:
    """Send again the tasks still queued REQUEUE_AFTER after they were queued or last sent, and
    note when (last_update_date); a task another sweep already sent again is left to it."""
    now = now or timezone.now()
    stale = SecretTask.objects.filter(
        status=TaskStatus.QUEUED, last_update_date__lte=now - REQUEUE_AFTER
    ).values_list("pk", "last_update_date")
    sent = 0
    for task_id, seen in list(stale):
        # Conditional, so two clusters' sweeps at once send a task once (update() skips auto_now).
        if SecretTask.objects.filter(
            pk=task_id, status=TaskStatus.QUEUED, last_update_date=seen
        ).update(last_update_date=now):
            _send_on_commit(task_id)
            sent += 1
    return sent
