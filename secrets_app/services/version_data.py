"""Deleting a version's secret data (DELETE /api/v2/secrets/{id}/versions/{id}/secret_data,
sm-api.md §2.3): the version's credentials at the provider and its payload; its metadata stays.

Available, as IBM's SDK documents it, for
- iam_credentials, the current version only: its API key is deleted in IAM at once and the
  payload erased;
- custom_credentials, the current or the previous version: a delete_credentials task (trigger
  secret_version_data_deletion) is queued for the configuration's job, and the payload is erased
  when the job reports credentials_deleted (custom_credentials.secret_task_update). A version
  whose job reported no credentials id has nothing at the provider: its payload is erased at once.
Other types keep their data until a rotation or lease pushes it out: 400.

A version that holds a lock is refused (409, secrets_app.services.locks). Asking again while the
version's delete task is still open queues nothing more; asking when nothing is left is a 400.

UNVERIFIED: the IAM action. IBM's SDK docstring names none; deleting data is destructive, so it
takes the Manager's secret.delete here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from console.audit import audit_record
from console.errors import NotFoundError, ServiceError
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import (
    SecretTask,
    SecretType,
    SecretVersion,
    TaskTrigger,
    TaskType,
    VersionAlias,
)
from secrets_app.services.credentials import (
    OPEN_TASK_STATUSES,
    SECRETS_MANAGER,
    credentials_retire,
    holds_provider_credentials,
)
from secrets_app.services.lock_rules import require_versions_unlocked
from secrets_app.services.reading import secret_for_principal, version_for
from secrets_app.services.versions import payload_erase, payload_gone_reason

# Which aliases may have their data deleted, per type (IBM's delete_secret_version_data).
DELETABLE_ALIASES: dict[str, tuple[str, ...]] = {
    SecretType.IAM_CREDENTIALS: (VersionAlias.CURRENT,),
    SecretType.CUSTOM_CREDENTIALS: (VersionAlias.CURRENT, VersionAlias.PREVIOUS),
}


class DataDeletionRefusedError(ServiceError):
    code = "secret_data_deletion_not_supported"
    status = 400


@dataclass(frozen=True)
class DataDeletion:
    """What a deletion did: the version, and (custom credentials) the delete task it waits on."""

    version: SecretVersion
    task: SecretTask | None = None


def data_deletion_blocker(secret_type: str, version: SecretVersion) -> str:
    """Why this version's data cannot be deleted, or "" when it can (locks aside)."""
    aliases = DELETABLE_ALIASES.get(secret_type)
    if aliases is None:
        return (
            "Deleting a version's data is available for IAM credentials and custom credentials "
            "secrets only; other secrets keep the data of their current and previous versions "
            "until a rotation or the lease removes it."
        )
    if version.alias not in aliases:
        which = " or the ".join(aliases)
        now = f"the {version.alias} version" if version.alias else "an older version"
        return (
            f"{SecretType(secret_type).label} secrets can have the data of the {which} version "
            f"deleted only; version {version.serial} is {now}."
        )
    if not version.payload_available and not holds_provider_credentials(version):
        return (
            f"Version {version.serial} has no data left to delete: {payload_gone_reason(version)}"
        )
    return ""


def _open_delete_task(version: SecretVersion) -> SecretTask | None:
    return (
        SecretTask.objects.filter(
            secret_version_ref=version.pk,
            type=TaskType.DELETE_CREDENTIALS,
            status__in=OPEN_TASK_STATUSES,
        )
        .order_by("-creation_date")
        .first()
    )


def _delete_iam_key(version: SecretVersion) -> None:
    """Delete the version's API key in IAM (already gone is fine) and forget its payload."""
    if holds_provider_credentials(version):
        with contextlib.suppress(NotFoundError):  # deleted in IAM meanwhile: what was asked
            get_iam().delete_api_key(actor=SECRETS_MANAGER, api_key_id=version.credentials_id)
        version.credentials_deleted_at = timezone.now()
    payload_erase(version, also=("credentials_deleted_at",))


@transaction.atomic
def secret_version_data_delete(
    *, principal: Principal, secret_id: UUID | str, version: str
) -> DataDeletion:
    """Delete the data of one version (an id, or the aliases current/previous). Audited."""
    secret = secret_for_principal(principal, secret_id, "secret.delete", for_update=True)
    found = version_for(secret, version)
    if blocker := data_deletion_blocker(secret.secret_type, found):
        raise DataDeletionRefusedError(blocker)
    require_versions_unlocked([found], doing="delete its data")
    detail: dict[str, object] = {"version_id": str(found.pk), "serial": found.serial}
    task: SecretTask | None = None
    if secret.secret_type == SecretType.IAM_CREDENTIALS:
        _delete_iam_key(found)
    elif holds_provider_credentials(found):
        task = _open_delete_task(found) or credentials_retire(
            actor=principal.actor,
            secret=secret,
            version=found,
            trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
        )
        if task is not None:
            detail["task_id"] = task.pk
    else:
        payload_erase(found)  # nothing at the provider to delete
    audit_record(
        actor=principal.actor,
        action="secret_version.delete_data",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail=detail,
    )
    found.refresh_from_db()
    return DataDeletion(version=found, task=task)
