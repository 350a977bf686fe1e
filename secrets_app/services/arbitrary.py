"""Arbitrary secrets: a value the user enters or uploads (sm-api.md §7.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Unpack
from uuid import UUID

from django.db import transaction

from console import validation
from console.audit import audit_record
from console.errors import ConflictError
from console.identity import Actor
from secrets_app.models import Secret, SecretType, SecretVersion
from secrets_app.services.creation import (
    FirstVersion,
    SecretDetails,
    SecretPlan,
    secret_create,
)
from secrets_app.services.versions import secret_get_for_update, version_add


def arbitrary_secret_create(
    *,
    actor: Actor,
    payload: str,
    expiration_date: datetime | None = None,
    **details: Unpack[SecretDetails],
) -> Secret:
    def check() -> None:
        validation.validate_arbitrary_payload(payload)
        validation.validate_expiration_date(expiration_date)

    def provision(_: None) -> SecretPlan:
        return SecretPlan(
            columns={"expiration_date": expiration_date},
            first_version=FirstVersion(payload=payload, expiration_date=expiration_date),
        )

    return secret_create(
        actor=actor,
        secret_type=SecretType.ARBITRARY,
        check=check,
        provision=provision,
        **details,
    )


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
