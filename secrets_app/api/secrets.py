"""Secrets: /api/v2/secrets and get-by-name (sm-api.md §2.2, §3, §4, §6, §7.2).

Each view makes one access-helper call and one service call, the same services as the console.
Values leave only through get_secret and get_secret_by_name_type, read by the audited reveal
service; every other answer is metadata.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Body, Query, Status

from console.errors import NotFoundError, ServiceError
from engines_app.providers.iam import Principal
from secrets_app.api.base import ApiRequest, ApiRouter
from secrets_app.api.schemas import secrets as schemas
from secrets_app.api.schemas.common import errors
from secrets_app.api.secret_json import secret_json, secret_metadata_json
from secrets_app.api.secret_pages import secret_page
from secrets_app.models import Secret, SecretGroup, SecretState, SecretType
from secrets_app.permissions import get_group_for_principal, get_secret_for_principal
from secrets_app.services import arbitrary, custom_credentials, deletion, editing, reading
from secrets_app.services import iam_credentials as iam_secrets
from secrets_app.services import service_credentials as service_secrets

router = ApiRouter(tags=["Secrets"])

MERGE_PATCH: dict[str, Any] = {"requestBody": {"content": {"application/merge-patch+json": {}}}}

# The service credentials service's field names → where the API body has them.
SERVICE_FIELDS = {
    "instance_crn": "source_service.instance.crn",
    "role": "source_service.role.crn",
    "hmac": "source_service.parameters.HMAC",
    "serviceid_crn": "source_service.parameters.serviceid_crn",
}


@contextmanager
def _api_fields(names: dict[str, str]) -> Iterator[None]:
    """Errors of a service that names its fields as the console's forms do, renamed to the
    body's paths, so that `target` names what the caller sent."""
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {names.get(field, field): messages for field, messages in exc.message_dict.items()}
        ) from None
    except ServiceError as exc:
        exc.field = names.get(exc.field or "", exc.field)
        raise


def _writable_group(principal: Principal, group_id: str) -> SecretGroup:
    """The group a new secret goes to: 404 when it does not exist or lies outside the caller's
    scope, 403 without Writer there."""
    try:
        return get_group_for_principal(principal, group_id, "secret.create")
    except NotFoundError:
        raise NotFoundError(
            f"Secret group {group_id} does not exist.", field="secret_group_id"
        ) from None


def _create(principal: Principal, body: Any) -> Secret:
    actor = principal.actor
    details: dict[str, Any] = {
        "name": body.name,
        "secret_group_id": body.secret_group_id,
        "description": body.description,
        "labels": body.labels,
        "custom_metadata": body.custom_metadata,
        "version_custom_metadata": body.version_custom_metadata,
    }
    rotation = getattr(body, "rotation", None)
    policy = rotation.model_dump(exclude_none=True) if rotation is not None else None
    if isinstance(body, schemas.ArbitrarySecretPrototype):
        return arbitrary.arbitrary_secret_create(
            actor=actor, payload=body.payload, expiration_date=body.expiration_date, **details
        )
    if isinstance(body, schemas.IAMCredentialsSecretPrototype):
        return iam_secrets.iam_credentials_secret_create(
            actor=actor,
            ttl=body.ttl,
            reuse_api_key=body.reuse_api_key,
            service_id=body.service_id,
            access_groups=body.access_groups,
            account_id=body.account_id,
            rotation=policy,
            **details,
        )
    if isinstance(body, schemas.ServiceCredentialsSecretPrototype):
        source = body.source_service
        parameters = source.parameters or schemas.ServiceParameters()
        with _api_fields(SERVICE_FIELDS):
            return service_secrets.service_credentials_secret_create(
                actor=actor,
                instance_crn=source.instance.crn,
                role=source.role.crn if source.role else None,
                serviceid_crn=parameters.serviceid_crn,
                hmac=bool(parameters.HMAC),
                ttl=body.ttl,
                rotation=policy,
                **details,
            )
    assert isinstance(body, schemas.CustomCredentialsSecretPrototype)
    return custom_credentials.custom_credentials_secret_create(
        actor=actor,
        configuration=body.configuration,
        parameters=body.parameters,
        ttl=body.ttl,
        rotation=policy,
        **details,
    )


@router.post(
    "/secrets",
    response={201: schemas.CreatedSecret, **errors(400, 403, 404, 409)},
    operation_id="create_secret",
    summary="Create a secret (arbitrary, IAM, service or custom credentials)",
    description=(
        "The answer holds the new secret's metadata; its value is read with get_secret. A "
        "custom credentials secret starts in pre_activation (state 0) with empty "
        "credentials_content, until its credentials provider job reports the credentials."
    ),
)
def create_secret(
    request: ApiRequest, body: Body[schemas.SecretPrototype]
) -> Status[dict[str, Any]]:
    # The unsupported-type member of the union never validates; this is for the type checker.
    assert not isinstance(body, schemas.UnsupportedSecretPrototype)
    _writable_group(request.auth, body.secret_group_id)
    secret = _create(request.auth, body)
    answer = secret_metadata_json(secret.pk)
    if secret.secret_type == SecretType.CUSTOM_CREDENTIALS:
        answer["credentials_content"] = {}
    return Status(201, answer)


@router.get(
    "/secrets",
    response={200: schemas.SecretMetadataPaginatedCollection, **errors(400)},
    operation_id="list_secrets",
    summary="List the secrets whose metadata the caller may read (paginated)",
)
def list_secrets(request: ApiRequest, filters: Query[schemas.SecretListQuery]) -> dict[str, Any]:
    return secret_page(
        principal=request.auth,
        query=filters,
        base_url=request.build_absolute_uri(request.path),
    )


def _read(principal: Principal, secret: Secret) -> dict[str, Any]:
    """The Secret with its value, through the audited reveal service."""
    if (
        secret.secret_type == SecretType.CUSTOM_CREDENTIALS
        and secret.state == SecretState.PRE_ACTIVATION
        and secret.versions_total == 0
    ):
        # The job has not created the credentials yet: there is no value to read (nor audit).
        return secret_json(secret.pk, None)
    revealed = reading.secret_reveal(principal=principal, secret_id=secret.pk)
    return secret_json(secret.pk, revealed.payload)


@router.get(
    "/secrets/{id}",
    response={200: schemas.Secret, **errors(403, 404, 409, 412)},
    operation_id="get_secret",
    summary="Get a secret with its value (SecretsReader; audited)",
)
def get_secret(request: ApiRequest, id: str) -> dict[str, Any]:  # noqa: A002
    return _read(request.auth, get_secret_for_principal(request.auth, id, "secret.read"))


@router.get(
    "/secrets/{id}/metadata",
    response={200: schemas.SecretMetadata, **errors(403, 404)},
    operation_id="get_secret_metadata",
    summary="Get a secret's metadata, without its value (Reader)",
)
def get_secret_metadata(request: ApiRequest, id: str) -> dict[str, Any]:  # noqa: A002
    secret = get_secret_for_principal(request.auth, id, "secret.metadata.read")
    return secret_metadata_json(secret.pk)


@router.patch(
    "/secrets/{id}/metadata",
    response={200: schemas.SecretMetadata, **errors(400, 403, 404, 409)},
    operation_id="update_secret_metadata",
    summary="Update a secret's metadata (JSON merge patch; the fields of the secret's type)",
    openapi_extra=MERGE_PATCH,
)
def update_secret_metadata(
    request: ApiRequest,
    id: str,  # noqa: A002
    body: schemas.SecretMetadataPatch,
) -> dict[str, Any]:
    secret = get_secret_for_principal(request.auth, id, "secret.update")
    editing.secret_metadata_update(
        principal=request.auth, secret_id=secret.pk, changes=body.model_dump(exclude_unset=True)
    )
    return secret_metadata_json(secret.pk)


@router.delete(
    "/secrets/{id}",
    response={204: None, **errors(400, 403, 404, 409, 412)},
    operation_id="delete_secret",
    summary="Delete a secret (Manager); force_delete for custom credentials still held",
)
def delete_secret(
    request: ApiRequest,
    id: str,  # noqa: A002
    force_delete: bool = False,
) -> HttpResponse:
    secret = get_secret_for_principal(request.auth, id, "secret.delete")
    deletion.secret_delete(principal=request.auth, secret_id=secret.pk, force=force_delete)
    return HttpResponse(status=204)


@router.get(
    "/secret_groups/{secret_group_name}/secret_types/{secret_type}/secrets/{name}",
    response={200: schemas.Secret, **errors(400, 403, 404, 409, 412)},
    operation_id="get_secret_by_name_type",
    summary="Get a secret with its value by group name, type and name (SecretsReader; audited)",
)
def get_secret_by_name_type(
    request: ApiRequest,
    secret_group_name: str,
    secret_type: schemas.IbmSecretType,
    name: str,
) -> dict[str, Any]:
    found = (
        Secret.objects.filter(
            secret_group__name=secret_group_name, secret_type=secret_type, name=name, probe=False
        )
        .values_list("pk", flat=True)
        .first()
    )
    secret = None
    # Outside the caller's scope, the same answer as for no such secret.
    with contextlib.suppress(NotFoundError):
        if found is not None:
            secret = get_secret_for_principal(request.auth, found, "secret.read")
    if secret is None:
        raise NotFoundError(
            f"There is no {secret_type} secret named {name!r} in secret group "
            f"{secret_group_name!r}."
        )
    return _read(request.auth, secret)
