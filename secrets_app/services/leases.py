"""Leases: what happens when a version's ttl ends, or an arbitrary secret's expiration date comes.

- A version whose lease ended loses its payload, and its credentials are retired
  (`credentials_retire`): the IAM API key or the resource key is deleted; custom credentials
  get a delete_credentials task with trigger secret_version_expiration.
- A secret whose current version's lease ended (IAM credentials with reuse on, service and
  custom credentials) or whose expiration date came (arbitrary) moves to Destroyed, IBM's state
  for expired secrets, with the reason shown. An IAM credentials secret with reuse off stays
  active: its next read issues a new key. A generated service ID is deleted once no version
  holds a key (iam-credentials.md: "the API key (and a generated service ID) is deleted").

A locked version keeps its data past its lease (IBM: a lock protects a version's data even after
it expires): it is erased at the first sweep after its last lock is removed. Its secret still
moves to Destroyed when its lease ends.

Each version and secret is claimed with a conditional update (payload_available, state), so
two workers never expire the same one twice.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from console.audit import audit_record
from secrets_app.models import (
    Secret,
    SecretState,
    SecretType,
    SecretVersion,
    TaskTrigger,
    VersionAlias,
)
from secrets_app.services.credentials import (
    SECRETS_MANAGER,
    credentials_retire,
    generated_service_id_delete,
)
from secrets_app.services.versions import payload_erase


def _expire_version(version_id: UUID, now: datetime) -> bool:
    with transaction.atomic():
        claimed = SecretVersion.objects.filter(
            pk=version_id, payload_available=True, expiration_date__lte=now, locks__isnull=True
        ).update(
            # The claim and the erasure in one conditional update (as set_sealed(None) does).
            payload_available=False,
            sealed_key_id="",
            sealed_wrapped_key=None,
            sealed_ciphertext=None,
        )
        if not claimed:
            return False
        version = SecretVersion.objects.select_related("secret").get(pk=version_id)
        secret = version.secret
        credentials_retire(
            actor=SECRETS_MANAGER,
            secret=secret,
            version=version,
            trigger=TaskTrigger.SECRET_VERSION_EXPIRATION,
        )
        audit_record(
            actor=SECRETS_MANAGER,
            action="secret_version.expire",
            object_type="secret",
            object_id=str(secret.pk),
            object_name=secret.name,
            detail={"version_id": str(version.pk), "serial": version.serial},
        )
    return True


def _expire_secret(secret_id: UUID, now: datetime) -> bool:
    with transaction.atomic():
        secret = Secret.objects.select_for_update().filter(pk=secret_id).first()
        if secret is None or secret.expiration_date is None or secret.expiration_date > now:
            return False
        if secret.secret_type == SecretType.IAM_CREDENTIALS and not secret.reuse_api_key:
            return False  # each read issues a new key with its own lease
        claimed = Secret.objects.filter(pk=secret.pk, state=SecretState.ACTIVE).update(
            state=SecretState.DESTROYED,
            state_reason=f"The lease ended on {secret.expiration_date:%Y-%m-%d %H:%M} UTC.",
            updated_at=now,
        )
        if not claimed:
            return False
        unlocked = SecretVersion.objects.filter(
            secret=secret, payload_available=True, locks__isnull=True
        )
        for version in unlocked:
            payload_erase(version)
            credentials_retire(
                actor=SECRETS_MANAGER,
                secret=secret,
                version=version,
                trigger=TaskTrigger.SECRET_VERSION_EXPIRATION,
            )
        generated_service_id_delete(secret=secret)
        audit_record(
            actor=SECRETS_MANAGER,
            action="secret.expire",
            object_type="secret",
            object_id=str(secret.pk),
            object_name=secret.name,
        )
    return True


def leases_expire(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    versions = 0
    # Versions other than the current one of an active secret first (previous keys left to their
    # own lease, and the keys of reuse-off reads); that current version ends with its secret
    # below. A destroyed secret's versions are here too: those a lock kept past the lease.
    due_versions = (
        SecretVersion.objects.filter(
            payload_available=True, expiration_date__lte=now, locks__isnull=True
        )
        .exclude(
            alias=VersionAlias.CURRENT,
            secret__reuse_api_key=True,
            secret__state=SecretState.ACTIVE,
        )
        .exclude(
            alias=VersionAlias.CURRENT,
            secret__secret_type__in=_ENDS_WITH_SECRET,
            secret__state=SecretState.ACTIVE,
        )
        .values_list("pk", flat=True)
    )
    for version_id in list(due_versions):
        versions += _expire_version(version_id, now)
    secrets = 0
    due_secrets = Secret.objects.filter(
        state=SecretState.ACTIVE, expiration_date__lte=now, probe=False
    ).values_list("pk", flat=True)
    for secret_id in list(due_secrets):
        secrets += _expire_secret(secret_id, now)
    return {"versions": versions, "secrets": secrets}


# Types whose current version's lease is the secret's: it ends in _expire_secret.
_ENDS_WITH_SECRET = [
    SecretType.ARBITRARY,
    SecretType.SERVICE_CREDENTIALS,
    SecretType.CUSTOM_CREDENTIALS,
]
