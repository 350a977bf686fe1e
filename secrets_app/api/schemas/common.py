"""Schema pieces every resource uses: timestamps, hrefs, paging, IBM's error body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, WithJsonSchema

# RFC 3339 in UTC with milliseconds (sm-api.md §1.3); services hand over datetimes and the
# serialisers format them with console.api.timestamp, so the wire form is a string.
Timestamp = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "format": "date-time", "example": "2022-04-12T23:20:50.520Z"}
    ),
]

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_]*(?:_*-*\.*[A-Za-z0-9]*)*[A-Za-z0-9]+$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
GROUP_ID_PATTERN = r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|default)$"

Description = Annotated[str, Field(max_length=1024)]
JsonObject = dict[str, Any]


class RequestBody(Schema):
    """Base of every request body: unknown fields are refused, and types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Href(Schema):
    href: str


class PageLinks(Schema):
    """The paging half of IBM's paginated collections (sm-api.md §3.2)."""

    total_count: int
    limit: int
    offset: int
    first: Href
    last: Href
    previous: Href | None = None
    next: Href | None = None  # absent on the last page: that is how the SDK's pager stops


class ErrorTarget(Schema):
    type: Literal["field", "parameter", "header"]
    name: str


class ErrorItem(Schema):
    code: str
    message: str
    more_info: str | None = None
    target: ErrorTarget | None = None


class ErrorBody(Schema):
    """IBM's error body (sm-api.md §7.1): never an empty `errors`."""

    errors: list[ErrorItem] = Field(min_length=1)
    trace: str
    status_code: int


def errors(*statuses: int) -> dict[int, type[ErrorBody]]:
    """Document the error statuses an operation answers with. 401 and 413 are added everywhere:
    ApiAuthenticationMiddleware refuses a missing token, and JsonApiErrorMiddleware a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, on every path under /api/ before any routing."""
    return dict.fromkeys(sorted({401, 413, *statuses}), ErrorBody)
