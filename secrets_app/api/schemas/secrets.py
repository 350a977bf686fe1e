"""Secrets (sm-api.md §2.2, §3, §4.4-§4.7, §6, §7.2): prototypes, the metadata patch, the list
query, and the Secret / SecretMetadata of each supported type.

The shape rules (types, patterns, lengths, counts) are here; what needs the database or a
provider (the group exists, the name is free, the configuration and its parameters, the ttl and
rotation ranges of each type, the 10 KB metadata limit) is checked by the create and edit
services, which the console shares.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Discriminator, Field, Tag, field_validator
from pydantic.json_schema import SkipJsonSchema

from secrets_app.api.base import register_discriminator_values
from secrets_app.api.schemas.common import (
    GROUP_ID_PATTERN,
    NAME_PATTERN,
    UUID_PATTERN,
    Description,
    JsonObject,
    PageLinks,
    RequestBody,
    Timestamp,
)

SUPPORTED_TYPES = ("arbitrary", "custom_credentials", "iam_credentials", "service_credentials")
IBM_SECRET_TYPES = (
    "arbitrary",
    "iam_credentials",
    "imported_cert",
    "kv",
    "private_cert",
    "public_cert",
    "service_credentials",
    "username_password",
    "custom_credentials",
)
IbmSecretType = Literal[
    "arbitrary",
    "iam_credentials",
    "imported_cert",
    "kv",
    "private_cert",
    "public_cert",
    "service_credentials",
    "username_password",
    "custom_credentials",
]
UNSUPPORTED_TAG = "unsupported_secret_type"

SecretName = Annotated[str, Field(min_length=2, max_length=256, pattern=NAME_PATTERN)]
Label = Annotated[str, Field(min_length=2, max_length=64)]
Labels = Annotated[list[Label], Field(max_length=30)]
GroupId = Annotated[str, Field(min_length=7, max_length=36, pattern=GROUP_ID_PATTERN)]
Ttl = Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[0-9]+[smhd]?$")]
# A JSON string in RFC 3339 (the SDK sends datetimes so); the only non-strict field type.
DateTimeInput = Annotated[datetime, Field(strict=False)]
ConfigurationRef = Annotated[
    str, Field(min_length=2, max_length=128, pattern=r"^[a-zA-Z0-9]([-a-zA-Z0-9\-_\.]*)?$")
]
ParameterValue = str | int | bool
AccessGroupId = Annotated[str, Field(max_length=100, pattern=r"^AccessGroupId-[a-z0-9-]+[a-z0-9]$")]
ServiceIdRef = Annotated[
    str,
    Field(
        min_length=46,
        max_length=46,
        pattern=r"^ServiceId-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    ),
]
AccountId = Annotated[str, Field(min_length=32, max_length=32, pattern=r"^[a-z0-9]*$")]
Crn = Annotated[str, Field(min_length=9, max_length=512)]


class RotationPolicy(RequestBody):
    """CommonRotationPolicy: the per-type interval ranges and "≤ ttl" are the services' rules."""

    auto_rotate: bool
    interval: Annotated[int, Field(ge=1)] | None = None
    unit: Literal["day", "month", "hour"] | None = None


class _PrototypeCommon(RequestBody):
    name: SecretName
    description: Description = ""
    secret_group_id: GroupId = "default"
    labels: Labels | None = None
    custom_metadata: JsonObject | None = None
    version_custom_metadata: JsonObject | None = None


class ArbitrarySecretPrototype(_PrototypeCommon):
    secret_type: Literal["arbitrary"]
    payload: Annotated[str, Field(min_length=1, max_length=1_000_000)]
    expiration_date: DateTimeInput | None = None


class IAMCredentialsSecretPrototype(_PrototypeCommon):
    secret_type: Literal["iam_credentials"]
    ttl: Ttl
    reuse_api_key: bool
    access_groups: Annotated[list[AccessGroupId], Field(min_length=1, max_length=10)] | None = None
    service_id: ServiceIdRef | None = None
    account_id: AccountId | None = None
    rotation: RotationPolicy | None = None


class ServiceInstanceRef(RequestBody):
    crn: Crn


class ServiceRoleRef(RequestBody):
    crn: Crn


class ServiceParameters(RequestBody):
    """The parameters this console passes to the resource key: HMAC keys (Cloud Object Storage)
    and an existing service ID for the key."""

    serviceid_crn: Crn | None = None
    HMAC: bool | None = None


class ServiceCredentialsSourceService(RequestBody):
    instance: ServiceInstanceRef
    role: ServiceRoleRef | None = None
    parameters: ServiceParameters | None = None


class ServiceCredentialsSecretPrototype(_PrototypeCommon):
    secret_type: Literal["service_credentials"]
    source_service: ServiceCredentialsSourceService
    ttl: Ttl | None = None
    rotation: RotationPolicy | None = None


class CustomCredentialsSecretPrototype(_PrototypeCommon):
    secret_type: Literal["custom_credentials"]
    configuration: ConfigurationRef
    parameters: dict[str, ParameterValue] | None = None
    ttl: Ttl | None = None
    rotation: RotationPolicy | None = None


class UnsupportedSecretPrototype(Schema):
    """Any other secret_type (IBM's certificates, kv, username_password) or none: refused with a
    message naming the supported types, located at secret_type. Not part of the OpenAPI
    document, which lists only the supported prototypes."""

    secret_type: Any = Field(default=None, validate_default=True)

    @field_validator("secret_type")
    @classmethod
    def _refuse(cls, value: Any) -> Any:
        supported = ", ".join(SUPPORTED_TYPES)
        if value is None:
            raise ValueError(f"is required: one of {supported}")
        raise ValueError(
            f"{value!r} is not supported by this instance; the supported types are {supported}"
        )


def _prototype_tag(value: Any) -> str:
    tag = value.get("secret_type") if isinstance(value, dict) else None
    return tag if tag in SUPPORTED_TYPES else UNSUPPORTED_TAG


SecretPrototype = Annotated[
    Annotated[ArbitrarySecretPrototype, Tag("arbitrary")]
    | Annotated[CustomCredentialsSecretPrototype, Tag("custom_credentials")]
    | Annotated[IAMCredentialsSecretPrototype, Tag("iam_credentials")]
    | Annotated[ServiceCredentialsSecretPrototype, Tag("service_credentials")]
    | Annotated[SkipJsonSchema[UnsupportedSecretPrototype], Tag(UNSUPPORTED_TAG)],
    Discriminator(_prototype_tag),
]
register_discriminator_values(*SUPPORTED_TYPES, UNSUPPORTED_TAG)


class SecretMetadataPatch(RequestBody):
    """Every field of the four types' *SecretMetadataPatch models (§4.7), all optional. The
    stored secret's type decides which of them apply: the edit service refuses the others,
    naming the field (arbitrary: expiration_date; the credentials types: ttl and rotation;
    custom credentials: parameters as well). null removes a value (JSON merge patch)."""

    name: SecretName | None = None
    description: Description | None = None
    labels: Labels | None = None
    custom_metadata: JsonObject | None = None
    expiration_date: DateTimeInput | None = None
    ttl: Ttl | None = None
    rotation: RotationPolicy | None = None
    parameters: dict[str, ParameterValue] | None = None


# --- The list query (§3.1) ----------------------------------------------------------------------

_GROUP = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|default)"
_TYPE = "(?:" + "|".join(IBM_SECRET_TYPES) + ")"
SORT_PATTERN = r"^-?(id|created_at|updated_at|retrieved_at|expiration_date|secret_type|name)$"


class SecretListQuery(Schema):
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    limit: Annotated[int, Field(ge=1, le=1000)] = 200
    sort: Annotated[str, Field(min_length=2, max_length=17, pattern=SORT_PATTERN)] | None = None
    search: Annotated[str, Field(min_length=2, max_length=128)] | None = None
    groups: (
        Annotated[
            str,
            Field(
                pattern=rf"^{_GROUP}(,{_GROUP}){{0,200}}$",
                description="Comma-separated secret group ids (or default), up to 201.",
            ),
        ]
        | None
    ) = None
    secret_types: (
        Annotated[
            str,
            Field(
                pattern=rf"^{_TYPE}(,{_TYPE}){{0,8}}$",
                description="Comma-separated secret types, up to 9.",
            ),
        ]
        | None
    ) = None
    match_all_labels: (
        Annotated[
            str,
            Field(
                pattern=r"^[^,]{2,64}(,[^,]{2,64}){0,29}$",
                description="Comma-separated labels (up to 30), all of which a secret must carry.",
            ),
        ]
        | None
    ) = None


# --- Responses (§4.4, §4.7, §6) -----------------------------------------------------------------

StateDescription = Literal["pre_activation", "active", "suspended", "deactivated", "destroyed"]


class RotationPolicyOut(Schema):
    auto_rotate: bool
    interval: int | None = None
    unit: Literal["day", "month", "hour"] | None = None


class _MetadataCommon(Schema):
    id: Annotated[str, Field(pattern=UUID_PATTERN)]
    name: str
    description: str
    secret_group_id: str
    labels: list[str]
    custom_metadata: JsonObject
    state: Literal[0, 1, 2, 3, 5]
    state_description: StateDescription
    crn: str
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    retrieved_at: Timestamp  # the epoch when the data was never retrieved
    downloaded: bool
    locks_total: int
    versions_total: int
    referenced_by: list[str]
    expiration_date: Timestamp | None = None


class ArbitrarySecretMetadata(_MetadataCommon):
    secret_type: Literal["arbitrary"]


class ArbitrarySecret(ArbitrarySecretMetadata):
    payload: str


class IAMCredentialsSecretMetadata(_MetadataCommon):
    secret_type: Literal["iam_credentials"]
    ttl: str
    reuse_api_key: bool
    access_groups: list[str] | None = None
    account_id: str | None = None
    service_id: str
    service_id_is_static: bool
    api_key_id: str | None = None
    rotation: RotationPolicyOut
    next_rotation_date: Timestamp | None = None


class IAMCredentialsSecret(IAMCredentialsSecretMetadata):
    api_key: str


class ServiceCredentialsResourceKey(Schema):
    crn: str | None = None
    name: str | None = None


class CrnRef(Schema):
    crn: str


class ServiceCredentialsSourceServiceIam(Schema):
    role: CrnRef | None = None
    serviceid: CrnRef | None = None


class ServiceCredentialsSourceServiceParametersOut(Schema):
    serviceid_crn: str | None = None
    HMAC: bool | None = None


class ServiceCredentialsSecretSourceServiceRO(Schema):
    instance: CrnRef
    role: CrnRef | None = None
    parameters: ServiceCredentialsSourceServiceParametersOut | None = None
    iam: ServiceCredentialsSourceServiceIam | None = None
    resource_key: ServiceCredentialsResourceKey | None = None


class ServiceCredentialsSecretMetadata(_MetadataCommon):
    secret_type: Literal["service_credentials"]
    source_service: ServiceCredentialsSecretSourceServiceRO
    ttl: str | None = None
    rotation: RotationPolicyOut
    next_rotation_date: Timestamp | None = None


class ServiceCredentialsSecret(ServiceCredentialsSecretMetadata):
    credentials: JsonObject


class CustomCredentialsSecretMetadata(_MetadataCommon):
    secret_type: Literal["custom_credentials"]
    configuration: str
    parameters: JsonObject
    ttl: str | None = None
    rotation: RotationPolicyOut
    next_rotation_date: Timestamp | None = None
    task_count: int
    queued_task_count: int
    processing_task_id: str | None = None
    last_failed_task_id: str | None = None
    last_rotation_failed: bool


class CustomCredentialsSecret(CustomCredentialsSecretMetadata):
    credentials_content: JsonObject  # empty until the provider job created the credentials


SecretMetadata = Annotated[
    ArbitrarySecretMetadata
    | CustomCredentialsSecretMetadata
    | IAMCredentialsSecretMetadata
    | ServiceCredentialsSecretMetadata,
    Field(discriminator="secret_type"),
]
Secret = Annotated[
    ArbitrarySecret | CustomCredentialsSecret | IAMCredentialsSecret | ServiceCredentialsSecret,
    Field(discriminator="secret_type"),
]


class SecretMetadataPaginatedCollection(PageLinks):
    secrets: list[SecretMetadata]


# What create_secret answers: the new secret's metadata (its value is read with get_secret, which
# audits the read); a custom credentials secret adds its still empty credentials_content.
CreatedSecret = Annotated[
    ArbitrarySecretMetadata
    | CustomCredentialsSecret
    | IAMCredentialsSecretMetadata
    | ServiceCredentialsSecretMetadata,
    Field(discriminator="secret_type"),
]
