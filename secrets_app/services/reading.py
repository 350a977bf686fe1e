"""Reading a secret's value: the audited Reveal of the console and GET /api/v2/secrets/{id}.

Reading needs the SecretsReader role (or higher) on the secret's group; Reader sees metadata
only. Every read is audited and marks `downloaded` and `retrieved_at`.

IAM credentials (iam-credentials.md, sm-api.md §6.1): with reuse off, each read of the current
version issues a fresh API key for the secret's service ID, as a new version; the key it
replaces is left to its own lease (and deleted once it drops out of current/previous). Every
read locks the keys Secrets Manager issued for the secret, "even if you manually unlock them".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console.audit import AuditSubject
from console.errors import ConflictError, NotFoundError, ServiceError
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import (
    Secret,
    SecretState,
    SecretType,
    SecretVersion,
    TaskTrigger,
    VersionAlias,
)
from secrets_app.services.credentials import SECRETS_MANAGER
from secrets_app.services.iam_credentials import api_key_name
from secrets_app.services.versions import Payload, secret_version_payload_read, version_add

REASON_MAX = 256


@dataclass(frozen=True)
class Revealed:
    version: SecretVersion
    # Left out of the repr, so that logging or printing the result never shows the value.
    payload: Payload = field(default="", repr=False)


def secret_for_principal(
    principal: Principal, secret_id: UUID | str, action: str, *, for_update: bool = False
) -> Secret:
    """The secret, if the principal may perform `action` on its group; 404 when it does not
    exist, 403 when it exists and the action is not allowed."""
    query = Secret.objects.select_for_update() if for_update else Secret.objects
    try:
        secret = query.get(pk=secret_id)
    except (Secret.DoesNotExist, ValidationError, ValueError):
        raise NotFoundError(f"Secret {secret_id} does not exist.") from None
    get_iam().authorize(
        principal,
        action,
        secret_group_id=secret.secret_group_id,
        subject=AuditSubject("secret", str(secret.pk), secret.name),
    )
    return secret


def version_for(secret: Secret, version: str) -> SecretVersion:
    """A version of the secret by id or by the aliases current/previous."""
    query = SecretVersion.objects.filter(secret=secret)
    if version in (VersionAlias.CURRENT, VersionAlias.PREVIOUS):
        found = query.filter(alias=version).first()
    else:
        try:
            found = query.filter(pk=UUID(str(version))).first()
        except ValueError:
            found = None
    if found is None:
        raise NotFoundError(f"Secret {secret.name} has no version {version}.")
    return found


def _iam_fresh_key(principal: Principal, secret: Secret) -> None:
    """Reuse off: a new API key for this read, as a new current version."""
    iam = get_iam()
    actor = principal.actor
    key = iam.create_api_key(
        actor=SECRETS_MANAGER,
        service_id=secret.service_id,
        name=api_key_name(secret.name),
        description=f"Created by Secrets Manager for a read of the IAM credentials secret {secret.name}.",
    )
    now = timezone.now()
    expires = now + timedelta(seconds=secret.ttl_seconds or 0)
    version_add(
        actor=actor,
        secret=secret,
        payload={
            "api_key": key.value,
            "api_key_id": key.api_key_id,
            "service_id": secret.service_id,
        },
        version_data={"api_key_id": key.api_key_id, "service_id": secret.service_id},
        credentials_id=key.api_key_id,
        expiration_date=expires,
        trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
    )
    secret.expiration_date = expires
    secret.save(update_fields=["expiration_date", "updated_at"])


def _lock_issued_keys(secret: Secret) -> None:
    iam = get_iam()
    live = SecretVersion.objects.filter(secret=secret, credentials_deleted_at__isnull=True).exclude(
        credentials_id=""
    )
    for credentials_id in live.values_list("credentials_id", flat=True):
        try:
            iam.lock_api_key(actor=SECRETS_MANAGER, api_key_id=credentials_id)
        except NotFoundError:
            continue  # deleted at the provider meanwhile: nothing to lock


@transaction.atomic
def secret_reveal(
    *, principal: Principal, secret_id: UUID | str, version: str = "current", reason: str = ""
) -> Revealed:
    """The value of a version (current, previous or an id), audited."""
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"A reason is at most {REASON_MAX} characters."})
    secret = secret_for_principal(principal, secret_id, "secret.read", for_update=True)
    if secret.state != SecretState.ACTIVE:
        raise ConflictError(
            f"Secret {secret.name} is {secret.get_state_display().lower()}: it has no value to read."
        )
    if (
        secret.secret_type == SecretType.IAM_CREDENTIALS
        and not secret.reuse_api_key
        and version == VersionAlias.CURRENT
    ):
        try:
            _iam_fresh_key(principal, secret)
        except (NotFoundError, ValidationError) as exc:
            # A read takes no service ID: the IAM's refusal (the service ID is gone, or locked)
            # is the read's error, not a field error.
            why = exc.message if isinstance(exc, NotFoundError) else "; ".join(exc.messages)
            raise ServiceError(
                f"A new API key could not be issued for service ID {secret.service_id}: {why}"
            ) from None
    found = version_for(secret, version)
    payload = secret_version_payload_read(actor=principal.actor, version_id=found.pk, reason=reason)
    if secret.secret_type == SecretType.IAM_CREDENTIALS:
        _lock_issued_keys(secret)
    found.refresh_from_db()
    return Revealed(version=found, payload=payload)
