"""The retry ladder of failed deletions (sm-api.md §5.7, limits.md).

"Secrets Manager retries daily (for up to 10 days) to delete credentials after a failed deletion
attempt." A failed delete_credentials task gets a retry one day after it failed, as a new task
linked to it (`retry_of`, attempt N + 1), until 10 retries have been made. No retry when:
- the job's callback for the task was refused with 400 or 404 (`no_retry`, §5.6: such an answer
  means the task cannot be updated by a retry);
- the version's credentials are already gone (credentials_deleted_at), or another task is
  deleting them;
- the task was cancelled by a user (code task_cancelled);
- the task was resolved in the failed-task inbox (acknowledged, given up, or retried by hand:
  `resolution` is set), or its version's credentials were recorded as orphaned.
Create failures are not retried automatically (UNVERIFIED in IBM's sources; the user retries
by rotating).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from secrets_app.models import (
    Secret,
    SecretTask,
    SecretVersion,
    TaskResolution,
    TaskStatus,
    TaskType,
)
from secrets_app.services.credentials import OPEN_TASK_STATUSES, SECRETS_MANAGER
from secrets_app.services.task_queue import task_create

RETRY_AFTER = timedelta(days=1)
MAX_RETRIES = 10


def _first_code(task: SecretTask) -> str:
    return str((task.errors or [{}])[0].get("code", "")) if task.errors else ""


def _version_of(task: SecretTask) -> SecretVersion | None:
    if task.secret_version_ref is None:
        return None
    return SecretVersion.objects.filter(pk=task.secret_version_ref).first()


def retry_pending(task: SecretTask) -> bool:
    """Whether this failed delete task will still get a retry from the ladder."""
    if task.type != TaskType.DELETE_CREDENTIALS or task.status != TaskStatus.FAILED:
        return False
    if task.no_retry or task.resolution or _first_code(task) == "task_cancelled":
        return False
    if task.attempt > MAX_RETRIES or task.retries.exists():
        return False
    version = _version_of(task)
    if version is not None and (
        version.credentials_deleted_at is not None or version.credentials_orphaned_at is not None
    ):
        return False
    return not SecretTask.objects.filter(
        secret_version_ref=task.secret_version_ref,
        type=TaskType.DELETE_CREDENTIALS,
        status__in=OPEN_TASK_STATUSES,
    ).exists()


def retries_scheduled(tasks: Iterable[SecretTask]) -> dict[str, datetime]:
    """Task id -> when the ladder retries it, for those of `tasks` that `retry_pending` says
    will get a retry. The same rules as retry_pending, in three queries whatever the number of
    tasks (for the failed-task inbox)."""
    maybe = [
        t
        for t in tasks
        if t.type == TaskType.DELETE_CREDENTIALS
        and t.status == TaskStatus.FAILED
        and not t.no_retry
        and not t.resolution
        and _first_code(t) != "task_cancelled"
        and t.attempt <= MAX_RETRIES
    ]
    if not maybe:
        return {}
    retried = set(
        SecretTask.objects.filter(retry_of_id__in=[t.pk for t in maybe]).values_list(
            "retry_of_id", flat=True
        )
    )
    refs = {t.secret_version_ref for t in maybe if t.secret_version_ref is not None}
    settled = set(
        SecretVersion.objects.filter(pk__in=refs)
        .exclude(credentials_deleted_at=None, credentials_orphaned_at=None)
        .values_list("pk", flat=True)
    )
    busy = set(
        SecretTask.objects.filter(
            secret_version_ref__in=refs,
            type=TaskType.DELETE_CREDENTIALS,
            status__in=OPEN_TASK_STATUSES,
        ).values_list("secret_version_ref", flat=True)
    )
    return {
        t.pk: t.last_update_date + RETRY_AFTER
        for t in maybe
        if t.pk not in retried and t.secret_version_ref not in settled | busy
    }


def delete_retries_due(*, now: datetime | None = None) -> int:
    """Queue the retries that are due. Each failed task is claimed under a row lock on it, and
    a retry exists at most once per failed task (`task.retries`), so two workers never queue
    the same retry."""
    now = now or timezone.now()
    candidates = SecretTask.objects.filter(
        type=TaskType.DELETE_CREDENTIALS,
        status=TaskStatus.FAILED,
        no_retry=False,
        resolution="",
        attempt__lte=MAX_RETRIES,
        last_update_date__lte=now - RETRY_AFTER,
        retries__isnull=True,
    ).values_list("pk", flat=True)
    queued = 0
    for task_id in list(candidates):
        with transaction.atomic():
            task = SecretTask.objects.select_for_update().filter(pk=task_id).first()
            if task is None or not retry_pending(task):
                continue
            secret = Secret.all_objects.get(pk=task.secret_id)
            version = _version_of(task)
            retry = task_create(
                actor=SECRETS_MANAGER,
                secret=secret,
                task_type=TaskType.DELETE_CREDENTIALS,
                trigger=task.trigger,
                version=version,
                retry_of=task,
            )
            if version is None:  # the version's row was pruned: its ids live on the task
                retry.secret_version_ref = task.secret_version_ref
                retry.credentials_id = task.credentials_id
                retry.save(update_fields=["secret_version_ref", "credentials_id"])
            # The failed task is dealt with: its retry carries the ladder on. An update, so
            # that last_update_date keeps saying when it failed.
            SecretTask.objects.filter(pk=task.pk).update(
                resolution=TaskResolution.RETRIED,
                resolved_at=now,
                resolved_by=SECRETS_MANAGER.iam_id,
            )
            queued += 1
    return queued
