"""Service credentials secrets: a resource key on an IBM Cloud service instance (sm-api.md §6.2).

Creating a secret creates a real resource key, named after the secret, on the instance named by
`source_service.instance.crn`, through the resource controller provider. The key's credentials
are the version's payload; the version keeps the key's CRN and name as non-secret facts.

Secrets Manager may create keys on an instance only once a service-to-service authorization
grants it the Key Manager role there (docs/service-credentials.md, "Authorize").
`authorize_service_instance` creates that authorization.

Everything is validated before the key is created; if a later write fails, the key is deleted
again, so a rejected call leaves neither a secret nor a resource key behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Unpack

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console import validation
from console.audit import audit_record
from console.errors import ConflictError, NotFoundError
from console.identity import Actor
from engines_app.providers.iam import SECRETS_MANAGER_SERVICE, AuthorizationInfo, get_iam
from engines_app.providers.resource_controller import (
    SERVICEID_CRN_RE,
    ResourceControllerProvider,
    ResourceKeyResult,
    ServiceInfo,
    ServiceInstanceInfo,
    get_resource_controller,
)
from secrets_app.models import Secret, SecretType
from secrets_app.services.creation import (
    FirstVersion,
    SecretDetails,
    SecretPlan,
    secret_create,
)
from secrets_app.services.iam_credentials import next_rotation

SOURCE_SERVICE = SECRETS_MANAGER_SERVICE
KEY_MANAGER = "Key Manager"
NO_ROLE = "None"

# The provider's argument names → this service's field names.
_PROVIDER_FIELDS = {
    "instance_crn": "instance_crn",
    "crn": "instance_crn",
    "name": "name",
    "role": "role",
    "hmac": "hmac",
    "serviceid_crn": "serviceid_crn",
}


class AuthorizationMissingError(ConflictError):
    code = "service_authorization_missing"


def service_info(service_key: str) -> ServiceInfo | None:
    return next(
        (s for s in get_resource_controller().list_services() if s.key == service_key), None
    )


def instance_lookup(crn: str) -> ServiceInstanceInfo | None:
    """The instance with this CRN, or None when there is none."""
    if not crn:
        return None
    try:
        return get_resource_controller().get_instance(crn=crn)
    except NotFoundError:
        return None


def instance_authorized(instance: ServiceInstanceInfo) -> bool:
    """Whether Secrets Manager holds Key Manager on the instance (or on its whole service)."""
    return get_iam().authorization_exists(
        source_service=SOURCE_SERVICE,
        target_service=instance.service,
        target_resource=instance.crn,
        roles=[KEY_MANAGER],
    )


def _instance_or_error(instance_crn: str) -> ServiceInstanceInfo:
    instance = instance_lookup(instance_crn)
    if instance is None:
        raise ValidationError(
            {"instance_crn": f"There is no service instance with the CRN {instance_crn!r}."}
        )
    return instance


@transaction.atomic
def authorize_service_instance(*, actor: Actor, instance_crn: str) -> AuthorizationInfo:
    """Authorize Secrets Manager (source) on the instance (target) with Key Manager. Idempotent:
    an authorization that already covers the instance is returned as it is."""
    instance = _instance_or_error(instance_crn)
    return get_iam().ensure_authorization(
        actor=actor,
        source_service=SOURCE_SERVICE,
        target_service=instance.service,
        target_resource=instance.crn,
        roles=[KEY_MANAGER],
    )


def _role_problem(service: ServiceInfo, role: str | None) -> str | None:
    if role is None:
        return None
    wanted = role.strip()
    if any(
        wanted in (r.crn, r.name) or wanted.casefold() == r.name.casefold() for r in service.roles
    ):
        return None
    return (
        f"{service.label} does not offer the role {role!r}. Choose one of: "
        f"{', '.join(r.name for r in service.roles)}, or None."
    )


def serviceid_problem(serviceid_crn: str | None) -> str | None:
    """What is wrong with a service ID CRN, or None. One of this account must exist."""
    if serviceid_crn is None:
        return None
    if not SERVICEID_CRN_RE.match(serviceid_crn):
        return (
            "Enter a service ID CRN such as crn:v1:bluemix:public:iam-identity::a/<account id>"
            "::serviceid:ServiceId-<uuid>."
        )
    iam = get_iam()
    account = serviceid_crn.split("::a/", 1)[1].split("::", 1)[0]
    service_id = serviceid_crn.rsplit(":", 1)[-1]
    if account == iam.account_id() and not iam.service_id_exists(service_id):
        return f"Service ID {service_id} does not exist in this account, or it is locked."
    return None


def _provider_error(exc: ValidationError) -> ValidationError:
    """The provider's field errors, keyed by this service's field names."""
    if not hasattr(exc, "error_dict"):
        return exc
    errors: dict[str, list[str]] = {}
    for field, messages in exc.message_dict.items():
        errors.setdefault(_PROVIDER_FIELDS.get(field, field), []).extend(messages)
    return ValidationError(errors)


def source_service_body(
    *, instance_crn: str, role_crn: str | None, hmac: bool, serviceid_crn: str | None
) -> dict[str, Any]:
    """`source_service` as the API has it: instance, role (absent for None) and parameters."""
    body: dict[str, Any] = {"instance": {"crn": instance_crn}}
    if role_crn:
        body["role"] = {"crn": role_crn}
    parameters: dict[str, Any] = {}
    if hmac:
        parameters["HMAC"] = True
    if serviceid_crn:
        parameters["serviceid_crn"] = serviceid_crn
    body["parameters"] = parameters
    return body


def _discard_key(rc: ResourceControllerProvider, key: ResourceKeyResult, actor: Actor) -> None:
    """Undo a key whose secret could not be written. The caller re-raises the original error."""
    try:
        rc.delete_resource_key(crn=key.crn, actor=actor)
    except Exception:  # the original error is the one to report
        audit_record(
            actor=actor,
            action="resource_key.orphaned",
            object_type="resource_key",
            object_id=key.crn,
            object_name=key.name,
        )


@dataclass(frozen=True)
class _ServiceChecked:
    instance: ServiceInstanceInfo
    ttl_seconds: int | None
    policy: dict[str, Any] | None


def service_credentials_secret_create(
    *,
    actor: Actor,
    instance_crn: str,
    role: str | None,
    serviceid_crn: str | None,
    hmac: bool,
    ttl: str | None = None,
    rotation: dict[str, Any] | None = None,
    **details: Unpack[SecretDetails],
) -> Secret:
    """Create a service credentials secret and its resource key.

    `role` is a role name or CRN the instance's service offers, or None ("None": the service
    ID's own policies apply). `serviceid_crn` names an existing service ID; None generates one
    for the key. `hmac` asks for HMAC keys (Cloud Object Storage only). `ttl` is optional
    (1 day to 90 days; "0" or nothing means no expiry).
    """
    name = details["name"]

    def check() -> _ServiceChecked:
        errors: dict[str, list[str]] = {}
        ttl_seconds: int | None = None
        policy: dict[str, Any] | None = None
        try:
            ttl_seconds = validation.parse_ttl(ttl, secret_type=SecretType.SERVICE_CREDENTIALS)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if "ttl" not in errors:
            try:
                policy = validation.validate_rotation(
                    rotation, secret_type=SecretType.SERVICE_CREDENTIALS, ttl_seconds=ttl_seconds
                )
            except ValidationError as exc:
                errors.update(exc.message_dict)
        instance = instance_lookup(instance_crn)
        service = service_info(instance.service) if instance else None
        if instance is None:
            errors["instance_crn"] = [
                f"There is no service instance with the CRN {instance_crn!r}."
            ]
        elif service is None:
            errors["instance_crn"] = [
                f"Instance {instance.name} belongs to {instance.service!r}, which does not support "
                "service credentials."
            ]
        else:
            if problem := _role_problem(service, role):
                errors["role"] = [problem]
            if hmac and not service.hmac:
                errors["hmac"] = [
                    f"HMAC credentials exist only for Cloud Object Storage; {service.label} does not "
                    "support them."
                ]
        if problem := serviceid_problem(serviceid_crn):
            errors["serviceid_crn"] = [problem]
        if errors:
            raise ValidationError(errors)
        assert instance is not None and service is not None
        if not instance_authorized(instance):
            raise AuthorizationMissingError(
                f"Secrets Manager is not authorized to create credentials on {service.label} "
                f"instance {instance.name} ({instance.crn}). Authorize it with the {KEY_MANAGER} "
                "role first.",
                field="instance_crn",
            )
        return _ServiceChecked(instance, ttl_seconds, policy)

    def provision(checked: _ServiceChecked) -> SecretPlan:
        rc = get_resource_controller()
        instance = checked.instance
        try:
            key = rc.create_resource_key(
                instance_crn=instance.crn,
                name=name,
                role=role,
                hmac=hmac,
                serviceid_crn=serviceid_crn,
                actor=actor,
            )
        except ValidationError as exc:
            raise _provider_error(exc) from None
        except NotFoundError as exc:
            raise ValidationError(
                {_PROVIDER_FIELDS.get(exc.field or "", "instance_crn"): exc.message}
            ) from None
        now = timezone.now()
        ttl_seconds = checked.ttl_seconds
        expires = now + timedelta(seconds=ttl_seconds) if ttl_seconds else None
        return SecretPlan(
            columns={
                "ttl_seconds": ttl_seconds,
                "rotation": checked.policy,
                "expiration_date": expires,
                "next_rotation_date": next_rotation(checked.policy, now),
                "source_service": source_service_body(
                    instance_crn=instance.crn,
                    role_crn=key.role_crn,
                    hmac=hmac,
                    serviceid_crn=serviceid_crn,
                ),
            },
            first_version=FirstVersion(
                payload=key.credentials,
                version_data={
                    "resource_key": {"crn": key.crn, "name": key.name},
                    "serviceid_crn": key.serviceid_crn,
                },
                credentials_id=key.crn,
                expiration_date=expires,
            ),
            audit_detail={"instance_crn": instance.crn, "resource_key_crn": key.crn},
            undo=lambda: _discard_key(rc, key, actor),
        )

    return secret_create(
        actor=actor,
        secret_type=SecretType.SERVICE_CREDENTIALS,
        check=check,
        provision=provision,
        **details,
    )
