"""Secret tasks (sm-api.md §2.4, §4.9): what the credentials provider job reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Discriminator, Field, Tag, field_validator
from pydantic.json_schema import SkipJsonSchema

from secrets_app.api.base import register_discriminator_values
from secrets_app.api.schemas.common import RequestBody, Timestamp

TASK_ID_PATTERN = r"^sm-task-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TaskId = Annotated[str, Field(pattern=TASK_ID_PATTERN)]


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
    """CustomCredentialsNewCredentials: the id the job chose (it may be empty) and the payload,
    which the service checks against the configuration's schema.credentials."""

    id: Annotated[str, Field(max_length=256)]
    payload: dict[str, Any]


class CredentialsCreatedPrototype(RequestBody):
    status: Literal["credentials_created"]
    credentials: NewCredentials


class CredentialsDeletedPrototype(RequestBody):
    status: Literal["credentials_deleted"]


class FailedPrototype(RequestBody):
    status: Literal["failed"]
    # 1..10 errors: checked below so that the message says so; the document says it too.
    errors: Annotated[
        list[SecretTaskErrorPrototype], Field(json_schema_extra={"minItems": 1, "maxItems": 10})
    ]

    @field_validator("errors")
    @classmethod
    def _one_to_ten(cls, value: list[SecretTaskErrorPrototype]) -> list[SecretTaskErrorPrototype]:
        if not 1 <= len(value) <= 10:
            raise ValueError(f"a failed task reports 1 to 10 errors, not {len(value)}")
        return value


REPORTED_STATUSES = ("credentials_created", "credentials_deleted", "failed")
_REFUSED = "refused_status"


class _RefusedTaskPrototype(Schema):
    """Any other status, or none: refused at `status`. Left out of the OpenAPI document."""

    status: Any = Field(default=None, validate_default=True)

    @field_validator("status")
    @classmethod
    def _refuse(cls, value: Any) -> Any:
        expected = "status must be credentials_created, credentials_deleted or failed"
        raise ValueError(expected if value is None else f"{expected}, not {value!r}")


def _status_tag(value: Any) -> str:
    status = value.get("status") if isinstance(value, dict) else None
    return status if status in REPORTED_STATUSES else _REFUSED


# The PUT body (§4.9), discriminated on status. Which status a task may report (by its type and
# state) is the service's rule.
SecretTaskPrototype = Annotated[
    Annotated[CredentialsCreatedPrototype, Tag("credentials_created")]
    | Annotated[CredentialsDeletedPrototype, Tag("credentials_deleted")]
    | Annotated[FailedPrototype, Tag("failed")]
    | Annotated[SkipJsonSchema[_RefusedTaskPrototype], Tag(_REFUSED)],
    Discriminator(_status_tag),
]
register_discriminator_values(*REPORTED_STATUSES, _REFUSED)
