"""The only writers of service instances and resource keys of the embedded resource controller.

Services are keyword-only and transactional: they validate everything first, then write, so a
rejected call leaves nothing behind. Each write records an audit event that names ids and names
only. Credentials are sealed before they reach the database, opened only by
`resource_key_credentials_read`, and never logged or audited.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from console import crypto
from console.audit import audit_record
from console.errors import NotFoundError
from console.identity import Actor
from engines_app.providers.embedded.resource_controller import catalog
from engines_app.providers.embedded.resource_controller.models import (
    ResourceKey,
    ServiceInstance,
)
from engines_app.providers.resource_controller import SERVICEID_CRN_RE
from engines_app.regions import REGIONS

INSTANCE_NAME_MAX = 180
KEY_NAME_MAX = 256
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

# The demo's instances: (name, service, region). Cloud Object Storage instances are global.
SEED_INSTANCES: tuple[tuple[str, str, str], ...] = (
    ("cos-backups", "cloud-object-storage", catalog.GLOBAL),
    ("postgres-orders", "databases-for-postgresql", "us-south"),
    ("events-orders", "messagehub", "us-south"),
    ("appid-customer-portal", "appid", "us-south"),
    ("notifications-alerts", "event-notifications", "us-south"),
    ("redis-sessions", "databases-for-redis", "eu-de"),
    ("mongo-analytics", "databases-for-mongodb", "eu-de"),
    ("cloudant-catalog", "cloudantnosqldb", "eu-de"),
    ("appconfig-feature-flags", "apprapp", "eu-de"),
)


def _name_problem(name: str, *, maximum: int) -> str | None:
    if not name:
        return "This field is required."
    if len(name) > maximum:
        return f"Use at most {maximum} characters."
    if name != name.strip() or _CONTROL_CHARS.search(name):
        return "Remove leading or trailing spaces and control characters."
    return None


# ---------------------------------------------------------------------------------------------
# Service instances


def instance_list(*, service: str | None = None) -> QuerySet[ServiceInstance]:
    qs = ServiceInstance.objects.all()
    return qs.filter(service=service) if service else qs


def instance_get(*, crn: str) -> ServiceInstance:
    try:
        return ServiceInstance.objects.get(crn=crn)
    except ServiceInstance.DoesNotExist:
        raise NotFoundError(
            f"Service instance {crn} does not exist.", field="instance_crn"
        ) from None


@transaction.atomic
def instance_create(*, actor: Actor, name: str, service: str, region: str) -> ServiceInstance:
    errors: dict[str, str] = {}
    if problem := _name_problem(name, maximum=INSTANCE_NAME_MAX):
        errors["name"] = problem
    elif ServiceInstance.objects.filter(name=name).exists():
        errors["name"] = f"A service instance named {name!r} already exists."
    spec = catalog.get_service(service)
    if spec is None:
        errors["service"] = (
            f"{service!r} does not support service credentials. Use one of: "
            f"{', '.join(s.key for s in catalog.SERVICES)}."
        )
    elif spec.is_global and region != catalog.GLOBAL:
        errors["region"] = f"{spec.label} instances are global: use the region 'global'."
    elif not spec.is_global and region not in REGIONS:
        errors["region"] = f"Unknown region {region!r}. Use one of: {', '.join(REGIONS)}."
    if errors:
        raise ValidationError(errors)
    guid = uuid.uuid4()
    account_id = settings.SM_ACCOUNT_ID
    try:
        with transaction.atomic():
            instance = ServiceInstance.objects.create(
                guid=guid,
                name=name,
                service=service,
                region=region,
                account_id=account_id,
                crn=ServiceInstance.build_crn(
                    service=service, region=region, account_id=account_id, guid=guid
                ),
                created_by=actor.iam_id,
            )
    except IntegrityError:
        raise ValidationError(
            {"name": f"A service instance named {name!r} already exists."}
        ) from None
    audit_record(
        actor=actor,
        action="service_instance.create",
        object_type="service_instance",
        object_id=str(instance.guid),
        object_name=instance.name,
        detail={"service": service, "region": region, "crn": instance.crn},
    )
    return instance


@transaction.atomic
def seed_service_instances(*, actor: Actor) -> int:
    """Create the demo's service instances that do not exist yet; return how many were made."""
    existing = set(
        ServiceInstance.objects.filter(name__in=[n for n, _, _ in SEED_INSTANCES]).values_list(
            "name", flat=True
        )
    )
    made = 0
    for name, service, region in SEED_INSTANCES:
        if name not in existing:
            instance_create(actor=actor, name=name, service=service, region=region)
            made += 1
    return made


# ---------------------------------------------------------------------------------------------
# Resource keys


def _key_get(crn: str, *, for_update: bool = False) -> ResourceKey:
    qs = ResourceKey.objects.select_related("instance")
    if for_update:
        qs = qs.select_for_update()
    try:
        return qs.get(crn=crn)
    except ResourceKey.DoesNotExist:
        raise NotFoundError(f"Resource key {crn} does not exist.", field="crn") from None


@transaction.atomic
def resource_key_create(
    *,
    actor: Actor,
    instance_crn: str,
    name: str,
    role: str | None = None,
    hmac: bool = False,
    serviceid_crn: str | None = None,
) -> tuple[ResourceKey, dict[str, Any]]:
    """Create a key and return it with its credentials, which the caller shows or stores once.

    `role` is a role name or CRN that the service offers, or None for a pre-existing service ID
    whose own policies apply. Without `serviceid_crn` the key gets a service ID of its own.
    """
    instance = instance_get(crn=instance_crn)
    spec = catalog.get_service(instance.service)
    if spec is None:
        raise NotFoundError(
            f"Service {instance.service!r} of instance {instance.name!r} is not in the catalog.",
            field="instance_crn",
        )
    errors: dict[str, str] = {}
    if problem := _name_problem(name, maximum=KEY_NAME_MAX):
        errors["name"] = problem
    role_info = None
    if role is not None:
        role_info = spec.role(role)
        if role_info is None:
            errors["role"] = (
                f"{spec.label} does not offer the role {role!r}. Choose one of: "
                f"{', '.join(r.name for r in spec.roles)}, or None."
            )
    if hmac and not spec.hmac:
        errors["hmac"] = (
            f"HMAC credentials exist only for Cloud Object Storage; {spec.label} does not "
            "support them."
        )
    if serviceid_crn is not None and not SERVICEID_CRN_RE.match(serviceid_crn):
        errors["serviceid_crn"] = (
            "Enter a service ID CRN such as crn:v1:bluemix:public:iam-identity::a/<account id>"
            "::serviceid:ServiceId-<uuid>."
        )
    if errors:
        raise ValidationError(errors)

    guid = uuid.uuid4()
    key = ResourceKey(
        guid=guid,
        instance=instance,
        name=name,
        crn=ResourceKey.build_crn(instance=instance, guid=guid),
        role_crn=role_info.crn if role_info else "",
        iam_apikey_id=catalog.new_apikey_id(),
        serviceid_crn=serviceid_crn or catalog.new_serviceid_crn(instance.account_id),
        serviceid_generated=serviceid_crn is None,
        hmac=hmac,
        created_by=actor.iam_id,
    )
    credentials = catalog.generate_credentials(
        catalog.KeyContext(
            service=instance.service,
            region=instance.region,
            instance_guid=str(instance.guid),
            instance_crn=instance.crn,
            key_crn=key.crn,
            key_name=name,
            role_crn=role_info.crn if role_info else None,
            serviceid_crn=key.serviceid_crn,
            apikey_id=key.iam_apikey_id,
            hmac=hmac,
        )
    )
    plaintext = json.dumps(credentials, separators=(",", ":")).encode()
    key.set_sealed(crypto.seal(plaintext, context=key.seal_context()))
    key.save(force_insert=True)
    audit_record(
        actor=actor,
        action="resource_key.create",
        object_type="resource_key",
        object_id=str(key.guid),
        object_name=key.name,
        detail={
            "crn": key.crn,
            "instance_crn": instance.crn,
            "role_crn": key.role_crn or None,
            "hmac": hmac,
            "iam_apikey_id": key.iam_apikey_id,
            "serviceid_crn": key.serviceid_crn,
            "serviceid_generated": key.serviceid_generated,
        },
    )
    return key, credentials


@transaction.atomic
def resource_key_delete(*, actor: Actor, crn: str) -> ResourceKey:
    """Delete a key: its credentials are wiped and it can no longer be read.

    The row stays, marked deleted, for the record. Deleting a deleted key changes nothing, so a
    retried delete task succeeds; an unknown CRN raises NotFoundError.
    """
    key = _key_get(crn, for_update=True)
    if key.is_deleted:
        return key
    key.deleted_at = timezone.now()
    key.deleted_by = actor.iam_id
    key.set_sealed(None)
    key.save(
        update_fields=[
            "deleted_at",
            "deleted_by",
            "sealed_key_id",
            "sealed_wrapped_key",
            "sealed_ciphertext",
        ]
    )
    audit_record(
        actor=actor,
        action="resource_key.delete",
        object_type="resource_key",
        object_id=str(key.guid),
        object_name=key.name,
        detail={
            "crn": key.crn,
            "instance_crn": key.instance.crn,
            "serviceid_crn": key.serviceid_crn,
            "serviceid_generated": key.serviceid_generated,
        },
    )
    return key


@transaction.atomic
def resource_key_credentials_read(*, actor: Actor, crn: str) -> dict[str, Any]:
    """Open a live key's sealed credentials. The read is audited; the value is not."""
    key = _key_get(crn)
    sealed = key.get_sealed()
    if key.is_deleted or sealed is None:
        raise NotFoundError(f"Resource key {crn} was deleted; its credentials are gone.")
    credentials: dict[str, Any] = json.loads(crypto.open_sealed(sealed, context=key.seal_context()))
    audit_record(
        actor=actor,
        action="resource_key.read_credentials",
        object_type="resource_key",
        object_id=str(key.guid),
        object_name=key.name,
        detail={"crn": key.crn},
    )
    return credentials
