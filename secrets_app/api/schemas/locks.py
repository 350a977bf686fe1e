"""Secret locks (sm-api.md §2.5; IBM's SDK models SecretLock, SecretLocks, SecretVersionLocks,
SecretLockPrototype and the three paginated collections)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from secrets_app.api.schemas.common import (
    NAME_PATTERN,
    Description,
    PageLinks,
    RequestBody,
    Timestamp,
)

LockName = Annotated[str, Field(min_length=2, max_length=64, pattern=NAME_PATTERN)]
LockMode = Literal["remove_previous", "remove_previous_and_delete"]
# ?sort= of the lock lists: created_at | updated_at | name, with a leading - for descending.
LockSort = Annotated[str, Field(pattern=r"^-?(created_at|updated_at|name)$")]
Offset = Annotated[int, Field(ge=0, le=10_000_000)]
Limit = Annotated[int, Field(ge=1, le=1000)]
Search = Annotated[str, Field(min_length=1, max_length=128)]
# ?name=a,b and ?groups=<id>,default arrive as one comma-separated string (the SDK's convert_list).
NameList = Annotated[str, Field(min_length=1, max_length=66_000)]
# The same rule as list_secrets' ?groups= (secret group ids or default, up to 201).
_GROUP = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|default)"
GroupList = Annotated[
    str, Field(min_length=1, max_length=7_500, pattern=rf"^{_GROUP}(,{_GROUP}){{0,200}}$")
]


class SecretLockPrototype(RequestBody):
    name: LockName
    description: Description = ""
    attributes: dict[str, Any] | None = None


class SecretLocksPrototype(RequestBody):
    """The body of create_secret_locks_bulk and create_secret_version_locks_bulk."""

    locks: Annotated[list[SecretLockPrototype], Field(min_length=1, max_length=1000)]


class SecretLock(Schema):
    name: str
    description: str
    attributes: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str
    secret_group_id: str
    secret_id: str
    secret_version_id: str
    secret_version_alias: str


class SecretVersionLocks(Schema):
    version_id: str
    version_alias: str
    locks: list[str]
    payload_available: bool


class SecretLocks(Schema):
    secret_id: str
    secret_group_id: str
    secret_type: str
    secret_name: str
    versions: list[SecretVersionLocks]


class SecretLocksPaginatedCollection(PageLinks):
    locks: list[SecretLock]


class SecretsLocksPaginatedCollection(PageLinks):
    secrets_locks: list[SecretLocks]
