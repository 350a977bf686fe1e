"""Secret tasks (sm-api.md §2.4, §4.9): what the credentials provider job reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from secrets_app.api.schemas.common import RequestBody, Timestamp

TaskId = Annotated[
    str, Field(pattern=r"^sm-task-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]


class SecretTaskError(Schema):
    code: str
    description: str


class SecretTask(Schema):
    id: str
    created_by: str
    creation_date: Timestamp
    last_update_date: Timestamp
    updated_by: str
    type: Literal["create_credentials", "delete_credentials"]
    status: Literal["queued", "processing", "credentials_created", "credentials_deleted", "failed"]
    trigger: Literal[
        "secret_creation",
        "manual_secret_rotation",
        "automatic_secret_rotation",
        "secret_version_expiration",
        "secret_version_data_deletion",
    ]
    secret_id: str
    secret_version_id: str | None = None
    errors: list[SecretTaskError] | None = None


class SecretTaskCollection(Schema):
    tasks: list[SecretTask]


class SecretTaskErrorPrototype(RequestBody):
    code: Annotated[str, Field(min_length=1, max_length=128)]
    description: Annotated[str, Field(min_length=1, max_length=1024)]


class NewCredentials(RequestBody):
    id: Annotated[str, Field(max_length=256)]
    payload: dict[str, Any]


class SecretTaskPrototype(RequestBody):
    """The PUT body. The service checks which fields go with which status (and says so)."""

    status: Literal["credentials_created", "credentials_deleted", "failed"]
    credentials: NewCredentials | None = None
    errors: Annotated[list[SecretTaskErrorPrototype], Field(min_length=1, max_length=10)] | None = (
        None
    )
