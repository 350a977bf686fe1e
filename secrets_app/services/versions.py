"""Secrets and versions: what every secret type shares, and arbitrary secrets."""

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
from console.errors import ConflictError, NotFoundError
from console.identity import Actor
from secrets_app.models import (
    DEFAULT_GROUP_ID,
    Secret,
    SecretGroup,
    SecretLabel,
    SecretState,
    SecretType,
    SecretVersion,
    VersionAlias,
)
from secrets_app.services.groups import group_get

Payload = str | dict[str, Any]


def common_secret_fields(
    *,
    name: str,
    secret_type: str,
    secret_group_id: str,
    description: str,
    labels: list[str] | None,
    custom_metadata: dict[str, Any] | None,
    version_custom_metadata: dict[str, Any] | None,
) -> tuple[SecretGroup, dict[str, Any]]:
    """Validate what every secret type shares; collect every field error before raising."""
    errors: dict[str, list[ValidationError]] = {}
    cleaned: dict[str, Any] = {}
    checks = [
        ("name", lambda: validation.validate_name(name)),
        ("description", lambda: validation.validate_description(description)),
        ("labels", lambda: validation.validate_labels(labels)),
        ("custom_metadata", lambda: validation.validate_metadata(custom_metadata)),
        (
            "version_custom_metadata",
            lambda: validation.validate_metadata(
                version_custom_metadata, field="version_custom_metadata"
            ),
        ),
        ("secret_group_id", lambda: validation.validate_secret_group_id(secret_group_id)),
    ]
    for field, check in checks:
        try:
            cleaned[field] = check()
        except ValidationError as exc:
            errors.update(exc.error_dict)
    if errors:
        raise ValidationError(errors)
    group = group_get(secret_group_id)
    if Secret.objects.filter(secret_type=secret_type, name=name).exists():
        raise ConflictError(
            f"A {SecretType(secret_type).label} secret named {name!r} already exists. "
            "Names are unique per secret type across all groups.",
            field="name",
        )
    return group, cleaned


def set_labels(secret: Secret, labels: list[str]) -> None:
    secret.label_rows.all().delete()
    SecretLabel.objects.bulk_create([SecretLabel(secret=secret, name=label) for label in labels])


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


def secret_row_create(
    *,
    actor: Actor,
    secret_type: str,
    group: SecretGroup,
    cleaned: dict[str, Any],
    state: int = SecretState.ACTIVE,
    **type_fields: Any,
) -> Secret:
    """The Secret row and its label rows, from fields `common_secret_fields` validated.

    `type_fields` are the type's own columns (ttl_seconds, rotation, configuration, ...).
    """
    secret = Secret.objects.create(
        name=cleaned["name"],
        description=cleaned["description"],
        secret_type=secret_type,
        secret_group=group,
        state=state,
        labels=cleaned["labels"],
        custom_metadata=cleaned["custom_metadata"],
        created_by=actor.iam_id,
        **type_fields,
    )
    set_labels(secret, cleaned["labels"])
    return secret


@transaction.atomic
def arbitrary_secret_create(
    *,
    actor: Actor,
    name: str,
    payload: str,
    secret_group_id: str = DEFAULT_GROUP_ID,
    description: str = "",
    labels: list[str] | None = None,
    custom_metadata: dict[str, Any] | None = None,
    version_custom_metadata: dict[str, Any] | None = None,
    expiration_date: datetime | None = None,
) -> Secret:
    group, cleaned = common_secret_fields(
        name=name,
        secret_type=SecretType.ARBITRARY,
        secret_group_id=secret_group_id,
        description=description,
        labels=labels,
        custom_metadata=custom_metadata,
        version_custom_metadata=version_custom_metadata,
    )
    validation.validate_arbitrary_payload(payload)
    validation.validate_expiration_date(expiration_date)
    secret = secret_row_create(
        actor=actor,
        secret_type=SecretType.ARBITRARY,
        group=group,
        cleaned=cleaned,
        expiration_date=expiration_date,
    )
    version_add(
        actor=actor,
        secret=secret,
        payload=payload,
        version_custom_metadata=cleaned["version_custom_metadata"],
        expiration_date=expiration_date,
    )
    audit_record(
        actor=actor,
        action="secret.create",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=name,
    )
    return secret


def secret_get_for_update(secret_id: UUID | str) -> Secret:
    try:
        return Secret.objects.select_for_update().get(pk=secret_id)
    except (Secret.DoesNotExist, ValidationError, ValueError):
        raise NotFoundError(f"Secret {secret_id} does not exist.") from None


@transaction.atomic
def arbitrary_secret_rotate(
    *,
    actor: Actor,
    secret_id: UUID | str,
    payload: str,
    version_custom_metadata: dict[str, Any] | None = None,
) -> SecretVersion:
    secret = secret_get_for_update(secret_id)
    if secret.secret_type != SecretType.ARBITRARY:
        raise ConflictError("Only arbitrary secrets take a new value directly.")
    validation.validate_arbitrary_payload(payload)
    metadata = validation.validate_metadata(
        version_custom_metadata, field="version_custom_metadata"
    )
    version = version_add(
        actor=actor, secret=secret, payload=payload, version_custom_metadata=metadata
    )
    audit_record(
        actor=actor,
        action="secret.rotate",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail={"version_id": str(version.pk), "serial": version.serial},
    )
    return version


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
