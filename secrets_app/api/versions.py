"""Secret versions: /api/v2/secrets/{secret_id}/versions (sm-api.md §2.3, §4.8, §5.7, §6.1).

A new version is a rotation (secrets_app.services.rotation), or for IAM credentials a restore
(`restore_from_version`, secrets_app.services.restore). Values leave only through
GET .../versions/{id}, the audited reveal (secrets_app.services.reading); every other answer is
metadata. `{id}` is a version's UUID or the alias current or previous.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from ninja import P, PathEx, Status

from secrets_app.api.base import ApiRequest, ApiRouter
from secrets_app.api.schemas import versions as schemas
from secrets_app.api.schemas.common import errors
from secrets_app.api.version_json import (
    placeholder_version_json,
    version_json,
    version_metadata_json,
)
from secrets_app.models import SecretVersion
from secrets_app.permissions import get_secret_for_principal
from secrets_app.services.editing import secret_version_metadata_update
from secrets_app.services.reading import secret_reveal, version_for
from secrets_app.services.restore import secret_restore
from secrets_app.services.rotation import secret_rotate
from secrets_app.services.version_data import secret_version_data_delete

router = ApiRouter(tags=["Secret versions"])

VersionIdPath = PathEx[
    str,
    P(
        pattern=schemas.VERSION_ID_PATTERN,
        description="A version's UUID, or the alias current or previous.",
    ),
]


@router.post(
    "/secrets/{secret_id}/versions",
    response={201: schemas.SecretVersion, **errors(400, 403, 404, 409, 412)},
    operation_id="create_secret_version",
    summary="Rotate a secret (a new version), or restore an IAM credentials secret's version",
)
def create_secret_version(
    request: ApiRequest, secret_id: str, body: schemas.SecretVersionPrototype
) -> Status[dict[str, Any]]:
    secret = get_secret_for_principal(request.auth, secret_id, "secret.rotate")
    if body.restore_from_version is not None:
        restored = secret_restore(
            principal=request.auth,
            secret_id=secret.pk,
            version_id=body.restore_from_version,
            version_custom_metadata=body.version_custom_metadata,
            custom_metadata=body.custom_metadata,
        )
        return Status(201, version_metadata_json(secret, restored))
    rotation = secret_rotate(
        principal=request.auth,
        secret_id=secret.pk,
        payload=body.payload,
        version_custom_metadata=body.version_custom_metadata,
        custom_metadata=body.custom_metadata,
    )
    if rotation.version is None:
        assert rotation.task is not None  # custom credentials: the job makes the version
        return Status(201, placeholder_version_json(rotation.secret, rotation.task))
    return Status(201, version_metadata_json(rotation.secret, rotation.version))


@router.get(
    "/secrets/{secret_id}/versions",
    response={200: schemas.SecretVersionMetadataCollection, **errors(403, 404)},
    operation_id="list_secret_versions",
    summary="List a secret's versions (metadata), oldest first",
)
def list_secret_versions(request: ApiRequest, secret_id: str) -> dict[str, Any]:
    secret = get_secret_for_principal(request.auth, secret_id, "secret.metadata.read")
    versions = SecretVersion.objects.filter(secret=secret).order_by("serial")
    rows = [version_metadata_json(secret, v) for v in versions]
    return {"versions": rows, "total_count": len(rows)}


@router.get(
    "/secrets/{secret_id}/versions/{id}",
    response={200: schemas.SecretVersion, **errors(400, 403, 404, 409, 412)},
    operation_id="get_secret_version",
    summary="Get a version with its secret data (audited; marks it downloaded)",
)
def get_secret_version(
    request: ApiRequest,
    secret_id: str,
    id: VersionIdPath,  # noqa: A002
) -> dict[str, Any]:
    secret = get_secret_for_principal(request.auth, secret_id, "secret.read")
    revealed = secret_reveal(principal=request.auth, secret_id=secret.pk, version=id)
    return version_json(secret, revealed.version, revealed.payload)


@router.get(
    "/secrets/{secret_id}/versions/{id}/metadata",
    response={200: schemas.SecretVersionMetadata, **errors(400, 403, 404)},
    operation_id="get_secret_version_metadata",
    summary="Get a version's metadata",
)
def get_secret_version_metadata(
    request: ApiRequest,
    secret_id: str,
    id: VersionIdPath,  # noqa: A002
) -> dict[str, Any]:
    secret = get_secret_for_principal(request.auth, secret_id, "secret.metadata.read")
    return version_metadata_json(secret, version_for(secret, id))


@router.patch(
    "/secrets/{secret_id}/versions/{id}/metadata",
    response={200: schemas.SecretVersionMetadata, **errors(400, 403, 404)},
    operation_id="update_secret_version_metadata",
    summary="Replace a version's custom metadata (JSON merge patch)",
    openapi_extra={"requestBody": {"content": {"application/merge-patch+json": {}}}},
)
def update_secret_version_metadata(
    request: ApiRequest,
    secret_id: str,
    id: VersionIdPath,  # noqa: A002
    body: schemas.SecretVersionMetadataPatch,
) -> dict[str, Any]:
    secret = get_secret_for_principal(request.auth, secret_id, "secret.update")
    if "version_custom_metadata" not in body.model_fields_set:
        return version_metadata_json(secret, version_for(secret, id))  # nothing to change
    version = secret_version_metadata_update(
        principal=request.auth,
        secret_id=secret.pk,
        version=id,
        version_custom_metadata=body.version_custom_metadata or {},
    )
    return version_metadata_json(secret, version)


@router.delete(
    "/secrets/{secret_id}/versions/{id}/secret_data",
    response={204: None, **errors(400, 403, 404, 409, 412)},
    operation_id="delete_secret_version_data",
    summary="Delete a version's data (IAM credentials: current; custom credentials: current "
    "or previous, through a delete_credentials task)",
)
def delete_secret_version_data(
    request: ApiRequest,
    secret_id: str,
    id: VersionIdPath,  # noqa: A002
) -> HttpResponse:
    secret = get_secret_for_principal(request.auth, secret_id, "secret.delete")
    secret_version_data_delete(principal=request.auth, secret_id=secret.pk, version=id)
    return HttpResponse(status=204)
