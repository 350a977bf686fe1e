"""Secret and version services: versions and aliases, limits, all-or-nothing writes, audit."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from console import validation
from console.errors import ConflictError, NotFoundError
from console.models import AuditEvent
from secrets_app import services
from secrets_app.models import Secret, SecretGroup, SecretLabel, SecretVersion
from secrets_app.services import creation
from tests.factories import create_group, create_secret, factory_actor

pytestmark = pytest.mark.django_db


def test_create_arbitrary_secret_stores_an_encrypted_current_version():
    secret = create_secret(
        name="api-token",
        payload="tok-123",
        labels=["dev", "us-south"],
        custom_metadata={"team": "a"},
    )
    assert secret.state_description == "active"
    assert secret.versions_total == 1
    assert secret.crn.endswith(f":secret:{secret.pk}") and secret.crn.startswith(
        "crn:v1:bluemix:public:secrets-manager:"
    )
    version = secret.versions.get()
    assert version.alias == "current" and version.payload_available and version.serial == 1
    assert b"tok-123" not in bytes(version.sealed_ciphertext)
    assert set(SecretLabel.objects.filter(secret=secret).values_list("name", flat=True)) == {
        "dev",
        "us-south",
    }
    assert (
        services.secret_version_payload_read(actor=factory_actor(), version_id=version.pk)
        == "tok-123"
    )


def test_reading_a_payload_is_audited_and_marks_downloaded():
    secret = create_secret(payload="value-x")
    version = secret.versions.get()
    services.secret_version_payload_read(actor=factory_actor(), version_id=version.pk)
    secret.refresh_from_db()
    version.refresh_from_db()
    assert secret.downloaded and secret.retrieved_at is not None and version.downloaded
    event = AuditEvent.objects.get(action="secret.read_payload")
    assert event.object_id == str(secret.pk)
    assert "value-x" not in json.dumps(event.detail)


def test_rotation_shifts_aliases_and_erases_older_payloads():
    secret = create_secret(payload="v1")
    actor = factory_actor()
    services.arbitrary_secret_rotate(actor=actor, secret_id=secret.pk, payload="v2")
    services.arbitrary_secret_rotate(actor=actor, secret_id=secret.pk, payload="v3")
    rows = list(
        secret.versions.order_by("serial").values_list(
            "serial", "alias", "payload_available", "sealed_key_id"
        )
    )
    assert [r[:3] for r in rows] == [(1, None, False), (2, "previous", True), (3, "current", True)]
    assert rows[0][3] == "", "the oldest version's ciphertext is gone, not just hidden"
    oldest = secret.versions.get(serial=1)
    with pytest.raises(NotFoundError, match="no longer kept"):
        services.secret_version_payload_read(actor=actor, version_id=oldest.pk)
    previous = secret.versions.get(alias="previous")
    assert services.secret_version_payload_read(actor=actor, version_id=previous.pk) == "v2"


def test_only_the_newest_50_versions_are_kept():
    secret = create_secret(payload="v1")
    actor = factory_actor()
    for n in range(2, validation.VERSIONS_KEPT + 3):
        services.arbitrary_secret_rotate(actor=actor, secret_id=secret.pk, payload=f"v{n}")
    secret.refresh_from_db()
    assert secret.versions_total == 50
    serials = list(secret.versions.order_by("serial").values_list("serial", flat=True))
    assert serials == list(range(3, 53))


def test_names_are_unique_per_type_across_groups():
    create_secret(name="shared-name", group=create_group())
    with pytest.raises(ConflictError, match="already exists"):
        create_secret(name="shared-name", group=create_group())
    assert Secret.objects.filter(name="shared-name").count() == 1


def test_a_create_racing_another_for_the_same_name_gets_the_same_conflict(monkeypatch):
    """Both creates pass the name check; the database's unique constraint stops the second,
    which answers 409 like any duplicate, not a server error, and leaves nothing behind."""
    create_secret(name="raced")
    monkeypatch.setattr(
        creation, "_group_and_unique_name", lambda basics, _type: creation.group_get("default")
    )
    with pytest.raises(ConflictError, match="already exists") as caught:
        create_secret(name="raced")
    assert caught.value.field == "name"
    assert Secret.objects.filter(name="raced").count() == 1


def test_invalid_input_writes_nothing_and_names_every_bad_field():
    before = (Secret.objects.count(), SecretVersion.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as exc:
        services.arbitrary_secret_create(
            actor=factory_actor(),
            name="-bad-",
            payload="x",
            labels=["x"],
            custom_metadata={"k": "v" * 11_000},
            description="d" * 2000,
        )
    assert set(exc.value.message_dict) == {"name", "labels", "custom_metadata", "description"}
    with pytest.raises(ValidationError) as exc:
        services.arbitrary_secret_create(actor=factory_actor(), name="fine-name", payload="")
    assert "payload" in exc.value.message_dict
    assert (
        Secret.objects.count(),
        SecretVersion.objects.count(),
        AuditEvent.objects.count(),
    ) == before


def test_unknown_group_is_not_found():
    with pytest.raises(NotFoundError):
        services.arbitrary_secret_create(
            actor=factory_actor(),
            name="orphan",
            payload="x",
            secret_group_id="d898bb90-82f6-4d61-b5cc-b079b66cfa76",
        )
    with pytest.raises(ValidationError):
        services.arbitrary_secret_create(
            actor=factory_actor(), name="orphan", payload="x", secret_group_id="Nope"
        )


def test_default_group_always_exists_and_is_addressable_as_default():
    group = SecretGroup.objects.get(pk="default")
    assert group.name == "default"
    assert create_secret().secret_group_id == "default"
