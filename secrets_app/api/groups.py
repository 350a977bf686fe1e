"""Secret groups: /api/v2/secret_groups (sm-api.md §2.1)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from ninja import Status

from engines_app.providers.iam import get_iam
from secrets_app.api.base import ApiRequest, ApiRouter
from secrets_app.api.schemas import groups as schemas
from secrets_app.api.schemas.common import errors
from secrets_app.api.serializers import group_json
from secrets_app.models import SecretGroup
from secrets_app.permissions import get_group_for_principal
from secrets_app.services import groups as services

router = ApiRouter(tags=["Secret groups"])


@router.post(
    "/secret_groups",
    response={201: schemas.SecretGroup, **errors(400, 403, 409)},
    operation_id="create_secret_group",
    summary="Create a secret group",
)
def create_secret_group(
    request: ApiRequest, body: schemas.SecretGroupPrototype
) -> Status[dict[str, Any]]:
    get_iam().authorize(request.auth, "secret_group.manage", secret_group_id=None)
    group = services.group_create(
        actor=request.auth.actor, name=body.name, description=body.description
    )
    return Status(201, group_json(group))


@router.get(
    "/secret_groups",
    response={200: schemas.SecretGroupCollection, **errors()},
    operation_id="list_secret_groups",
    summary="List the secret groups (the default group included)",
)
def list_secret_groups(request: ApiRequest) -> dict[str, Any]:
    ids = get_iam().group_ids_allowing(request.auth, "secret_group.read")
    groups = SecretGroup.objects.order_by("created_at", "name")
    if ids is not None:
        groups = groups.filter(pk__in=ids)
    rows = [group_json(g) for g in groups]
    return {"secret_groups": rows, "total_count": len(rows)}


@router.get(
    "/secret_groups/{id}",
    response={200: schemas.SecretGroup, **errors(404)},
    operation_id="get_secret_group",
    summary="Get a secret group",
)
def get_secret_group(request: ApiRequest, id: str) -> dict[str, Any]:  # noqa: A002
    return group_json(get_group_for_principal(request.auth, id, "secret_group.read"))


@router.patch(
    "/secret_groups/{id}",
    response={200: schemas.SecretGroup, **errors(400, 403, 404, 409)},
    operation_id="update_secret_group",
    summary="Update a secret group's name or description (JSON merge patch)",
    openapi_extra={"requestBody": {"content": {"application/merge-patch+json": {}}}},
)
def update_secret_group(
    request: ApiRequest,
    id: str,  # noqa: A002
    body: schemas.SecretGroupPatch,
) -> dict[str, Any]:
    group = get_group_for_principal(request.auth, id, "secret_group.manage")
    group = services.group_update(
        actor=request.auth.actor,
        group_id=group.pk,
        name=body.name,
        description=body.description,
    )
    return group_json(group)


@router.delete(
    "/secret_groups/{id}",
    response={204: None, **errors(403, 404, 409)},
    operation_id="delete_secret_group",
    summary="Delete an empty secret group",
)
def delete_secret_group(request: ApiRequest, id: str) -> HttpResponse:  # noqa: A002
    group = get_group_for_principal(request.auth, id, "secret_group.manage")
    services.group_delete(actor=request.auth.actor, group_id=group.pk)
    return HttpResponse(status=204)
