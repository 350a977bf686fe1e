"""Configurations: /api/v2/configurations (sm-api.md §2.6, §4.10).

Custom credentials and IAM credentials configurations, through the same services as the
console's Secrets engines pages (engines_app.services) and the same roles: a role anywhere
(Reader or more) to read, the Manager role on the instance to change.

Names are unique per config type only, so one name can exist under both types. A request on
such a name without the X-Sm-Accept-Configuration-Type header gets 300 Multiple Choices. IBM
documents the header as the way "to resolve 300 error responses" but not the 300 body; this
one is IBM's error body (UNVERIFIED, sm-api.md §10 item 8), with `code` multiple_choices, a
message naming the candidate types, and the header as `target`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpResponse, JsonResponse
from ninja import Body, Header, Query, Status

from console.api import error_response, timestamp
from console.errors import ServiceError
from engines_app import services as engine_services
from engines_app.models import SECRET_TYPE_FOR_CONFIG, ConfigType, Configuration
from engines_app.permissions import (
    get_configuration_for_principal,
    require_configuration_read_for_principal,
)
from engines_app.providers.iam import Principal, get_iam
from secrets_app.api.base import ApiRequest, ApiRouter
from secrets_app.api.schemas import configurations as schemas
from secrets_app.api.schemas.common import errors

router = ApiRouter(tags=["Configurations"])

AcceptType = Annotated[
    schemas.ConfigTypeName | None,
    Header(alias=schemas.ACCEPT_TYPE_HEADER, description="Resolves a 300 answer: the type meant."),
]
# The operations on one configuration: 300 for an ambiguous name (see above), 400 for a bad header.
_ONE = (300, 400, 403, 404)
_PATCH: dict[str, Any] = {"requestBody": {"content": {"application/merge-patch+json": {}}}}
# The service's names for the Code Engine fields, as the API body spells them.
_API_FIELDS = {
    "project_id": "code_engine.project_id",
    "job_name": "code_engine.job_name",
    "region": "code_engine.region",
}


# --- serialisation ----------------------------------------------------------------------------


def configuration_json(config: Configuration, *, api_key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "config_type": config.config_type,
        "name": config.name,
        "secret_type": config.secret_type,
        "created_by": config.created_by,
        "created_at": timestamp(config.created_at),
        "updated_at": timestamp(config.updated_at),
    }
    if config.config_type == ConfigType.CUSTOM_CREDENTIALS:
        body["code_engine"] = {
            "project_id": config.code_engine_project_id,
            "job_name": config.code_engine_job_name,
            "region": config.code_engine_region,
        }
        body["schema"] = {
            "parameters": config.schema.get("parameters", []),
            "credentials": config.schema.get("credentials", []),
        }
        body["code_engine_key_ref"] = config.code_engine_key_ref or None
        body["api_key_ref"] = str(config.api_key_ref_id) if config.api_key_ref_id else None
        body["task_timeout"] = config.task_timeout
    else:
        body["disabled"] = config.disabled
        body["api_key"] = api_key
    return body


# --- helpers ----------------------------------------------------------------------------------


@contextmanager
def _api_field_names() -> Iterator[None]:
    """Name the Code Engine fields in errors as the body does (code_engine.job_name...)."""
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        renamed = {_API_FIELDS.get(k, k): v for k, v in exc.message_dict.items()}
        if renamed.keys() == exc.message_dict.keys():
            raise
        raise ValidationError(renamed) from None
    except ServiceError as exc:
        if exc.field in _API_FIELDS:
            exc.field = _API_FIELDS[exc.field]
        raise


def _resolve(principal: Principal, name: str, action: str, accept: str | None) -> Configuration:
    """The configuration the operation acts on (403/404/300 as get_configuration_for_principal)."""
    return get_configuration_for_principal(principal, name, action, config_type=accept)


def _ambiguous(exc: engine_services.AmbiguousConfigurationError) -> JsonResponse:
    return error_response(
        exc.status, exc.code, exc.message, target=schemas.ACCEPT_TYPE_HEADER, target_type="header"
    )


def _matching(
    *, search: str | None, secret_types: str | None, sort: str | None
) -> QuerySet[Configuration]:
    configs = Configuration.objects.all()
    if secret_types:
        wanted = set(secret_types.split(","))
        configs = configs.filter(
            config_type__in=[c for c, s in SECRET_TYPE_FOR_CONFIG.items() if s in wanted]
        )
    if search:
        typed = [
            c
            for c, s in SECRET_TYPE_FOR_CONFIG.items()
            if search.lower() in s or search.lower() in c
        ]
        configs = configs.filter(Q(name__icontains=search) | Q(config_type__in=typed))
    field = (sort or "name").lstrip("-")
    # secret_type follows from config_type (and sorts the same way); name breaks ties.
    order = "config_type" if field == "secret_type" else field
    descending = bool(sort and sort.startswith("-"))
    keys = [order] if order == "name" else [order, "name"]
    return configs.order_by(*[f"-{k}" if descending else k for k in keys])


def _page_links(
    request: ApiRequest, *, total: int, offset: int, limit: int, filters: dict[str, Any]
) -> dict[str, Any]:
    base = request.build_absolute_uri(request.path)
    kept = {k: v for k, v in filters.items() if v is not None}

    def href(at: int | None) -> dict[str, str]:
        query = {"limit": limit, **({"offset": at} if at else {}), **kept}
        return {"href": f"{base}?{urlencode(query)}"}

    last = ((total - 1) // limit) * limit if total else 0
    links: dict[str, Any] = {
        "total_count": total,
        "limit": limit,
        "offset": offset,
        "first": href(None),
        "last": href(last),
    }
    if offset > 0:
        links["previous"] = href(max(offset - limit, 0))
    if offset + limit < total:  # absent on the last page: the SDK's pager stops there
        links["next"] = href(offset + limit)
    return links


# --- operations -------------------------------------------------------------------------------


@router.post(
    "/configurations",
    response={201: schemas.Configuration, **errors(400, 403, 409)},
    operation_id="create_configuration",
    summary="Create a custom credentials or IAM credentials configuration",
    by_alias=True,
)
def create_configuration(
    request: ApiRequest, body: Body[schemas.ConfigurationPrototype]
) -> Status[dict[str, Any]]:
    get_iam().authorize(request.auth, "configuration.manage", secret_group_id=None)
    actor = request.auth.actor
    if isinstance(body, schemas.IAMCredentialsConfigurationPrototype):
        config = engine_services.iam_configuration_create(
            actor=actor, name=body.name, api_key=body.api_key, disabled=bool(body.disabled)
        )
    else:
        # The refused variant never validates, so what reaches here is the custom type.
        assert isinstance(body, schemas.CustomCredentialsConfigurationPrototype)
        with _api_field_names():
            config = engine_services.custom_configuration_create(
                actor=actor,
                name=body.name,
                region=body.code_engine.region,
                project_id=body.code_engine.project_id,
                job_name=body.code_engine.job_name,
                api_key_ref=body.api_key_ref,
                task_timeout=body.task_timeout,
            )
    return Status(201, configuration_json(config))


@router.get(
    "/configurations",
    response={200: schemas.ConfigurationMetadataPaginatedCollection, **errors(400, 403)},
    operation_id="list_configurations",
    summary="List the configurations (IAM configurations without their API key)",
    by_alias=True,
)
def list_configurations(
    request: ApiRequest,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    sort: Annotated[str | None, Query(pattern=schemas.LIST_SORT_PATTERN)] = None,
    search: Annotated[str | None, Query(min_length=2, max_length=128)] = None,
    secret_types: Annotated[
        str | None,
        Query(
            pattern=schemas.LIST_SECRET_TYPES_PATTERN,
            description="Comma-separated: iam_credentials, private_cert, public_cert, "
            "custom_credentials.",
        ),
    ] = None,
) -> dict[str, Any]:
    require_configuration_read_for_principal(request.auth)
    configs = _matching(search=search, secret_types=secret_types, sort=sort)
    total = configs.count()
    page = list(configs[offset : offset + limit])
    filters = {"sort": sort, "search": search, "secret_types": secret_types}
    return {
        **_page_links(request, total=total, offset=offset, limit=limit, filters=filters),
        "configurations": [configuration_json(c) for c in page],
    }


@router.get(
    "/configurations/{name}",
    response={200: schemas.Configuration, **errors(*_ONE)},
    operation_id="get_configuration",
    summary="Get a configuration (an IAM configuration's API key only for a Manager)",
    by_alias=True,
)
def get_configuration(
    request: ApiRequest, name: str, x_sm_accept_configuration_type: AcceptType = None
) -> Any:
    try:
        config = _resolve(request.auth, name, "configuration.read", x_sm_accept_configuration_type)
    except engine_services.AmbiguousConfigurationError as exc:
        return _ambiguous(exc)
    api_key = None
    if config.config_type == ConfigType.IAM_CREDENTIALS and get_iam().is_allowed(
        request.auth, "configuration.manage", secret_group_id=None
    ):
        api_key = engine_services.iam_configuration_api_key(
            actor=request.auth.actor, name=config.name
        )
    return configuration_json(config, api_key=api_key)


@router.patch(
    "/configurations/{name}",
    response={200: schemas.Configuration, **errors(*_ONE)},
    operation_id="update_configuration",
    summary="Update a configuration (custom: task_timeout; IAM: api_key, disabled)",
    openapi_extra=_PATCH,
    by_alias=True,
)
def update_configuration(
    request: ApiRequest,
    name: str,
    body: schemas.ConfigurationPatch,
    x_sm_accept_configuration_type: AcceptType = None,
) -> Any:
    try:
        config = _resolve(
            request.auth, name, "configuration.manage", x_sm_accept_configuration_type
        )
    except engine_services.AmbiguousConfigurationError as exc:
        return _ambiguous(exc)
    given = body.model_dump(exclude_none=True)
    allowed = (
        {"task_timeout"} if config.config_type == ConfigType.CUSTOM_CREDENTIALS else {"api_key"}
    ) | ({"disabled"} if config.config_type == ConfigType.IAM_CREDENTIALS else set())
    if extra := sorted(set(given) - allowed):
        raise ValidationError(
            {extra[0]: f"A {config.config_type} takes only {', '.join(sorted(allowed))}."}
        )
    actor = request.auth.actor
    if config.config_type == ConfigType.CUSTOM_CREDENTIALS:
        if body.task_timeout is not None:
            config = engine_services.configuration_update_task_timeout(
                actor=actor, name=config.name, task_timeout=body.task_timeout
            )
    else:
        config = engine_services.iam_configuration_update(
            actor=actor, api_key=body.api_key, disabled=body.disabled
        )
    return configuration_json(config)


@router.delete(
    "/configurations/{name}",
    response={204: None, **errors(*_ONE, 409)},
    operation_id="delete_configuration",
    summary="Delete a configuration that no secret uses",
)
def delete_configuration(
    request: ApiRequest, name: str, x_sm_accept_configuration_type: AcceptType = None
) -> HttpResponse:
    try:
        config = _resolve(
            request.auth, name, "configuration.manage", x_sm_accept_configuration_type
        )
    except engine_services.AmbiguousConfigurationError as exc:
        return _ambiguous(exc)
    engine_services.configuration_delete(
        actor=request.auth.actor, name=config.name, config_type=config.config_type
    )
    return HttpResponse(status=204)
