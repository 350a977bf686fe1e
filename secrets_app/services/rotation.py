"""Rotating a secret: a new version, manual (the console's Rotate, POST .../versions) or automatic.

Per type (sm-api.md §4.7, §5.7, §6; the docs' rotation pages):
- arbitrary: the new value the user enters or uploads;
- IAM credentials: a new API key for the same service ID, only when reuse is on ("manual
  rotation isn't supported" otherwise: each read already issues a new key);
- service credentials: a new resource key named after the secret, for the same service ID;
- custom credentials: a create_credentials task (trigger manual_secret_rotation or
  automatic_secret_rotation). The secret stays active on its current version; the new version
  appears when the job reports (secret_task_update).

The old current becomes previous; the old previous loses its payload and its credentials are
retired (`versions.version_add`). Rotation needs the Writer role on the secret's group.

Concurrency: the secret's row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite runs every
transaction with BEGIN IMMEDIATE, one writer at a time), and version serials are unique per
secret, so concurrent rotations queue up and none is lost or doubled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console import validation
from console.audit import audit_record
from console.errors import ConflictError, NotFoundError, ServiceError
from console.identity import Actor
from engines_app.providers.iam import Principal, get_iam
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app.models import (
    Secret,
    SecretState,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskStatus,
    TaskTrigger,
    TaskType,
    VersionAlias,
)
from secrets_app.services.credentials import SECRETS_MANAGER
from secrets_app.services.iam_credentials import api_key_name, next_rotation
from secrets_app.services.lock_rules import require_rotation_unlocked
from secrets_app.services.reading import secret_for_principal
from secrets_app.services.task_queue import task_create
from secrets_app.services.versions import version_add

logger = logging.getLogger(__name__)

SYSTEM_PRINCIPAL = Principal(
    iam_id=SECRETS_MANAGER.iam_id, name=SECRETS_MANAGER.name, kind="system", is_superuser=True
)


class RotationNotSupportedError(ServiceError):
    code = "rotation_not_supported"
    status = 400


@dataclass(frozen=True)
class Rotation:
    """What a rotation produced: the new version, or (custom credentials) the queued task."""

    secret: Secret
    version: SecretVersion | None = None
    task: SecretTask | None = None


def _create_task_open(secret_id: UUID | str) -> bool:
    return SecretTask.objects.filter(
        secret_id=secret_id,
        type=TaskType.CREATE_CREDENTIALS,
        status__in=[TaskStatus.QUEUED, TaskStatus.PROCESSING],
    ).exists()


def rotation_blocker(secret: Secret) -> str:
    """Why this secret cannot be rotated by hand now, or "" when it can (the button says why)."""
    if secret.state != SecretState.ACTIVE:
        return f"The secret is {secret.get_state_display().lower()}; only an active secret rotates."
    if secret.secret_type == SecretType.IAM_CREDENTIALS and not secret.reuse_api_key:
        return (
            "Manual rotation isn't supported when Reuse IAM credentials is off: each read of the "
            "secret already issues a new API key."
        )
    if secret.secret_type == SecretType.CUSTOM_CREDENTIALS and _create_task_open(secret.pk):
        return "A rotation is already in progress: wait for its task to finish."
    return ""


def _new_iam_key(secret: Secret) -> dict[str, Any]:
    iam = get_iam()
    key = iam.create_api_key(
        actor=SECRETS_MANAGER,
        service_id=secret.service_id,
        name=api_key_name(secret.name),
        description=f"Created by Secrets Manager for a rotation of the IAM credentials secret {secret.name}.",
    )
    iam.lock_api_key(actor=SECRETS_MANAGER, api_key_id=key.api_key_id)
    return {
        "payload": {
            "api_key": key.value,
            "api_key_id": key.api_key_id,
            "service_id": secret.service_id,
        },
        "version_data": {"api_key_id": key.api_key_id, "service_id": secret.service_id},
        "credentials_id": key.api_key_id,
        "undo": lambda: iam.delete_api_key(actor=SECRETS_MANAGER, api_key_id=key.api_key_id),
    }


def _service_id_of_current(secret: Secret) -> str | None:
    current = SecretVersion.objects.filter(secret=secret, alias=VersionAlias.CURRENT).first()
    if current is not None and current.version_data.get("serviceid_crn"):
        return str(current.version_data["serviceid_crn"])
    parameters = (secret.source_service or {}).get("parameters") or {}
    return parameters.get("serviceid_crn") or None


def _new_resource_key(secret: Secret) -> dict[str, Any]:
    source = secret.source_service or {}
    try:
        key = get_resource_controller().create_resource_key(
            instance_crn=source["instance"]["crn"],
            name=secret.name,
            role=(source.get("role") or {}).get("crn"),
            hmac=bool((source.get("parameters") or {}).get("HMAC")),
            serviceid_crn=_service_id_of_current(secret),
            actor=SECRETS_MANAGER,
        )
    except (ValidationError, NotFoundError) as exc:
        message = exc.message if isinstance(exc, NotFoundError) else "; ".join(exc.messages)
        raise ServiceError(f"The resource controller refused a new key: {message}") from None
    return {
        "payload": key.credentials,
        "version_data": {
            "resource_key": {"crn": key.crn, "name": key.name},
            "serviceid_crn": key.serviceid_crn,
        },
        "credentials_id": key.crn,
        "undo": lambda: get_resource_controller().delete_resource_key(
            crn=key.crn, actor=SECRETS_MANAGER
        ),
    }


@transaction.atomic
def secret_rotate(
    *,
    principal: Principal,
    secret_id: UUID | str,
    payload: str | None = None,
    version_custom_metadata: dict[str, Any] | None = None,
    automatic: bool = False,
    custom_metadata: dict[str, Any] | None = None,
) -> Rotation:
    """Rotate now. `payload` is the new value of an arbitrary secret (required for that type,
    refused for the others). `automatic` marks a scheduled rotation (the sweep's principal).
    `custom_metadata`, when given, replaces the secret's own (the API's version prototypes)."""
    secret = secret_for_principal(principal, secret_id, "secret.rotate", for_update=True)
    metadata = validation.validate_metadata(
        version_custom_metadata, field="version_custom_metadata"
    )
    if custom_metadata is not None:
        secret.custom_metadata = validation.validate_metadata(custom_metadata)
    if blocker := rotation_blocker(secret):
        if secret.secret_type == SecretType.IAM_CREDENTIALS:
            raise RotationNotSupportedError(blocker)
        raise ConflictError(blocker)
    require_rotation_unlocked(secret)  # a locked previous version would be pushed out
    if secret.secret_type == SecretType.ARBITRARY:
        if payload is None or payload == "":
            raise ValidationError({"payload": "Enter or upload the new value."})
        validation.validate_arbitrary_payload(payload)
    elif payload is not None:
        raise ValidationError(
            {
                "payload": f"A {secret.get_secret_type_display()} secret takes no value: it is generated."
            }
        )
    trigger = (
        TaskTrigger.AUTOMATIC_SECRET_ROTATION if automatic else TaskTrigger.MANUAL_SECRET_ROTATION
    )
    actor = principal.actor
    now = timezone.now()
    result: Rotation
    if secret.secret_type == SecretType.CUSTOM_CREDENTIALS:
        task = task_create(
            actor=actor,
            secret=secret,
            task_type=TaskType.CREATE_CREDENTIALS,
            trigger=trigger,
            version_custom_metadata=metadata,
        )
        result = Rotation(secret=secret, task=task)
        detail: dict[str, Any] = {"task_id": task.pk}
    else:
        expires = secret.expiration_date
        parts: dict[str, Any] = {"payload": payload, "version_data": {}, "credentials_id": ""}
        if secret.secret_type in (SecretType.IAM_CREDENTIALS, SecretType.SERVICE_CREDENTIALS):
            # The lease restarts with every version; a ttl changed since applies from now on.
            expires = now + timedelta(seconds=secret.ttl_seconds) if secret.ttl_seconds else None
            parts = (
                _new_iam_key(secret)
                if secret.secret_type == SecretType.IAM_CREDENTIALS
                else _new_resource_key(secret)
            )
        undo = parts.pop("undo", None)
        try:
            with transaction.atomic():
                version = version_add(
                    actor=actor,
                    secret=secret,
                    payload=parts["payload"],
                    version_custom_metadata=metadata,
                    version_data=parts["version_data"],
                    credentials_id=parts["credentials_id"],
                    auto_rotated=automatic,
                    expiration_date=expires,
                    trigger=trigger,
                )
        except Exception:
            if undo is not None:
                undo()  # the provider's key must not outlive a version that was not written
            raise
        secret.expiration_date = expires
        secret.last_rotation_failed = False
        result = Rotation(secret=secret, version=version)
        detail = {"version_id": str(version.pk), "serial": version.serial}
    secret.next_rotation_date = next_rotation(secret.rotation, now)
    secret.save(
        update_fields=[
            "expiration_date",
            "last_rotation_failed",
            "next_rotation_date",
            "custom_metadata",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        action="secret.rotate",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail={"trigger": trigger, **detail},
    )
    return result


@transaction.atomic
def rotation_bring_forward(*, actor: Actor, secret_id: UUID | str, at: datetime) -> Secret:
    """Move an automatic rotation that is scheduled later to `at` (the demo seed uses it, so a
    newcomer can watch a scheduled rotation happen within minutes). Audited."""
    secret = Secret.objects.select_for_update().get(pk=secret_id)
    if not (secret.rotation or {}).get("auto_rotate"):
        raise ConflictError(f"Secret {secret.name} has no automatic rotation to bring forward.")
    if secret.next_rotation_date is not None and secret.next_rotation_date <= at:
        return secret
    secret.next_rotation_date = at
    secret.save(update_fields=["next_rotation_date", "updated_at"])
    audit_record(
        actor=actor,
        action="secret.rotation_scheduled",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail={"next_rotation_date": at.isoformat()},
    )
    return secret


def rotations_due(*, now: datetime | None = None) -> int:
    """Rotate every active secret whose automatic rotation is due. Each is claimed by moving its
    next_rotation_date on with a conditional update, so two workers never rotate it twice; a
    failure sets last_rotation_failed, which the secret's page shows."""
    now = now or timezone.now()
    due = Secret.objects.filter(
        state=SecretState.ACTIVE, next_rotation_date__lte=now, probe=False
    ).values_list("pk", "next_rotation_date", "rotation")
    rotated = 0
    for secret_id, due_at, policy in due:
        if not (policy or {}).get("auto_rotate"):
            continue
        if _create_task_open(secret_id):
            # A custom credentials rotation still runs (a task may run 24 hours, longer than
            # the shortest interval): wait for it unclaimed. Its success moves
            # next_rotation_date on; after a failure this rotation is still due.
            continue
        claimed = Secret.objects.filter(pk=secret_id, next_rotation_date=due_at).update(
            next_rotation_date=next_rotation(policy, now)
        )
        if not claimed:
            continue
        try:
            secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=secret_id, automatic=True)
        except (ServiceError, ValidationError) as exc:
            logger.warning("automatic rotation of secret %s failed: %s", secret_id, exc)
            Secret.objects.filter(pk=secret_id).update(last_rotation_failed=True)
            audit_record(
                actor=SECRETS_MANAGER,
                action="secret.rotate_failed",
                object_type="secret",
                object_id=str(secret_id),
                detail={"reason": str(getattr(exc, "message", exc))[:512]},
            )
            continue
        rotated += 1
    return rotated
