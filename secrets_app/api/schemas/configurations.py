"""Secrets engine configurations (sm-api.md §2.6, §4.10): custom credentials and IAM credentials.

Only these two of IBM's eight config types exist here; a request naming another gets 400 with
the supported ones named. The custom type's schema is derived from its Code Engine job's
SMIN_/SMOUT_ variables, so it is response-only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Discriminator, Field, Tag, field_validator
from pydantic.json_schema import SkipJsonSchema

from secrets_app.api.base import register_discriminator_values
from secrets_app.api.schemas.common import (
    NAME_PATTERN,
    UUID_PATTERN,
    PageLinks,
    RequestBody,
    Timestamp,
)

CUSTOM = "custom_credentials_configuration"
IAM = "iam_credentials_configuration"
SUPPORTED_CONFIG_TYPES = (CUSTOM, IAM)
# Every config_type IBM's SDK knows (GetConfigurationEnums); the header may name any of them.
ALL_CONFIG_TYPES = (
    "public_cert_configuration_dns_cloud_internet_services",
    "public_cert_configuration_dns_classic_infrastructure",
    "public_cert_configuration_ca_lets_encrypt",
    "private_cert_configuration_root_ca",
    "private_cert_configuration_intermediate_ca",
    "private_cert_configuration_template",
    IAM,
    CUSTOM,
)
ConfigTypeName = Literal[
    "public_cert_configuration_dns_cloud_internet_services",
    "public_cert_configuration_dns_classic_infrastructure",
    "public_cert_configuration_ca_lets_encrypt",
    "private_cert_configuration_root_ca",
    "private_cert_configuration_intermediate_ca",
    "private_cert_configuration_template",
    "iam_credentials_configuration",
    "custom_credentials_configuration",
]
ACCEPT_TYPE_HEADER = "X-Sm-Accept-Configuration-Type"

ConfigurationName = Annotated[str, Field(min_length=2, max_length=128, pattern=NAME_PATTERN)]
TaskTimeout = Annotated[
    str,
    Field(
        min_length=1,
        max_length=6,
        pattern=r"^[0-9]+[s,m,h,d]{0,1}$",
        description="Seconds, or a duration such as 10m or 2h: 5 minutes to 24 hours.",
    ),
]
ApiKey = Annotated[
    str,
    Field(
        min_length=5,
        max_length=60,
        pattern=r"^(?:[A-Za-z0-9_\-]{4})*(?:[A-Za-z0-9_\-]{2}==|[A-Za-z0-9_\-]{3}=)?$",
    ),
]

LIST_SORT_PATTERN = r"^-?(config_type|secret_type|name)$"
_LISTABLE_TYPE = "(iam_credentials|private_cert|public_cert|custom_credentials)"
LIST_SECRET_TYPES_PATTERN = rf"^{_LISTABLE_TYPE}(,{_LISTABLE_TYPE}){{0,3}}$"


# --- requests ---------------------------------------------------------------------------------


class CodeEnginePrototype(RequestBody):
    project_id: Annotated[str, Field(min_length=1, max_length=64)]
    job_name: Annotated[str, Field(min_length=1, max_length=128)]
    region: Annotated[str, Field(min_length=1, max_length=32)]


class CustomCredentialsConfigurationPrototype(RequestBody):
    config_type: Literal["custom_credentials_configuration"]
    name: ConfigurationName
    code_engine: CodeEnginePrototype
    api_key_ref: Annotated[str, Field(pattern=UUID_PATTERN)] | None = None
    task_timeout: TaskTimeout | None = None


class IAMCredentialsConfigurationPrototype(RequestBody):
    config_type: Literal["iam_credentials_configuration"]
    name: ConfigurationName
    api_key: ApiKey
    disabled: bool | None = None


class _RefusedConfigurationPrototype(Schema):
    """Any other config_type (IBM's certificate configurations) or none: refused, at
    config_type, with the supported types named. Left out of the OpenAPI document."""

    config_type: Any = Field(default=None, validate_default=True)

    @field_validator("config_type")
    @classmethod
    def _refuse(cls, value: Any) -> Any:
        supported = " or ".join(SUPPORTED_CONFIG_TYPES)
        if value is None:
            raise ValueError(f"is required: {supported}")
        raise ValueError(f"{value!r} is not supported here; the supported types are {supported}")


_REFUSED = "refused_config_type"


def _prototype_tag(value: Any) -> str:
    tag = value.get("config_type") if isinstance(value, dict) else None
    return tag if tag in SUPPORTED_CONFIG_TYPES else _REFUSED


ConfigurationPrototype = Annotated[
    Annotated[CustomCredentialsConfigurationPrototype, Tag(CUSTOM)]
    | Annotated[IAMCredentialsConfigurationPrototype, Tag(IAM)]
    | Annotated[SkipJsonSchema[_RefusedConfigurationPrototype], Tag(_REFUSED)],
    Discriminator(_prototype_tag),
]
register_discriminator_values(*SUPPORTED_CONFIG_TYPES, _REFUSED)


class ConfigurationPatch(RequestBody):
    """The merge patch; the stored configuration's type decides which fields it may hold
    (custom: task_timeout; IAM: api_key, disabled). It carries no config_type (§2.6)."""

    task_timeout: TaskTimeout | None = None
    api_key: ApiKey | None = None
    disabled: bool | None = None


# --- responses --------------------------------------------------------------------------------


class CodeEngine(Schema):
    project_id: str
    job_name: str
    region: str


class SchemaParameter(Schema):
    name: str
    format: str
    env_variable_name: str | None = None


class SchemaCredentials(Schema):
    name: str
    format: str


class CredentialsSchema(Schema):
    parameters: list[SchemaParameter]
    credentials: list[SchemaCredentials]


class _Common(Schema):
    name: str
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp


class CustomCredentialsConfiguration(_Common):
    config_type: Literal["custom_credentials_configuration"]
    secret_type: Literal["custom_credentials"]
    code_engine: CodeEngine
    # "schema" would shadow pydantic's BaseModel.schema: the field is named schema_ and goes
    # over the wire under its alias (the operations serialise by alias).
    schema_: CredentialsSchema = Field(alias="schema")
    code_engine_key_ref: str | None = None
    api_key_ref: str | None = None
    task_timeout: str | None = None


class IAMCredentialsConfigurationMetadata(_Common):
    config_type: Literal["iam_credentials_configuration"]
    secret_type: Literal["iam_credentials"]
    disabled: bool | None = None


class IAMCredentialsConfiguration(IAMCredentialsConfigurationMetadata):
    # Only GET returns it, and only to a Manager of the instance (see the operation).
    api_key: str | None = None


Configuration = Annotated[
    CustomCredentialsConfiguration | IAMCredentialsConfiguration,
    Field(discriminator="config_type"),
]
ConfigurationMetadata = Annotated[
    CustomCredentialsConfiguration | IAMCredentialsConfigurationMetadata,
    Field(discriminator="config_type"),
]


class ConfigurationMetadataPaginatedCollection(PageLinks):
    configurations: list[ConfigurationMetadata]
