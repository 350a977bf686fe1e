"""The provider's side of a version: retiring the credentials a version no longer needs.

A version's credentials live at a provider: an API key in IAM (iam_credentials), a resource key
on a service instance (service_credentials), or whatever the credentials provider job created
(custom_credentials, identified by the version's credentials_id). When a version drops out of
current/previous, when its lease ends, or when its secret is deleted, they are retired:

- IAM and service credentials are deleted synchronously through the provider interface;
- custom credentials get a delete_credentials task, which the configuration's job carries out
  and reports on; the version's `credentials_deleted_at` is set when it reports
  credentials_deleted (secret_task_update).

Arbitrary secrets have no provider side.
"""

from __future__ import annotations

import contextlib
import logging

from django.utils import timezone

from console.audit import audit_record
from console.errors import NotFoundError, ServiceError
from console.identity import Actor
from engines_app.providers.iam import get_iam
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app.models import (
    Secret,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskStatus,
    TaskType,
)
from secrets_app.services.task_queue import task_create

logger = logging.getLogger(__name__)

OPEN_TASK_STATUSES = (TaskStatus.QUEUED, TaskStatus.PROCESSING)

# Secrets Manager acting on its own behalf at a provider: issuing, locking and deleting the
# credentials it manages, whoever's request (a read, a rotation) or sweep led there.
SECRETS_MANAGER = Actor(iam_id="iam-ServiceId-secrets-manager", name="Secrets Manager", system=True)


def holds_provider_credentials(version: SecretVersion) -> bool:
    """Whether the provider may still hold this version's credentials."""
    return bool(version.credentials_id) and version.credentials_deleted_at is None


def _mark_deleted(version: SecretVersion) -> None:
    version.credentials_deleted_at = timezone.now()
    SecretVersion.objects.filter(pk=version.pk).update(
        credentials_deleted_at=version.credentials_deleted_at
    )


def _delete_at_provider(*, secret: Secret, version: SecretVersion) -> None:
    actor = SECRETS_MANAGER
    try:
        if secret.secret_type == SecretType.IAM_CREDENTIALS:
            get_iam().delete_api_key(actor=actor, api_key_id=version.credentials_id)
        else:
            get_resource_controller().delete_resource_key(crn=version.credentials_id, actor=actor)
    except NotFoundError:
        pass  # already gone: that is what we wanted
    except ServiceError as exc:
        # Keep going (the rotation or expiry that retires it must not fail for this), and say
        # so: the version keeps credentials_deleted_at empty, so the record shows it may exist.
        logger.warning("credentials of version %s not deleted: %s", version.pk, exc.code)
        audit_record(
            actor=actor,
            action="credentials.delete_failed",
            object_type="secret_version",
            object_id=str(version.pk),
            object_name=secret.name,
            detail={"code": exc.code},
        )
        return
    _mark_deleted(version)


def delete_task_open(version: SecretVersion) -> bool:
    return SecretTask.objects.filter(
        secret_version_ref=version.pk,
        type=TaskType.DELETE_CREDENTIALS,
        status__in=OPEN_TASK_STATUSES,
    ).exists()


def credentials_retire(
    *, actor: Actor, secret: Secret, version: SecretVersion, trigger: str
) -> SecretTask | None:
    """Retire a version's provider credentials (see the module docstring). Idempotent.

    Returns the delete task queued for custom credentials, if one was. Callers hold a
    transaction; a custom credentials task is dispatched once it commits.
    """
    if not holds_provider_credentials(version):
        return None
    if secret.secret_type == SecretType.CUSTOM_CREDENTIALS:
        if delete_task_open(version):
            return None
        return task_create(
            actor=actor,
            secret=secret,
            task_type=TaskType.DELETE_CREDENTIALS,
            trigger=trigger,
            version=version,
        )
    if secret.secret_type in (SecretType.IAM_CREDENTIALS, SecretType.SERVICE_CREDENTIALS):
        _delete_at_provider(secret=secret, version=version)
    return None


def generated_service_id_delete(*, secret: Secret) -> None:
    """Delete the service ID Secrets Manager generated for an IAM credentials secret (never a
    service ID the user supplied)."""
    if secret.secret_type != SecretType.IAM_CREDENTIALS or secret.service_id_is_static:
        return
    if not secret.service_id:
        return
    with contextlib.suppress(NotFoundError):
        get_iam().delete_service_id(actor=SECRETS_MANAGER, service_id=secret.service_id)
