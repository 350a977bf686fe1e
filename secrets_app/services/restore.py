"""Restore: a new version of an IAM credentials secret made from an earlier version's API key
(`restore_from_version`, sm-api.md §6.1; the docs' "Restoring a previous version").

What it does here: version N+1 becomes current with version X's API key, API key ID and service
ID; the old current becomes previous; X itself keeps its record but no payload (only current and
previous keep one). The API key is not retired, since the new version holds it.

UNVERIFIED where IBM's docs are silent, decided here:
- only IAM credentials restore (the only SecretVersionPrototype with restore_from_version);
- X must still keep its payload (so it is the previous version: the current one is what a
  restore replaces) and its API key must still exist in IAM, otherwise the restore is refused
  with the reason;
- the secret must be active with Reuse IAM credentials on (as for a manual rotation: with reuse
  off, each read issues a new key anyway);
- the new version keeps X's lease end (the key's lease does not restart: it is the same key).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction

from console import validation
from console.audit import audit_record
from console.errors import ServiceError
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import Secret, SecretState, SecretType, SecretVersion, VersionAlias
from secrets_app.services.credentials import SECRETS_MANAGER
from secrets_app.services.lock_rules import require_rotation_unlocked
from secrets_app.services.reading import secret_for_principal, version_for
from secrets_app.services.versions import payload_gone_reason, payload_open, version_add


class RestoreRefusedError(ServiceError):
    code = "restore_not_possible"
    status = 400


def restore_blocker(secret: Secret, version: SecretVersion) -> str:
    """Why `version` cannot be restored, or "" when it can (from what the database knows; the
    restore itself also checks that the API key still exists in IAM)."""
    if secret.secret_type != SecretType.IAM_CREDENTIALS:
        return "Only IAM credentials secrets can be restored from an earlier version."
    if secret.state != SecretState.ACTIVE:
        return f"The secret is {secret.get_state_display().lower()}; only an active secret can be restored."
    if not secret.reuse_api_key:
        return (
            "Reuse IAM credentials is off: each read issues a new API key, so there is no key "
            "to go back to."
        )
    if version.alias == VersionAlias.CURRENT:
        return f"Version {version.serial} is already the current version."
    if not version.payload_available:
        return f"Version {version.serial} keeps no API key: {payload_gone_reason(version)}"
    if not version.credentials_id or version.credentials_deleted_at is not None:
        return f"The API key of version {version.serial} was deleted in IAM."
    return ""


@transaction.atomic
def secret_restore(
    *,
    principal: Principal,
    secret_id: UUID | str,
    version_id: UUID | str,
    version_custom_metadata: dict[str, Any] | None = None,
    custom_metadata: dict[str, Any] | None = None,
) -> SecretVersion:
    """Make version N+1 from version `version_id`'s API key. Needs Writer (as a rotation). Audited.

    The new version's metadata records where it came from, plus `version_custom_metadata`;
    `custom_metadata`, when given, replaces the secret's own (the API's restore prototype)."""
    secret = secret_for_principal(principal, secret_id, "secret.rotate", for_update=True)
    extra = validation.validate_metadata(version_custom_metadata, field="version_custom_metadata")
    if custom_metadata is not None:
        secret.custom_metadata = validation.validate_metadata(custom_metadata)
    source = version_for(secret, str(version_id))
    if blocker := restore_blocker(secret, source):
        raise RestoreRefusedError(blocker)
    require_rotation_unlocked(secret)  # the restored-from previous version would lose its data
    payload = payload_open(source)
    if not isinstance(payload, dict) or not get_iam().api_key_is_valid(
        str(payload.get("api_key", ""))
    ):
        raise RestoreRefusedError(
            f"The API key of version {source.serial} no longer exists in IAM: it cannot be restored."
        )
    metadata = validation.validate_metadata(
        {**extra, "restored_from_version": source.serial}, field="version_custom_metadata"
    )
    version = version_add(
        actor=principal.actor,
        secret=secret,
        payload=payload,
        version_custom_metadata=metadata,
        version_data=dict(source.version_data),
        credentials_id=source.credentials_id,
        expiration_date=source.expiration_date,
    )
    get_iam().lock_api_key(actor=SECRETS_MANAGER, api_key_id=source.credentials_id)
    secret.expiration_date = source.expiration_date
    secret.last_rotation_failed = False
    secret.save(
        update_fields=["expiration_date", "last_rotation_failed", "custom_metadata", "updated_at"]
    )
    audit_record(
        actor=principal.actor,
        action="secret.restore",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail={
            "from_version_id": str(source.pk),
            "from_serial": source.serial,
            "version_id": str(version.pk),
            "serial": version.serial,
        },
    )
    return version
