"""Secret groups (sm-api.md §2.1, §4.3)."""

from __future__ import annotations

from typing import Annotated

from ninja import Schema
from pydantic import Field

from secrets_app.api.schemas.common import NAME_PATTERN, Description, RequestBody, Timestamp

GroupName = Annotated[str, Field(min_length=2, max_length=64, pattern=NAME_PATTERN)]


class SecretGroupPrototype(RequestBody):
    name: GroupName
    description: Description = ""


class SecretGroupPatch(RequestBody):
    name: GroupName | None = None
    description: Description | None = None


class SecretGroup(Schema):
    id: str
    name: str
    description: str
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp


class SecretGroupCollection(Schema):
    secret_groups: list[SecretGroup]
    total_count: int
