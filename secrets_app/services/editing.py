"""Editing a secret's metadata and a version's metadata (merge-patch: only the keys given change).

What each type may change (sm-api.md §4.7, §6: the *MetadataPatch models):
- every type: name, description, labels, custom_metadata, and (console only) the group;
- arbitrary: expiration_date;
- IAM, service and custom credentials: rotation and ttl; a ttl applies from the next version;
- custom credentials: parameters, whose values change and apply from the next version; the
  set of parameters comes from the configuration's schema, so none is added or removed here.

Moving a secret to another group needs Writer on both groups. IBM's API refuses a group change
("secrets can't be transferred between secret groups", sm-api.md §4.4); the issue asks for it
in the console, so the console offers it and the API (which sends no secret_group_id in a patch)
does not.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console import validation
from console.audit import audit_record
from console.errors import ConflictError
from engines_app import schema as schemas
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import Secret, SecretType, SecretVersion
from secrets_app.services.creation import set_labels
from secrets_app.services.groups import group_get
from secrets_app.services.iam_credentials import next_rotation
from secrets_app.services.reading import secret_for_principal, version_for

COMMON_FIELDS = {"name", "description", "labels", "custom_metadata", "secret_group_id"}
TYPE_FIELDS = {
    SecretType.ARBITRARY: {"expiration_date"},
    SecretType.IAM_CREDENTIALS: {"rotation", "ttl"},
    SecretType.SERVICE_CREDENTIALS: {"rotation", "ttl"},
    SecretType.CUSTOM_CREDENTIALS: {"rotation", "ttl", "parameters"},
}


def _clean_parameters(secret: Secret, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError({"parameters": "Parameters must be an object of name → value."})
    assert secret.configuration is not None
    declared = {d.name for d in schemas.declarations(secret.configuration.schema, "parameter")}
    if unknown := sorted(set(value) - declared):
        raise ValidationError(
            {
                "parameters": f"Configuration {secret.configuration.name} declares no parameter "
                f"{', '.join(unknown)}. Parameters come from the configuration's job; to add "
                "one, the job must declare it and a new configuration be made."
            }
        )
    merged = {**secret.parameters, **value}
    return schemas.validate_against(
        secret.configuration.schema, merged, kind="parameter", field="parameters"
    )


def _clean(secret: Secret, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate every change; collect every field error before raising."""
    allowed = COMMON_FIELDS | TYPE_FIELDS[SecretType(secret.secret_type)]
    errors: dict[str, list[ValidationError]] = {}
    for key in sorted(set(changes) - allowed):
        ValidationError(
            {key: f"A {secret.get_secret_type_display()} secret has no editable {key}."}
        ).update_error_dict(errors)
    cleaned: dict[str, Any] = {}
    ttl_seconds = secret.ttl_seconds
    checks: list[tuple[str, Any]] = [
        ("name", lambda v: validation.validate_name(v)),
        ("description", lambda v: validation.validate_description(v or "")),
        ("labels", lambda v: validation.validate_labels(v)),
        ("custom_metadata", lambda v: validation.validate_metadata(v)),
        ("secret_group_id", lambda v: validation.validate_secret_group_id(v)),
        ("expiration_date", lambda v: validation.validate_expiration_date(v)),
        ("parameters", lambda v: _clean_parameters(secret, v)),
        ("ttl", lambda v: validation.parse_ttl(v, secret_type=secret.secret_type)),
    ]
    for key, check in checks:
        if key in changes and key in allowed:
            try:
                cleaned[key] = check(changes[key])
            except ValidationError as exc:
                exc.update_error_dict(errors)
    if "ttl" in cleaned:
        ttl_seconds = cleaned["ttl"]
    if "rotation" in changes and "rotation" in allowed:
        try:
            cleaned["rotation"] = validation.validate_rotation(
                changes["rotation"],
                secret_type=secret.secret_type,
                ttl_seconds=ttl_seconds,
                reuse_api_key=secret.reuse_api_key
                if secret.secret_type == SecretType.IAM_CREDENTIALS
                else None,
            )
        except ValidationError as exc:
            exc.update_error_dict(errors)
    elif "ttl" in cleaned and secret.rotation and secret.rotation.get("auto_rotate"):
        # A shorter lease must still be at least the rotation interval.
        try:
            validation.validate_rotation(
                secret.rotation,
                secret_type=secret.secret_type,
                ttl_seconds=ttl_seconds,
                reuse_api_key=secret.reuse_api_key
                if secret.secret_type == SecretType.IAM_CREDENTIALS
                else None,
                field="ttl",
            )
        except ValidationError as exc:
            exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def secret_metadata_update(
    *, principal: Principal, secret_id: UUID | str, changes: dict[str, Any]
) -> Secret:
    """Apply a merge-patch of the secret's metadata; audited with the names of what changed."""
    secret = secret_for_principal(principal, secret_id, "secret.update", for_update=True)
    cleaned = _clean(secret, changes)
    changed: list[str] = []
    if "name" in cleaned and cleaned["name"] != secret.name:
        taken = (
            Secret.objects.filter(secret_type=secret.secret_type, name=cleaned["name"])
            .exclude(pk=secret.pk)
            .exists()
        )
        if taken:
            raise ConflictError(
                f"A {secret.get_secret_type_display()} secret named {cleaned['name']!r} already "
                "exists. Names are unique per secret type across all groups.",
                field="name",
            )
    if "secret_group_id" in cleaned and cleaned["secret_group_id"] != secret.secret_group_id:
        target = group_get(cleaned["secret_group_id"])
        get_iam().authorize(principal, "secret.create", secret_group_id=target.pk)
        secret.secret_group = target
        changed.append("secret_group_id")
    for key in ("name", "description", "custom_metadata", "expiration_date", "parameters"):
        if key in cleaned and getattr(secret, key) != cleaned[key]:
            setattr(secret, key, cleaned[key])
            changed.append(key)
    if "expiration_date" in changed:
        # An arbitrary secret's versions have no lease of their own: the ones that still hold
        # a value expire with the secret, at its new date (leases_expire reads theirs).
        SecretVersion.objects.filter(secret=secret, payload_available=True).update(
            expiration_date=secret.expiration_date
        )
    if "labels" in cleaned and cleaned["labels"] != secret.labels:
        secret.labels = cleaned["labels"]
        set_labels(secret, cleaned["labels"])
        changed.append("labels")
    if "ttl" in cleaned and cleaned["ttl"] != secret.ttl_seconds:
        secret.ttl_seconds = cleaned["ttl"]  # the current lease stays; the next version's uses it
        changed.append("ttl")
    if "rotation" in cleaned and cleaned["rotation"] != secret.rotation:
        secret.rotation = cleaned["rotation"]
        secret.next_rotation_date = next_rotation(cleaned["rotation"], timezone.now())
        changed.append("rotation")
    if changed:
        secret.save()
        audit_record(
            actor=principal.actor,
            action="secret.update",
            object_type="secret",
            object_id=str(secret.pk),
            object_name=secret.name,
            detail={"changed": changed},
        )
    return secret


@transaction.atomic
def secret_version_metadata_update(
    *,
    principal: Principal,
    secret_id: UUID | str,
    version: str,
    version_custom_metadata: dict[str, Any],
) -> SecretVersion:
    """Replace a version's custom metadata (IBM's merge-patch of {version_custom_metadata})."""
    secret = secret_for_principal(principal, secret_id, "secret.update", for_update=True)
    found = version_for(secret, version)
    metadata = validation.validate_metadata(
        version_custom_metadata, field="version_custom_metadata"
    )
    if metadata != found.version_custom_metadata:
        found.version_custom_metadata = metadata
        found.save(update_fields=["version_custom_metadata"])
        audit_record(
            actor=principal.actor,
            action="secret_version.update",
            object_type="secret",
            object_id=str(secret.pk),
            object_name=secret.name,
            detail={"version_id": str(found.pk), "serial": found.serial},
        )
    return found
