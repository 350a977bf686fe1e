"""One page of GET /api/v2/secrets (sm-api.md §3): the console's secret_table query, IBM's sort
keys, and the paginated envelope whose hrefs repeat the filters.

`next` is left out on the last page and `previous` on the first: the SDK's SecretsPager stops
when `next` is missing, and takes the next offset from its href.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import F
from django.db.models.expressions import OrderBy

from engines_app.providers.iam import Principal, get_iam
from secrets_app.api.schemas.secrets import SecretListQuery
from secrets_app.api.secret_json import for_api, metadata_json, referenced_by
from secrets_app.selectors import secret_table

# IBM's sort keys → ORDER BY; id last, for a stable order across pages. Secrets never retrieved
# (the epoch on the wire) sort first ascending; secrets that never expire come last both ways.
SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "id": ("id",),
    "created_at": ("created_at", "id"),
    "updated_at": ("updated_at", "id"),
    "retrieved_at": (F("retrieved_at").asc(nulls_first=True), "id"),
    "expiration_date": (F("expiration_date").asc(nulls_last=True), "id"),
    "secret_type": ("secret_type", "name", "id"),
    "name": ("name", "id"),
}
DESCENDING: dict[str, tuple[str | OrderBy, ...]] = {
    "-id": ("-id",),
    "-created_at": ("-created_at", "id"),
    "-updated_at": ("-updated_at", "id"),
    "-retrieved_at": (F("retrieved_at").desc(nulls_last=True), "id"),
    "-expiration_date": (F("expiration_date").desc(nulls_last=True), "id"),
    "-secret_type": ("-secret_type", "name", "id"),
    "-name": ("-name", "id"),
}
DEFAULT_SORT = "created_at"


def _split(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part]


def _href(base: str, filters: dict[str, Any], *, offset: int | None) -> dict[str, str]:
    params = dict(filters)
    if offset is not None:
        params = {"offset": offset, **params}
    return {"href": f"{base}?{urlencode(params)}"}


def secret_page(*, principal: Principal, query: SecretListQuery, base_url: str) -> dict[str, Any]:
    """The page of secrets the principal may see metadata of, matching every filter."""
    readable = get_iam().group_ids_allowing(principal, "secret.metadata.read")
    secrets = secret_table(
        search=query.search or "",
        secret_types=_split(query.secret_types),
        group_ids=_split(query.groups),
        labels=_split(query.match_all_labels),
        readable_group_ids=readable,
    )
    sort = query.sort or DEFAULT_SORT
    secrets = secrets.order_by(*{**SORTS, **DESCENDING}[sort])
    total = secrets.count()
    offset, limit = query.offset, query.limit
    page = list(for_api(secrets)[offset : offset + limit]) if offset < total else []
    references = referenced_by(page)
    filters = {
        key: value
        for key, value in (
            ("limit", limit),
            ("sort", query.sort),
            ("search", query.search),
            ("groups", query.groups),
            ("secret_types", query.secret_types),
            ("match_all_labels", query.match_all_labels),
        )
        if value is not None
    }
    last_offset = ((total - 1) // limit) * limit if total else 0
    body: dict[str, Any] = {
        "total_count": total,
        "limit": limit,
        "offset": offset,
        "first": _href(base_url, filters, offset=None),
        "last": _href(base_url, filters, offset=last_offset),
        "secrets": [metadata_json(s, references=references) for s in page],
    }
    if offset > 0:
        body["previous"] = _href(base_url, filters, offset=max(offset - limit, 0))
    if offset + limit < total:
        body["next"] = _href(base_url, filters, offset=offset + limit)
    return body
