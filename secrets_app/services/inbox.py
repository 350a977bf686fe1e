"""The failed-task inbox, acting side (anchors.md §4 items 1-3): Retry, Bulk retry,
Acknowledge, Give up and Cancel, each checked (Writer, secret.update, on the task's group),
transactional and audited. What the inbox shows is in secrets_app.services.inbox_reading.

A failed task is unresolved until it is retried (a new task linked through `retry_of`,
attempt N + 1), acknowledged with a note, or given up (a delete task: the ladder stops and the
version's credentials are recorded as orphaned at the provider). When a retry succeeds, the
tasks it retried show as succeeded later (`on_secret_task_finished`).

Resolutions are written with QuerySet.update, so that `last_update_date` keeps saying when the
task failed (the chart, the age filter and the retry ladder read it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console.audit import AuditSubject, audit_denied, audit_record
from console.errors import AccessDeniedError, NotFoundError, ServiceError
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import (
    Secret,
    SecretTask,
    SecretVersion,
    TaskResolution,
    TaskStatus,
    TaskType,
)
from secrets_app.services.credentials import OPEN_TASK_STATUSES
from secrets_app.services.custom_credentials import secret_task_cancel
from secrets_app.services.inbox_reading import (
    READ_ACTION,
    RESOLVED_LABELS,
    SUCCESS_STATUSES,
    WRITE_ACTION,
    first_code,
    task_get,
    task_stamp,
)
from secrets_app.services.task_queue import task_create

NOTE_MAX = 1024


class TaskNotActionableError(ServiceError):
    code = "task_not_actionable"
    status = 409


# ---------------------------------------------------------------------------------------------
# Acting


def _locked_task(principal: Principal, task_id: str) -> SecretTask:
    task = SecretTask.objects.select_for_update().filter(pk=task_id, secret__probe=False).first()
    if task is None:
        raise NotFoundError(f"There is no task {task_id}.")
    secret = Secret.all_objects.select_related("secret_group").get(pk=task.secret_id)
    iam = get_iam()
    subject = AuditSubject("secret_task", task.pk, secret.name)
    if not iam.is_allowed(principal, READ_ACTION, secret_group_id=secret.secret_group_id):
        audit_denied(
            actor=principal.actor,
            action=WRITE_ACTION,
            subject=subject,
            detail={"reason": "outside the caller's scope (answered as not found)"},
        )
        raise NotFoundError(f"There is no task {task_id}.")
    if not iam.is_allowed(principal, WRITE_ACTION, secret_group_id=secret.secret_group_id):
        audit_denied(actor=principal.actor, action=WRITE_ACTION, subject=subject)
        raise AccessDeniedError(
            f"You need the Writer role on secret group {secret.secret_group.name} to act on "
            "its tasks."
        )
    task.secret = secret
    return task


def _require_unresolved_failure(task: SecretTask, what: str) -> None:
    if task.status != TaskStatus.FAILED:
        raise TaskNotActionableError(
            f"Task {task.pk} is {task.get_status_display().lower()}, not failed: nothing to {what}."
        )
    if task.resolution:
        raise TaskNotActionableError(
            f"Task {task.pk} was already resolved ({RESOLVED_LABELS[TaskResolution(task.resolution)]})."
        )


def retry_blocker(task: SecretTask) -> str:
    """Why this failed task cannot be retried now ("" when it can). No query for create tasks
    of live secrets beyond one lookup of open tasks."""
    secret = task.secret
    if task.type == TaskType.CREATE_CREDENTIALS:
        if secret.deleted_at is not None:
            return "Its secret was deleted."
        if SecretTask.objects.filter(
            secret_id=secret.pk, type=TaskType.CREATE_CREDENTIALS, status__in=OPEN_TASK_STATUSES
        ).exists():
            return "Another create task of this secret is queued or processing."
        return ""
    version = (
        SecretVersion.objects.filter(pk=task.secret_version_ref).first()
        if task.secret_version_ref
        else None
    )
    if version is not None and version.credentials_deleted_at is not None:
        return "The version's credentials were deleted since."
    if version is not None and version.credentials_orphaned_at is not None:
        return "The version's credentials were given up as orphaned."
    if SecretTask.objects.filter(
        secret_version_ref=task.secret_version_ref,
        type=TaskType.DELETE_CREDENTIALS,
        status__in=OPEN_TASK_STATUSES,
    ).exists():
        return "Another delete task of this version is queued or processing."
    return ""


def _retry_locked(principal: Principal, task: SecretTask, now: datetime) -> SecretTask:
    _require_unresolved_failure(task, "retry")
    if blocker := retry_blocker(task):
        raise TaskNotActionableError(f"Task {task.pk} cannot be retried: {blocker}")
    version = (
        SecretVersion.objects.filter(pk=task.secret_version_ref).first()
        if task.secret_version_ref
        else None
    )
    actor = principal.actor
    retry = task_create(
        actor=actor,
        secret=task.secret,
        task_type=task.type,
        trigger=task.trigger,
        version=version,
        version_custom_metadata=task.version_custom_metadata,
        retry_of=task,
    )
    if task.type == TaskType.DELETE_CREDENTIALS and version is None:
        # The version's row was pruned: its ids live on the task.
        retry.secret_version_ref = task.secret_version_ref
        retry.credentials_id = task.credentials_id
        retry.save(update_fields=["secret_version_ref", "credentials_id"])
    SecretTask.objects.filter(pk=task.pk).update(
        resolution=TaskResolution.RETRIED, resolved_at=now, resolved_by=actor.iam_id
    )
    audit_record(
        actor=actor,
        action="secret_task.retry",
        object_type="secret_task",
        object_id=task.pk,
        object_name=task.secret.name,
        detail={"retry": retry.pk, "attempt": retry.attempt, "code": first_code(task)},
    )
    return retry


@transaction.atomic
def task_retry(*, principal: Principal, task_id: str) -> SecretTask:
    """Retry a failed task: a new task of the same type and trigger, linked to it (attempt
    N + 1); the failed one is resolved as retried. Returns the new task."""
    return _retry_locked(principal, _locked_task(principal, task_id), timezone.now())


@dataclass(frozen=True)
class PreviewedTask:
    task_id: str
    stamp: str


class PreviewChangedError(ServiceError):
    code = "preview_changed"
    status = 409

    def __init__(self, message: str, *, changed: list[str]) -> None:
        super().__init__(message)
        self.changed = changed


@transaction.atomic
def tasks_bulk_retry(
    *, principal: Principal, previewed: Sequence[PreviewedTask]
) -> list[SecretTask]:
    """Retry exactly the previewed tasks, all or none: if any of them changed since the
    preview (another retry, a resolution, a new status) or can no longer be retried, nothing
    runs and the changed ones are named."""
    if not previewed:
        raise ValidationError({"tasks": "Choose at least one failed task to retry."})
    if len({p.task_id for p in previewed}) != len(previewed):
        raise ValidationError({"tasks": "A task is listed twice."})
    now = timezone.now()
    locked = []
    changed = []
    for item in sorted(previewed, key=lambda p: p.task_id):
        try:
            task = _locked_task(principal, item.task_id)
        except NotFoundError:
            changed.append(item.task_id)
            continue
        if (
            task_stamp(task) != item.stamp
            or task.status != TaskStatus.FAILED
            or task.resolution
            or retry_blocker(task)
        ):
            changed.append(item.task_id)
        locked.append(task)
    if changed:
        raise PreviewChangedError(
            f"{len(changed)} of the previewed tasks changed since the preview, so none was "
            "retried. Check the new preview.",
            changed=changed,
        )
    retries = [_retry_locked(principal, task, now) for task in locked]
    audit_record(
        actor=principal.actor,
        action="secret_task.bulk_retry",
        object_type="secret_task",
        # object_id holds one id (64 characters at most); the detail names every task.
        object_id=locked[0].pk,
        detail={"count": len(retries), "task_ids": [t.pk for t in locked]},
    )
    return retries


def _note(note: str, *, required: bool) -> str:
    note = (note or "").strip()
    if required and not note:
        raise ValidationError({"note": "Say why this failure needs nothing more (a short note)."})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"A note is at most {NOTE_MAX} characters."})
    return note


@transaction.atomic
def task_acknowledge(*, principal: Principal, task_id: str, note: str) -> SecretTask:
    """Resolve a failed task without a retry, with a note (kept in its history). A delete
    task acknowledged this way gets no more automatic retries."""
    cleaned = _note(note, required=True)
    task = _locked_task(principal, task_id)
    _require_unresolved_failure(task, "acknowledge")
    now = timezone.now()
    SecretTask.objects.filter(pk=task.pk).update(
        resolution=TaskResolution.ACKNOWLEDGED,
        resolved_at=now,
        resolved_by=principal.iam_id,
        resolution_note=cleaned,
    )
    audit_record(
        actor=principal.actor,
        action="secret_task.acknowledge",
        object_type="secret_task",
        object_id=task.pk,
        object_name=task.secret.name,
        detail={"code": first_code(task)},
    )
    task.refresh_from_db()
    return task


@transaction.atomic
def task_give_up(*, principal: Principal, task_id: str, note: str = "") -> SecretTask:
    """Stop the delete retry ladder of a failed delete task and record its version's
    credentials as orphaned at the provider: they may still exist there, and nothing will try
    to delete them again."""
    cleaned = _note(note, required=False)
    task = _locked_task(principal, task_id)
    _require_unresolved_failure(task, "give up")
    if task.type != TaskType.DELETE_CREDENTIALS:
        raise TaskNotActionableError(
            f"Task {task.pk} creates credentials: only delete tasks have a retry ladder to stop."
        )
    now = timezone.now()
    version = (
        SecretVersion.objects.select_for_update().filter(pk=task.secret_version_ref).first()
        if task.secret_version_ref
        else None
    )
    if version is not None and version.credentials_deleted_at is not None:
        raise TaskNotActionableError(
            f"The credentials of version {version.serial} were deleted since: nothing to give up."
        )
    if version is not None and version.credentials_orphaned_at is None:
        SecretVersion.objects.filter(pk=version.pk).update(credentials_orphaned_at=now)
    SecretTask.objects.filter(pk=task.pk).update(
        resolution=TaskResolution.GAVE_UP,
        resolved_at=now,
        resolved_by=principal.iam_id,
        resolution_note=cleaned,
    )
    audit_record(
        actor=principal.actor,
        action="secret_task.give_up",
        object_type="secret_task",
        object_id=task.pk,
        object_name=task.secret.name,
        detail={
            "credentials_id": task.credentials_id,
            "version": str(task.secret_version_ref or ""),
            "attempt": task.attempt,
        },
    )
    task.refresh_from_db()
    return task


@transaction.atomic
def task_cancel(*, principal: Principal, task_id: str) -> SecretTask:
    """Cancel a queued or processing task (secret_task_cancel). The cancelled task fails with
    code task_cancelled; it is resolved at once (acknowledged), since whoever cancelled it
    knows."""
    task = task_get(principal=principal, task_id=task_id)
    if not get_iam().is_allowed(
        principal, WRITE_ACTION, secret_group_id=task.secret.secret_group_id
    ):
        audit_denied(
            actor=principal.actor,
            action="secret_task.cancel",
            subject=AuditSubject("secret_task", task.pk, task.secret.name),
        )
        raise AccessDeniedError(
            f"You need the Writer role on secret group {task.secret.secret_group.name} to "
            "cancel its tasks."
        )
    if task.status not in OPEN_TASK_STATUSES:
        raise TaskNotActionableError(
            f"Task {task.pk} is already {task.get_status_display().lower()}: only queued or "
            "processing tasks can be cancelled."
        )
    cancelled = secret_task_cancel(principal=principal, secret_id=task.secret_id, task_id=task.pk)
    SecretTask.objects.filter(pk=task.pk, resolution="").update(
        resolution=TaskResolution.ACKNOWLEDGED,
        resolved_at=timezone.now(),
        resolved_by=principal.iam_id,
        resolution_note="Cancelled from the Tasks page.",
    )
    cancelled.refresh_from_db()
    return cancelled


# ---------------------------------------------------------------------------------------------
# A retry that succeeds resolves what it retried


def on_secret_task_finished(sender: object, *, task: SecretTask, **kwargs: object) -> None:
    """Receiver of secret_task_finished: when a retry succeeds, every task up its retry_of
    chain that was resolved as retried shows as succeeded later."""
    if task.status not in SUCCESS_STATUSES or task.retry_of_id is None:
        return
    parent_id: str | None = task.retry_of_id
    seen: set[str] = set()
    while parent_id and parent_id not in seen:
        seen.add(parent_id)
        SecretTask.objects.filter(pk=parent_id, resolution=TaskResolution.RETRIED).update(
            resolution=TaskResolution.SUCCEEDED_LATER
        )
        parent_id = (
            SecretTask.objects.filter(pk=parent_id).values_list("retry_of_id", flat=True).first()
        )
