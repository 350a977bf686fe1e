"""Secret versions (sm-api.md §2.3, §4.8; the SDK's *SecretVersion, *SecretVersionMetadata,
*SecretVersionPrototype and SecretVersionMetadataPatch models).

A version prototype carries no secret_type: the stored secret's type decides which fields apply,
so one body model holds them all and the services refuse what a type does not take (a payload
for a generated type, a restore for anything but IAM credentials). Responses are discriminated
by secret_type; their value fields (payload, api_key, credentials, credentials_content) are
optional because only GET .../versions/{id} fills them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, ValidationInfo, field_validator

from console.validation import ARBITRARY_PAYLOAD_MAX
from secrets_app.api.schemas.common import UUID_PATTERN, JsonObject, RequestBody, Timestamp

VERSION_ID_PATTERN = (
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|current|previous)$"
)
RESTORE_PATTERN = rf"^({UUID_PATTERN.strip('^$')}|previous)$"
PLACEHOLDER_VERSION_ID = "00000000-0000-0000-0000-000000000000"

VersionId = Annotated[
    str,
    Field(
        pattern=VERSION_ID_PATTERN,
        description="A version's UUID, or the alias current or previous.",
    ),
]


class SecretVersionPrototype(RequestBody):
    """POST .../versions: a rotation (or, for IAM credentials, a restore)."""

    payload: Annotated[str, Field(max_length=ARBITRARY_PAYLOAD_MAX)] | None = Field(
        default=None, description="The new value (arbitrary secrets only, and required there)."
    )
    restore_from_version: Annotated[str, Field(pattern=RESTORE_PATTERN)] | None = Field(
        default=None,
        description="IAM credentials: make the new version from this version's API key "
        "(previous, or a version id).",
    )
    custom_metadata: JsonObject | None = None
    version_custom_metadata: JsonObject | None = None

    @field_validator("restore_from_version")
    @classmethod
    def _restore_takes_no_payload(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("payload") is not None:
            raise ValueError("a restore reuses an earlier version's API key: send no payload")
        return value


class SecretVersionMetadataPatch(RequestBody):
    version_custom_metadata: JsonObject | None = None


class VersionResourceKey(Schema):
    """A service credentials version's resource key (the SDK's ServiceCredentialsResourceKey)."""

    crn: str | None = None
    name: str | None = None


class _VersionCommon(Schema):
    id: str
    secret_id: str
    secret_name: str | None = None
    secret_group_id: str
    created_by: str
    created_at: Timestamp
    auto_rotated: bool | None = None
    downloaded: bool | None = None
    payload_available: bool
    alias: Literal["current", "previous"] | None = None
    version_custom_metadata: JsonObject | None = None
    expiration_date: Timestamp | None = None


class ArbitrarySecretVersionMetadata(_VersionCommon):
    secret_type: Literal["arbitrary"]


class IAMCredentialsSecretVersionMetadata(_VersionCommon):
    secret_type: Literal["iam_credentials"]
    api_key_id: str | None = None
    service_id: str | None = None


class ServiceCredentialsSecretVersionMetadata(_VersionCommon):
    secret_type: Literal["service_credentials"]
    resource_key: VersionResourceKey | None = None


class CustomCredentialsSecretVersionMetadata(_VersionCommon):
    secret_type: Literal["custom_credentials"]
    credentials_id: str | None = None


class ArbitrarySecretVersion(ArbitrarySecretVersionMetadata):
    payload: str | None = None


class IAMCredentialsSecretVersion(IAMCredentialsSecretVersionMetadata):
    api_key: str | None = None


class ServiceCredentialsSecretVersion(ServiceCredentialsSecretVersionMetadata):
    credentials: dict[str, Any] | None = None


class CustomCredentialsSecretVersion(CustomCredentialsSecretVersionMetadata):
    # Empty in the placeholder that a rotation answers with while its task runs (§5.7).
    credentials_content: dict[str, Any] | None = None


SecretVersionMetadata = Annotated[
    ArbitrarySecretVersionMetadata
    | IAMCredentialsSecretVersionMetadata
    | ServiceCredentialsSecretVersionMetadata
    | CustomCredentialsSecretVersionMetadata,
    Field(discriminator="secret_type"),
]

SecretVersion = Annotated[
    ArbitrarySecretVersion
    | IAMCredentialsSecretVersion
    | ServiceCredentialsSecretVersion
    | CustomCredentialsSecretVersion,
    Field(discriminator="secret_type"),
]


class SecretVersionMetadataCollection(Schema):
    versions: list[SecretVersionMetadata]
    total_count: int
