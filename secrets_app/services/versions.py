"""Versions: adding one (current → previous → payload erased), and reading a payload (audited)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console import crypto, validation
from console.audit import audit_record
from console.errors import NotFoundError
from console.identity import Actor
from secrets_app.models import (
    Secret,
    SecretVersion,
    TaskTrigger,
    VersionAlias,
)
from secrets_app.services.credentials import credentials_retire
from secrets_app.services.lock_rules import require_versions_unlocked

Payload = str | dict[str, Any]


def _encode_payload(payload: Payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


DIGEST_PURPOSE = "payload-field-digest"


def _flatten(value: Any, prefix: str, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), into)
    else:
        into[prefix or "payload"] = value


def payload_digests(*, secret_id: UUID | str, payload: Payload) -> dict[str, Any]:
    """Keyed hashes (HMAC-SHA256) of each field of a payload, for the redacted diff.

    A string payload is the one field "payload"; a dict is flattened to dotted paths. Each value
    is canonicalised as JSON and hashed with its path and the secret's id, under a key derived
    from the active root key, whose id is kept beside the hashes: hashes made under another root
    key cannot be compared. No value is kept, and equal values in two secrets hash differently.
    """
    key_id, key = crypto.derive_key(DIGEST_PURPOSE)
    fields: dict[str, Any] = {}
    _flatten(payload, "", fields)
    digests = {}
    for path, value in sorted(fields.items()):
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        message = f"{secret_id}\0{path}\0{canonical}".encode()
        digests[path] = hmac.new(key, message, hashlib.sha256).hexdigest()
    return {"key_id": key_id, "fields": digests}


def payload_erase(version: SecretVersion, *, also: tuple[str, ...] = ()) -> None:
    """Forget a version's payload: only its metadata remains."""
    version.payload_available = False
    version.set_sealed(None)
    version.save(
        update_fields=[
            "payload_available",
            "sealed_key_id",
            "sealed_wrapped_key",
            "sealed_ciphertext",
            *also,
        ]
    )


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
    trigger: str = TaskTrigger.MANUAL_SECRET_ROTATION,
    also_save: Sequence[str] = (),
) -> SecretVersion:
    """Add a version as `current`. The old current becomes `previous`; the old previous loses
    its payload, and its provider credentials are retired (`credentials_retire`, with `trigger`
    for a custom credentials delete task: UNVERIFIED which trigger IBM uses there; we use the
    one of the rotation that pushed it out).

    A previous version whose credentials the new one takes over (same `credentials_id`, as in a
    restore) loses its payload but not its credentials.

    Callers hold a transaction (and a lock on the secret's row) and have validated the inputs.
    The secret's row is saved with its new versions_total, and with the fields in `also_save`
    that the caller changed on it (one UPDATE instead of two).
    A locked previous version is never pushed out (409, naming its locks; services.locks).
    """
    versions = SecretVersion.objects.filter(secret=secret)
    previous = list(versions.filter(alias=VersionAlias.PREVIOUS))
    require_versions_unlocked(
        previous, doing="add a new version, which would delete the previous version's data"
    )
    for old in previous:
        old.alias = None
        payload_erase(old, also=("alias",))
        if credentials_id and old.credentials_id == credentials_id:
            continue  # a restore: the new version takes these credentials over
        credentials_retire(actor=actor, secret=secret, version=old, trigger=trigger)
    versions.filter(alias=VersionAlias.CURRENT).update(alias=VersionAlias.PREVIOUS)
    # Metadata is kept for the newest 50 versions only: the newest serials before this one
    # give its serial, the versions it pushes out and the count in one query (instead of a
    # MAX, the list of stale ids and a COUNT: issue 13's profile of the job's callback).
    newest = list(
        versions.order_by("-serial").values_list("serial", flat=True)[: validation.VERSIONS_KEPT]
    )
    serial = (newest[0] if newest else 0) + 1
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
        payload_digests=payload_digests(secret_id=secret.pk, payload=payload),
    )
    version.set_sealed(crypto.seal(_encode_payload(payload), context=version.seal_context()))
    version.save(force_insert=True)
    kept = [serial, *newest[: validation.VERSIONS_KEPT - 1]]
    if len(newest) == validation.VERSIONS_KEPT:
        versions.filter(serial__lt=kept[-1]).delete()
    secret.versions_total = len(kept)
    secret.save(update_fields=["versions_total", "updated_at", *also_save])
    return version


def payload_gone_reason(version: SecretVersion) -> str:
    """Why a version keeps no payload, in a sentence (empty while it keeps one)."""
    if version.payload_available:
        return ""
    if version.expiration_date is not None and version.expiration_date <= timezone.now():
        return f"its lease ended on {version.expiration_date:%Y-%m-%d %H:%M} UTC and its data was deleted."
    if version.alias is None:
        return "only the current and previous versions keep their payload."
    if version.credentials_deleted_at is not None:
        return "its credentials were deleted."
    return "its data was deleted."


def payload_open(version: SecretVersion) -> Payload:
    """A kept payload, for a service that reuses it without showing it (a restore). Not a read:
    it is not audited as one and does not mark the version downloaded."""
    sealed = version.get_sealed()
    if not version.payload_available or sealed is None:
        raise NotFoundError(
            f"The data of version {version.serial} is no longer kept: {payload_gone_reason(version)}"
        )
    value: Payload = json.loads(crypto.open_sealed(sealed, context=version.seal_context()))
    return value


def secret_get_for_update(secret_id: UUID | str) -> Secret:
    try:
        return Secret.objects.select_for_update().get(pk=secret_id)
    except (Secret.DoesNotExist, ValidationError, ValueError):
        raise NotFoundError(f"Secret {secret_id} does not exist.") from None


@transaction.atomic
def secret_version_payload_read(
    *, actor: Actor, version_id: UUID | str, reason: str = ""
) -> Payload:
    """Decrypt one version's payload. Audited (with the reader's `reason`, if given), and marks
    the secret and version as downloaded."""
    try:
        version = SecretVersion.objects.select_related("secret").get(pk=version_id)
    except (SecretVersion.DoesNotExist, ValidationError, ValueError):
        raise NotFoundError(f"Secret version {version_id} does not exist.") from None
    sealed = version.get_sealed()
    if not version.payload_available or sealed is None:
        raise NotFoundError(
            f"The data of version {version.serial} is no longer kept: {payload_gone_reason(version)}"
        )
    plaintext = crypto.open_sealed(sealed, context=version.seal_context())
    now = timezone.now()
    if not version.downloaded:  # a write per read only the first time (each job run reads its key)
        SecretVersion.objects.filter(pk=version.pk).update(downloaded=True)
    Secret.objects.filter(pk=version.secret_id).update(downloaded=True, retrieved_at=now)
    audit_record(
        actor=actor,
        action="secret.read_payload",
        object_type="secret",
        object_id=str(version.secret_id),
        object_name=version.secret.name,
        detail={
            "version_id": str(version.pk),
            "serial": version.serial,
            **({"reason": reason} if reason else {}),
        },
    )
    value: Payload = json.loads(plaintext)
    return value
