"""Service credentials secrets: a real resource key per secret, the authorization it needs, and
all-or-nothing writes (nothing half-written on any error: no secret and no resource key)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from console.errors import ConflictError, NotFoundError
from console.models import AuditEvent
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceAuthorization
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ResourceKey, ServiceInstance
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app.models import Secret, SecretType
from secrets_app.services import secret_version_payload_read
from secrets_app.services import service_credentials as sc
from tests.factories import factory_actor

pytestmark = pytest.mark.django_db

WRITER_CRN = "crn:v1:bluemix:public:iam::::serviceRole:Writer"


@pytest.fixture
def instances() -> dict[str, ServiceInstance]:
    rc_services.seed_service_instances(actor=factory_actor())
    return {i.name: i for i in ServiceInstance.objects.all()}


@pytest.fixture
def authorized(instances) -> dict[str, ServiceInstance]:
    for name in ("postgres-orders", "cos-backups", "events-orders"):
        sc.authorize_service_instance(actor=factory_actor(), instance_crn=instances[name].crn)
    return instances


def create(instance: ServiceInstance, **overrides: Any) -> Secret:
    kwargs: dict[str, Any] = {
        "actor": factory_actor(),
        "name": "orders-db-writer",
        "instance_crn": instance.crn,
        "role": "Writer",
        "serviceid_crn": None,
        "hmac": False,
        "secret_group_id": "default",
        **overrides,
    }
    return sc.service_credentials_secret_create(**kwargs)


def assert_nothing_written() -> None:
    assert not Secret.objects.filter(secret_type=SecretType.SERVICE_CREDENTIALS).exists()
    assert not ResourceKey.objects.exists()


def test_creates_a_real_resource_key_whose_credentials_are_the_payload(authorized):
    instance = authorized["postgres-orders"]
    secret = create(
        instance,
        description="Orders service",
        labels=["prod"],
        custom_metadata={"team": "orders"},
        version_custom_metadata={"ticket": "OPS-1"},
    )
    key = ResourceKey.objects.get()
    assert key.name == "orders-db-writer" and key.instance_id == instance.guid
    assert not key.is_deleted and key.role_crn == WRITER_CRN and key.serviceid_generated
    version = secret.versions.get()
    assert version.credentials_id == key.crn
    assert version.version_data == {
        "resource_key": {"crn": key.crn, "name": key.name},
        # Kept so that a rotation's new key has the same service ID.
        "serviceid_crn": key.serviceid_crn,
    }
    assert version.version_custom_metadata == {"ticket": "OPS-1"}
    payload = secret_version_payload_read(actor=factory_actor(), version_id=version.pk)
    credentials = rc_services.resource_key_credentials_read(actor=factory_actor(), crn=key.crn)
    assert payload == credentials
    assert payload["iam_role_crn"] == WRITER_CRN and payload["resource_instance_id"] == instance.crn
    assert payload["connection"]["postgres"]["authentication"]["password"]
    assert secret.source_service == {
        "instance": {"crn": instance.crn},
        "role": {"crn": WRITER_CRN},
        "parameters": {},
    }
    assert secret.state_description == "active" and secret.versions_total == 1
    assert secret.ttl_seconds is None and secret.expiration_date is None
    assert secret.labels == ["prod"] and secret.custom_metadata == {"team": "orders"}
    # The payload is sealed at rest and never audited.
    password = payload["connection"]["postgres"]["authentication"]["password"]
    assert password.encode() not in bytes(version.sealed_ciphertext)
    event = AuditEvent.objects.get(action="secret.create", object_id=str(secret.pk))
    assert event.detail == {"instance_crn": instance.crn, "resource_key_crn": key.crn}
    audit = json.dumps(list(AuditEvent.objects.values("detail", "object_name")))
    assert payload["apikey"] not in audit and password not in audit


def test_cos_with_hmac_and_an_existing_service_id(authorized):
    sid = iam.service_id_create(actor=factory_actor(), name="backup-writer")
    secret = create(
        authorized["cos-backups"],
        name="backups-hmac",
        role="Object Writer",
        hmac=True,
        serviceid_crn=sid.crn,
    )
    key = ResourceKey.objects.get()
    assert key.hmac and not key.serviceid_generated and key.serviceid_crn == sid.crn
    assert secret.source_service["parameters"] == {"HMAC": True, "serviceid_crn": sid.crn}
    assert secret.source_service["role"] == {
        "crn": "crn:v1:bluemix:public:cloud-object-storage::::serviceRole:ObjectWriter"
    }
    payload = secret_version_payload_read(
        actor=factory_actor(), version_id=secret.versions.get().pk
    )
    assert set(payload["cos_hmac_keys"]) == {"access_key_id", "secret_access_key"}
    assert payload["iam_serviceid_crn"] == sid.crn


def test_role_none_leaves_the_role_out(authorized):
    secret = create(authorized["events-orders"], name="events-none", role=None)
    assert "role" not in secret.source_service
    key = ResourceKey.objects.get()
    assert key.role_crn == "" and key.role_name == "None"
    payload = secret_version_payload_read(
        actor=factory_actor(), version_id=secret.versions.get().pk
    )
    assert "iam_role_crn" not in payload and payload["user"] == "token"


def test_ttl_and_rotation(authorized):
    before = timezone.now()
    secret = create(
        authorized["postgres-orders"],
        ttl="30d",
        rotation={"auto_rotate": True, "interval": 7, "unit": "day"},
    )
    assert secret.ttl == str(30 * 86400)
    assert secret.expiration_date - before >= timedelta(days=30)
    assert secret.next_rotation_date - before >= timedelta(days=7)
    assert secret.versions.get().expiration_date == secret.expiration_date
    no_expiry = create(authorized["postgres-orders"], name="forever", ttl="0")
    assert no_expiry.ttl_seconds is None and no_expiry.expiration_date is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ttl": "12h"}, "ttl", "between 1 day and 90 days"),
        ({"ttl": "91d"}, "ttl", "between 1 day and 90 days"),
        ({"ttl": "soon"}, "ttl", "is not a duration"),
        (
            {"rotation": {"auto_rotate": True, "interval": 12, "unit": "hour"}},
            "rotation",
            "between 1 day and 3 months",
        ),
        (
            {"rotation": {"auto_rotate": True, "interval": 4, "unit": "month"}},
            "rotation",
            "between 1 day and 3 months",
        ),
        (
            {"ttl": "2d", "rotation": {"auto_rotate": True, "interval": 3, "unit": "day"}},
            "rotation",
            "cannot be longer than the lease",
        ),
        ({"role": "Janitor"}, "role", "does not offer the role 'Janitor'"),
        ({"role": ""}, "role", "does not offer the role"),
        ({"hmac": True}, "hmac", "exist only for Cloud Object Storage"),
        ({"instance_crn": "crn:v1:nowhere"}, "instance_crn", "There is no service instance"),
        ({"serviceid_crn": "ServiceId-123"}, "serviceid_crn", "Enter a service ID CRN"),
        (
            {
                "serviceid_crn": "crn:v1:bluemix:public:iam-identity::a/a5ebf2570dcaedf18d7ed78e216c263a"
                "::serviceid:ServiceId-c0c7cfa4-b24e-4917-ad74-278f2fee5ba0"
            },
            "serviceid_crn",
            "does not exist in this account",
        ),
        ({"name": "-bad-"}, "name", "is not allowed"),
    ],
)
def test_invalid_input_is_a_field_error_and_writes_nothing(authorized, overrides, field, message):
    with pytest.raises(ValidationError) as caught:
        create(authorized["postgres-orders"], **overrides)
    assert message in " ".join(caught.value.message_dict[field])
    assert_nothing_written()


def test_errors_are_collected_together(authorized):
    with pytest.raises(ValidationError) as caught:
        create(authorized["postgres-orders"], ttl="1h", role="Janitor", hmac=True)
    assert {"ttl", "role", "hmac"} <= set(caught.value.message_dict)


def test_hmac_is_refused_for_a_service_other_than_cos(authorized):
    with pytest.raises(ValidationError) as caught:
        create(authorized["events-orders"], hmac=True)
    assert caught.value.message_dict["hmac"] == [
        "HMAC credentials exist only for Cloud Object Storage; Event Streams does not support them."
    ]
    assert_nothing_written()


def test_a_missing_authorization_is_refused_and_names_the_instance(instances):
    instance = instances["redis-sessions"]
    with pytest.raises(sc.AuthorizationMissingError) as caught:
        create(instance)
    assert caught.value.field == "instance_crn" and caught.value.status == 409
    assert "redis-sessions" in caught.value.message and instance.crn in caught.value.message
    assert "Key Manager" in caught.value.message
    assert_nothing_written()


def test_an_authorization_with_other_roles_or_for_another_instance_does_not_count(instances):
    instance = instances["redis-sessions"]
    iam.authorization_create(
        actor=factory_actor(),
        source_service="secrets-manager",
        target_service="databases-for-redis",
        target_resource=instance.crn,
        roles=["Viewer"],
    )
    sc.authorize_service_instance(actor=factory_actor(), instance_crn=instances["cos-backups"].crn)
    with pytest.raises(sc.AuthorizationMissingError):
        create(instance)
    assert_nothing_written()


def test_a_service_wide_authorization_counts(instances):
    iam.authorization_create(
        actor=factory_actor(),
        source_service="secrets-manager",
        target_service="databases-for-redis",
        roles=["Key Manager"],
    )
    create(instances["redis-sessions"], name="redis-key")
    assert ResourceKey.objects.filter(name="redis-key").exists()


def test_authorize_is_idempotent(instances):
    instance = instances["mongo-analytics"]
    first = sc.authorize_service_instance(actor=factory_actor(), instance_crn=instance.crn)
    second = sc.authorize_service_instance(actor=factory_actor(), instance_crn=instance.crn)
    assert first.pk == second.pk and ServiceAuthorization.objects.count() == 1
    assert first.source_service == "secrets-manager"
    assert first.target_service == "databases-for-mongodb"
    assert first.target_resource == instance.crn and first.roles == ["Key Manager"]
    assert sc.instance_authorized(get_resource_controller().get_instance(crn=instance.crn))
    with pytest.raises(ValidationError) as caught:
        sc.authorize_service_instance(actor=factory_actor(), instance_crn="crn:v1:missing")
    assert "instance_crn" in caught.value.message_dict


def test_a_taken_name_is_refused_before_any_key_is_made(authorized):
    create(authorized["postgres-orders"])
    with pytest.raises(ConflictError):
        create(authorized["cos-backups"])
    assert ResourceKey.objects.count() == 1


def test_a_group_that_does_not_exist_writes_nothing(authorized):
    with pytest.raises(NotFoundError):
        create(
            authorized["postgres-orders"], secret_group_id="0f0f0f0f-0000-4000-8000-000000000000"
        )
    assert_nothing_written()


class RecordingController:
    """The embedded controller, recording what it was asked to do (a remote one cannot roll
    back with the database transaction: the service must delete the key itself)."""

    def __init__(self, *, fail_with: Exception | None = None) -> None:
        self.inner = get_resource_controller()
        self.fail_with = fail_with
        self.created: list[str] = []
        self.deleted: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_resource_key(self, **kwargs: Any) -> Any:
        if self.fail_with is not None:
            raise self.fail_with
        key = self.inner.create_resource_key(**kwargs)
        self.created.append(key.crn)
        return key

    def delete_resource_key(self, *, crn: str, actor: Any) -> None:
        self.deleted.append(crn)
        self.inner.delete_resource_key(crn=crn, actor=actor)


def test_a_failure_after_the_key_deletes_it_and_writes_nothing(authorized, monkeypatch):
    recorder = RecordingController()
    monkeypatch.setattr(sc, "get_resource_controller", lambda: recorder)

    def broken_version_add(**kwargs: Any) -> None:
        raise RuntimeError("disk full")

    # The write fails after the key exists (version_add is where the shared create path writes).
    monkeypatch.setattr("secrets_app.services.creation.version_add", broken_version_add)
    with pytest.raises(RuntimeError, match="disk full"):
        create(authorized["postgres-orders"])
    assert recorder.created and recorder.deleted == recorder.created
    assert_nothing_written()


def test_provider_errors_are_mapped_onto_the_service_fields(authorized, monkeypatch):
    recorder = RecordingController(
        fail_with=ValidationError({"crn": "gone", "role": "no such role", "name": "too long"})
    )
    monkeypatch.setattr(sc, "get_resource_controller", lambda: recorder)
    with pytest.raises(ValidationError) as caught:
        create(authorized["postgres-orders"])
    assert caught.value.message_dict == {
        "instance_crn": ["gone"],
        "role": ["no such role"],
        "name": ["too long"],
    }
    assert_nothing_written()
