"""Deleting a secret, and purging force-deleted ones once their delete tasks are over.

- Arbitrary: the rows go.
- IAM credentials: every API key it still holds is deleted, and its service ID when Secrets
  Manager generated it; then the rows go. Refused (secret_in_use), even with force, while an
  engine configuration's jobs use its API key (api_key_ref).
- Service credentials: every resource key it still holds is deleted (the resource controller
  drops a service ID it generated for a key with the key); then the rows go.
- Custom credentials (secret-delete.md): while a version's credentials may still exist at the
  credentials provider, or a create task is still running, deletion is refused unless forced.
  Forced, each version holding credentials gets a delete_credentials task; the secret is then
  hidden at once (deleted_at, state destroyed, payloads erased) and kept only until those tasks
  are over, retries included; `deleted_secrets_purge` removes it then.

Deleting needs the Manager role on the secret's group.
"""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from console.audit import audit_record
from console.errors import ConflictError, LockedError
from engines_app.models import Configuration
from engines_app.providers.iam import Principal
from secrets_app.models import (
    Secret,
    SecretLock,
    SecretState,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskStatus,
    TaskTrigger,
    TaskType,
)
from secrets_app.services.credentials import (
    OPEN_TASK_STATUSES,
    SECRETS_MANAGER,
    credentials_retire,
    generated_service_id_delete,
    holds_provider_credentials,
)
from secrets_app.services.reading import secret_for_principal
from secrets_app.services.retries import retry_pending
from secrets_app.services.versions import payload_erase


class UndeletedCredentialsError(ConflictError):
    code = "secret_has_undeleted_credentials"


class SecretInUseError(ConflictError):
    code = "secret_in_use"


def configurations_using(secret: Secret) -> list[str]:
    """The engine configurations whose jobs authenticate with this (IAM credentials) secret's
    API key (api_key_ref): the secret cannot be deleted, even with force, while they do."""
    return list(
        Configuration.objects.filter(api_key_ref_id=secret.pk)
        .order_by("name")
        .values_list("name", flat=True)
    )


def locks_held(secret: Secret) -> list[str]:
    """The secret's locks, as "name (version N)": a locked secret cannot be deleted, even with
    force (IBM: remove every lock first), because deleting it would erase the locked data."""
    return [
        f"{name} (version {serial})"
        for name, serial in SecretLock.objects.filter(secret=secret)
        .order_by("version__serial", "name")
        .values_list("name", "version__serial")
    ]


def delete_blockers(secret: Secret) -> list[str]:
    """Why a custom credentials secret needs force to be deleted (empty: it does not)."""
    if secret.secret_type != SecretType.CUSTOM_CREDENTIALS:
        return []
    reasons = []
    holding = [
        v.serial
        for v in SecretVersion.objects.filter(secret=secret).order_by("serial")
        if holds_provider_credentials(v)
    ]
    if holding:
        listed = ", ".join(str(s) for s in holding)
        reasons.append(
            f"the credentials of version{'s' if len(holding) > 1 else ''} {listed} may still "
            "exist at the credentials provider"
        )
    if SecretTask.objects.filter(
        secret=secret, type=TaskType.CREATE_CREDENTIALS, status__in=OPEN_TASK_STATUSES
    ).exists():
        reasons.append("a task is still creating credentials")
    return reasons


@transaction.atomic
def secret_delete(*, principal: Principal, secret_id: UUID | str, force: bool = False) -> None:
    secret = secret_for_principal(principal, secret_id, "secret.delete", for_update=True)
    actor = principal.actor
    if users := configurations_using(secret):
        raise SecretInUseError(
            f"Secret {secret.name} cannot be deleted: the configuration"
            f"{'s' if len(users) > 1 else ''} {', '.join(users)} use{'' if len(users) > 1 else 's'} "
            "its API key (api_key_ref). Point them at another IAM credentials secret first."
        )
    if locks := locks_held(secret):
        raise LockedError(
            f"Secret {secret.name} cannot be deleted: it holds the lock"
            f"{'s' if len(locks) > 1 else ''} {', '.join(locks)}. Remove "
            f"{'them' if len(locks) > 1 else 'it'} first: on the secret's Versions tab, or with "
            f"DELETE /api/v2/secrets/{secret.pk}/locks_bulk."
        )
    blockers = delete_blockers(secret)
    if blockers and not force:
        raise UndeletedCredentialsError(
            f"Secret {secret.name} cannot be deleted yet: {' and '.join(blockers)}. Delete it "
            "with force to delete the secret now and leave its delete tasks to run (and retry) "
            "in the background."
        )
    versions = list(SecretVersion.objects.filter(secret=secret).order_by("serial"))
    for version in versions:
        credentials_retire(
            actor=actor,
            secret=secret,
            version=version,
            trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
        )
    generated_service_id_delete(secret=secret)
    audit_record(
        actor=actor,
        action="secret.delete",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail={"force": force} if force else None,
    )
    if secret.secret_type == SecretType.CUSTOM_CREDENTIALS and _has_pending_work(secret):
        for version in versions:
            if version.payload_available:
                payload_erase(version)
        Secret.all_objects.filter(pk=secret.pk).update(
            deleted_at=timezone.now(),
            state=SecretState.DESTROYED,
            state_reason="Deleted with force; its delete tasks run in the background.",
            updated_at=timezone.now(),
        )
        return
    secret.delete()


def _has_pending_work(secret: Secret) -> bool:
    tasks = SecretTask.objects.filter(secret_id=secret.pk)
    if tasks.filter(status__in=OPEN_TASK_STATUSES).exists():
        return True
    return any(
        retry_pending(task)
        for task in tasks.filter(type=TaskType.DELETE_CREDENTIALS, status=TaskStatus.FAILED)
    )


def deleted_secrets_purge() -> int:
    """Remove force-deleted secrets whose delete tasks are over (done, or out of retries)."""
    purged = 0
    for secret in Secret.all_objects.filter(~Q(deleted_at=None)):
        with transaction.atomic():
            locked = Secret.all_objects.select_for_update().filter(pk=secret.pk).first()
            if locked is None or _has_pending_work(locked):
                continue
            audit_record(
                actor=SECRETS_MANAGER,
                action="secret.purge",
                object_type="secret",
                object_id=str(locked.pk),
                object_name=locked.name,
            )
            locked.delete()
            purged += 1
    return purged
