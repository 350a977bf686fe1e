"""Versions: adding one (current → previous → payload erased), and reading a payload (audited)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from console import crypto, validation
from console.audit import audit_record
from console.errors import NotFoundError
from console.identity import Actor
from secrets_app.models import (
    Secret,
    SecretVersion,
    VersionAlias,
)

Payload = str | dict[str, Any]


def _encode_payload(payload: Payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def version_add(
    *,
    actor: Actor,
    secret: Secret,
    payload: Payload,
    version_custom_metadata: dict[str, Any] | None = None,
    version_data: dict[str, Any] | None = None,
    credentials_id: str = "",
    auto_rotated: bool = False,
    expiration_date: datetime | None = None,
) -> SecretVersion:
    """Add a version as `current`. The old current becomes `previous`; older payloads are erased.

    Callers hold a transaction and have validated the inputs.
    """
    versions = SecretVersion.objects.filter(secret=secret)
    for old in versions.filter(alias=VersionAlias.PREVIOUS):
        old.alias = None
        old.payload_available = False
        old.set_sealed(None)
        old.save(
            update_fields=[
                "alias",
                "payload_available",
                "sealed_key_id",
                "sealed_wrapped_key",
                "sealed_ciphertext",
            ]
        )
    versions.filter(alias=VersionAlias.CURRENT).update(alias=VersionAlias.PREVIOUS)
    serial = (versions.aggregate(m=Max("serial"))["m"] or 0) + 1
    version = SecretVersion(
        secret=secret,
        serial=serial,
        alias=VersionAlias.CURRENT,
        version_custom_metadata=version_custom_metadata or {},
        version_data=version_data or {},
        credentials_id=credentials_id,
        auto_rotated=auto_rotated,
        expiration_date=expiration_date,
        created_by=actor.iam_id,
        payload_available=True,
    )
    version.set_sealed(crypto.seal(_encode_payload(payload), context=version.seal_context()))
    version.save(force_insert=True)
    # Metadata is kept for the newest 50 versions only.
    stale = list(
        versions.order_by("-serial").values_list("pk", flat=True)[validation.VERSIONS_KEPT :]
    )
    if stale:
        SecretVersion.objects.filter(pk__in=stale).delete()
    secret.versions_total = versions.count()
    secret.save(update_fields=["versions_total", "updated_at"])
    return version


def secret_get_for_update(secret_id: UUID | str) -> Secret:
    try:
        return Secret.objects.select_for_update().get(pk=secret_id)
    except (Secret.DoesNotExist, ValidationError, ValueError):
        raise NotFoundError(f"Secret {secret_id} does not exist.") from None


@transaction.atomic
def secret_version_payload_read(*, actor: Actor, version_id: UUID | str) -> Payload:
    """Decrypt one version's payload. Audited, and marks the secret and version as downloaded."""
    try:
        version = SecretVersion.objects.select_related("secret").get(pk=version_id)
    except (SecretVersion.DoesNotExist, ValidationError, ValueError):
        raise NotFoundError(f"Secret version {version_id} does not exist.") from None
    sealed = version.get_sealed()
    if not version.payload_available or sealed is None:
        raise NotFoundError(
            f"The data of version {version.serial} is no longer kept: only the current and "
            "previous versions hold their payload."
        )
    plaintext = crypto.open_sealed(sealed, context=version.seal_context())
    now = timezone.now()
    SecretVersion.objects.filter(pk=version.pk).update(downloaded=True)
    Secret.objects.filter(pk=version.secret_id).update(downloaded=True, retrieved_at=now)
    audit_record(
        actor=actor,
        action="secret.read_payload",
        object_type="secret",
        object_id=str(version.secret_id),
        object_name=version.secret.name,
        detail={"version_id": str(version.pk), "serial": version.serial},
    )
    value: Payload = json.loads(plaintext)
    return value
