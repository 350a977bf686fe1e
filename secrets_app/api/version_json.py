"""Secret versions → wire dicts (sm-api.md §4.7, §4.8, §6): SecretVersionMetadata per type, and
SecretVersion with its value fields, which only GET .../versions/{id} hands over (the caller
passes the payload that the audited reveal returned).

Per type, the metadata adds: iam_credentials api_key_id and service_id; service_credentials
resource_key; custom_credentials credentials_id. The value fields: arbitrary payload,
iam_credentials api_key, service_credentials credentials, custom_credentials credentials_content.
"""

from __future__ import annotations

from typing import Any

from console.api import timestamp
from secrets_app.api.schemas.versions import PLACEHOLDER_VERSION_ID
from secrets_app.models import Secret, SecretTask, SecretType, SecretVersion
from secrets_app.services.versions import Payload


def _common(secret: Secret, version: SecretVersion) -> dict[str, Any]:
    return {
        "id": str(version.pk),
        "secret_id": str(secret.pk),
        "secret_name": secret.name,
        "secret_type": secret.secret_type,
        "secret_group_id": secret.secret_group_id,
        "created_by": version.created_by,
        "created_at": timestamp(version.created_at),
        "auto_rotated": version.auto_rotated,
        "downloaded": version.downloaded,
        "payload_available": version.payload_available,
        "alias": version.alias,
        "version_custom_metadata": version.version_custom_metadata,
        "expiration_date": timestamp(version.expiration_date),
    }


def version_metadata_json(secret: Secret, version: SecretVersion) -> dict[str, Any]:
    """A version's metadata: never a value."""
    body = _common(secret, version)
    data = version.version_data or {}
    if secret.secret_type == SecretType.IAM_CREDENTIALS:
        body["api_key_id"] = data.get("api_key_id") or version.credentials_id or None
        body["service_id"] = data.get("service_id") or secret.service_id or None
    elif secret.secret_type == SecretType.SERVICE_CREDENTIALS:
        if key := data.get("resource_key"):
            body["resource_key"] = {"crn": key.get("crn"), "name": key.get("name")}
    elif secret.secret_type == SecretType.CUSTOM_CREDENTIALS:
        body["credentials_id"] = version.credentials_id or None
    return body


def version_json(secret: Secret, version: SecretVersion, payload: Payload) -> dict[str, Any]:
    """A version with its value (`payload`, as the audited reveal returned it)."""
    body = version_metadata_json(secret, version)
    if secret.secret_type == SecretType.ARBITRARY:
        body["payload"] = payload
    elif secret.secret_type == SecretType.IAM_CREDENTIALS:
        body["api_key"] = payload.get("api_key") if isinstance(payload, dict) else None
    elif secret.secret_type == SecretType.SERVICE_CREDENTIALS:
        body["credentials"] = payload
    else:
        body["credentials_content"] = payload
    return body


def placeholder_version_json(secret: Secret, task: SecretTask) -> dict[str, Any]:
    """What a custom credentials rotation answers while its create task runs (sm-api.md §5.7):
    a transient version, with no data, until the job reports the new credentials."""
    return {
        "id": PLACEHOLDER_VERSION_ID,
        "secret_id": str(secret.pk),
        "secret_name": secret.name,
        "secret_type": secret.secret_type,
        "secret_group_id": secret.secret_group_id,
        "created_by": task.created_by,
        "created_at": timestamp(task.creation_date),
        "auto_rotated": False,
        "downloaded": False,
        "payload_available": False,
        "version_custom_metadata": task.version_custom_metadata,
        "credentials_content": {},
    }
