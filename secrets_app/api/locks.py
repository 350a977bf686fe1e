"""Secret locks: /api/v2/secrets/{id}/locks..., /api/v2/secrets/{secret_id}/versions/{id}/locks...
and /api/v2/secrets_locks (sm-api.md §2.5). The rules are in secrets_app.services.locks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ninja import Status

from console.api import timestamp
from secrets_app.api.base import ApiRequest, ApiRouter
from secrets_app.api.schemas import locks as schemas
from secrets_app.api.schemas.common import errors
from secrets_app.models import Secret, SecretLock, SecretVersion
from secrets_app.services import locks as services

router = ApiRouter(tags=["Secret locks"])


# ---------------------------------------------------------------------------------------------
# Serialisation


def lock_json(lock: SecretLock) -> dict[str, Any]:
    return {
        "name": lock.name,
        "description": lock.description,
        "attributes": lock.attributes or {},
        "created_at": timestamp(lock.created_at),
        "updated_at": timestamp(lock.updated_at),
        "created_by": lock.created_by,
        "secret_group_id": lock.secret.secret_group_id,
        "secret_id": str(lock.secret_id),
        "secret_version_id": str(lock.version_id),
        "secret_version_alias": lock.version.alias or "",
    }


def secret_locks_json(
    secret: Secret, versions: list[tuple[SecretVersion, list[str]]]
) -> dict[str, Any]:
    return {
        "secret_id": str(secret.pk),
        "secret_group_id": secret.secret_group_id,
        "secret_type": secret.secret_type,
        "secret_name": secret.name,
        "versions": [
            {
                "version_id": str(version.pk),
                "version_alias": version.alias or "",
                "locks": names,
                "payload_available": version.payload_available,
            }
            for version, names in versions
        ],
    }


def page_links(
    request: ApiRequest, *, total: int, offset: int, limit: int, params: dict[str, Any]
) -> dict[str, Any]:
    """The paging half of the envelope (sm-api.md §3.2): hrefs that repeat the filters, `next`
    absent on the last page (the SDK's pager stops there)."""
    base = request.build_absolute_uri(request.path)
    kept = {k: v for k, v in params.items() if v not in (None, "")}

    def href(at: int | None) -> dict[str, str]:
        query = {**({"offset": at} if at else {}), "limit": limit, **kept}
        return {"href": f"{base}?{urlencode(query)}"}

    last = max(0, (total - 1) // limit * limit) if total else 0
    links: dict[str, Any] = {
        "total_count": total,
        "limit": limit,
        "offset": offset,
        "first": href(None),
        "last": href(last),
    }
    if offset > 0:
        links["previous"] = href(max(0, offset - limit))
    if offset + limit < total:
        links["next"] = href(offset + limit)
    return links


def _names(raw: str | None) -> list[str] | None:
    return None if raw is None else [n.strip() for n in raw.split(",")]


# ---------------------------------------------------------------------------------------------
# Across secrets


@router.get(
    "/secrets_locks",
    response={200: schemas.SecretsLocksPaginatedCollection, **errors(400)},
    operation_id="list_secrets_locks",
    summary="List the secrets that hold locks, with their locked versions",
)
def list_secrets_locks(
    request: ApiRequest,
    offset: schemas.Offset = 0,
    limit: schemas.Limit = 200,
    search: schemas.Search | None = None,
    groups: schemas.GroupList | None = None,
) -> dict[str, Any]:
    group_ids = _names(groups)
    page = services.secrets_locks_page(
        principal=request.auth, offset=offset, limit=limit, search=search, groups=group_ids
    )
    return {
        **page_links(
            request,
            total=page.total,
            offset=offset,
            limit=limit,
            params={"search": search, "groups": groups},
        ),
        "secrets_locks": [secret_locks_json(s, versions) for s, versions in page.secrets],
    }


# ---------------------------------------------------------------------------------------------
# On a secret (its current version)


def _locks_page(
    request: ApiRequest,
    secret_id: str,
    version: str | None,
    offset: int,
    limit: int,
    sort: str | None,
    search: str | None,
) -> dict[str, Any]:
    """One page of a secret's locks (all its versions', or one version's) in IBM's envelope."""
    page = services.secret_locks_page(
        principal=request.auth,
        secret_id=secret_id,
        version=version,
        offset=offset,
        limit=limit,
        sort=sort,
        search=search,
    )
    return {
        **page_links(
            request,
            total=page.total,
            offset=offset,
            limit=limit,
            params={"sort": sort, "search": search},
        ),
        "locks": [lock_json(lock) for lock in page.locks],
    }


@router.get(
    "/secrets/{id}/locks",
    response={200: schemas.SecretLocksPaginatedCollection, **errors(400, 403, 404)},
    operation_id="list_secret_locks",
    summary="List a secret's locks, on all its versions",
)
def list_secret_locks(
    request: ApiRequest,
    id: str,  # noqa: A002
    offset: schemas.Offset = 0,
    limit: schemas.Limit = 25,
    sort: schemas.LockSort | None = None,
    search: schemas.Search | None = None,
) -> dict[str, Any]:
    return _locks_page(request, id, None, offset, limit, sort, search)


@router.post(
    "/secrets/{id}/locks_bulk",
    response={201: schemas.SecretLocks, **errors(400, 403, 404, 409)},
    operation_id="create_secret_locks_bulk",
    summary="Lock the current version of a secret",
)
def create_secret_locks_bulk(
    request: ApiRequest,
    id: str,  # noqa: A002
    body: schemas.SecretLocksPrototype,
    mode: schemas.LockMode | None = None,
) -> Status[dict[str, Any]]:
    secret = services.locks_create(
        principal=request.auth,
        secret_id=id,
        locks=[lock.model_dump() for lock in body.locks],
        mode=mode,
    )
    return Status(201, secret_locks_json(secret, services.secret_lock_state(secret)))


@router.delete(
    "/secrets/{id}/locks_bulk",
    response={200: schemas.SecretLocks, **errors(400, 403, 404)},
    operation_id="delete_secret_locks_bulk",
    summary="Delete a secret's locks (all of them, or those named in ?name=a,b)",
)
def delete_secret_locks_bulk(
    request: ApiRequest,
    id: str,  # noqa: A002
    name: schemas.NameList | None = None,
) -> dict[str, Any]:
    secret = services.locks_delete(principal=request.auth, secret_id=id, names=_names(name))
    return secret_locks_json(secret, services.secret_lock_state(secret))


# ---------------------------------------------------------------------------------------------
# On one version (an id, or the aliases current and previous)


@router.get(
    "/secrets/{secret_id}/versions/{id}/locks",
    response={200: schemas.SecretLocksPaginatedCollection, **errors(400, 403, 404)},
    operation_id="list_secret_version_locks",
    summary="List the locks of a secret version",
)
def list_secret_version_locks(
    request: ApiRequest,
    secret_id: str,
    id: str,  # noqa: A002
    offset: schemas.Offset = 0,
    limit: schemas.Limit = 25,
    sort: schemas.LockSort | None = None,
    search: schemas.Search | None = None,
) -> dict[str, Any]:
    return _locks_page(request, secret_id, id, offset, limit, sort, search)


@router.post(
    "/secrets/{secret_id}/versions/{id}/locks_bulk",
    response={201: schemas.SecretLocks, **errors(400, 403, 404, 409)},
    operation_id="create_secret_version_locks_bulk",
    summary="Lock a version of a secret",
)
def create_secret_version_locks_bulk(
    request: ApiRequest,
    secret_id: str,
    id: str,  # noqa: A002
    body: schemas.SecretLocksPrototype,
    mode: schemas.LockMode | None = None,
) -> Status[dict[str, Any]]:
    secret = services.locks_create(
        principal=request.auth,
        secret_id=secret_id,
        version=id,
        locks=[lock.model_dump() for lock in body.locks],
        mode=mode,
    )
    return Status(201, secret_locks_json(secret, services.secret_lock_state(secret)))


@router.delete(
    "/secrets/{secret_id}/versions/{id}/locks_bulk",
    response={200: schemas.SecretLocks, **errors(400, 403, 404)},
    operation_id="delete_secret_version_locks_bulk",
    summary="Delete the locks of a secret version (all, or those named in ?name=a,b)",
)
def delete_secret_version_locks_bulk(
    request: ApiRequest,
    secret_id: str,
    id: str,  # noqa: A002
    name: schemas.NameList | None = None,
) -> dict[str, Any]:
    secret = services.locks_delete(
        principal=request.auth, secret_id=secret_id, version=id, names=_names(name)
    )
    return secret_locks_json(secret, services.secret_lock_state(secret))
