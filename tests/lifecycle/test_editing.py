"""Editing (secret_metadata_update, secret_version_metadata_update): every field each type
allows, with the wizards' validation; parameters change values but gain no keys; a ttl applies
at the next version; moving to another group needs Writer there too."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from console.errors import AccessDeniedError, ConflictError, NotFoundError
from console.models import AuditEvent
from secrets_app.models import Secret, SecretLabel, SecretVersion
from secrets_app.services.editing import secret_metadata_update, secret_version_metadata_update
from secrets_app.services.rotation import secret_rotate
from tests.factories import create_group, create_secret, grant
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db


def update(principal, secret: Secret, **changes: Any) -> Secret:
    return secret_metadata_update(principal=principal, secret_id=secret.pk, changes=changes)


def errors_of(principal, secret: Secret, **changes: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        update(principal, secret, **changes)
    return exc.value.message_dict


@pytest.fixture
def secrets_of_each_type(group, iam_engine, instances, custom_world) -> dict[str, Secret]:
    return {
        "arbitrary": create_secret(group=group),
        "iam_credentials": f.iam_secret(group=group, ttl="2d"),
        "service_credentials": f.service_secret(
            group=group, instance_crn=instances["postgres-orders"].crn
        ),
        "custom_credentials": f.activate(f.custom_secret(group=group)),
    }


TYPES = ["arbitrary", "iam_credentials", "service_credentials", "custom_credentials"]

# ---------------------------------------------------------------------------------------------
# What every type shares


@pytest.mark.parametrize("kind", TYPES)
def test_common_fields_change_and_are_audited(kind, secrets_of_each_type, writer):
    secret = secrets_of_each_type[kind]
    updated = update(
        writer,
        secret,
        name=f"renamed-{kind.replace('_', '-')}",
        description="Now with a description",
        labels=["prod", "team-a"],
        custom_metadata={"owner": "team-a"},
    )
    stored = Secret.objects.get(pk=secret.pk)
    assert stored.name == updated.name == f"renamed-{kind.replace('_', '-')}"
    assert (stored.description, stored.labels, stored.custom_metadata) == (
        "Now with a description",
        ["prod", "team-a"],
        {"owner": "team-a"},
    )
    assert sorted(SecretLabel.objects.filter(secret=secret).values_list("name", flat=True)) == [
        "prod",
        "team-a",
    ]
    event = AuditEvent.objects.get(action="secret.update")
    assert event.actor_id == writer.iam_id
    assert event.detail == {"changed": ["name", "description", "custom_metadata", "labels"]}


@pytest.mark.parametrize("kind", TYPES)
def test_common_field_errors_are_reported_together(kind, secrets_of_each_type, writer):
    secret = secrets_of_each_type[kind]
    errors = errors_of(
        writer,
        secret,
        name="x",
        description="d" * 1025,
        labels=[f"label-{n}" for n in range(31)],
        custom_metadata=["not", "an", "object"],
        secret_group_id="Not A Group",
    )
    assert set(errors) == {"name", "description", "labels", "custom_metadata", "secret_group_id"}
    assert "2 to 256 characters" in errors["name"][0]
    assert "at most 1024 characters" in errors["description"][0]
    assert "at most 30 labels" in errors["labels"][0]
    assert "JSON object" in errors["custom_metadata"][0]
    assert Secret.objects.get(pk=secret.pk).name == secret.name
    assert not AuditEvent.objects.filter(action="secret.update").exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "bad name!"}, "name", "is not allowed"),
        ({"name": ""}, "name", "required"),
        ({"labels": ["ok", "ok"]}, "labels", "listed twice"),
        ({"labels": ["x"]}, "labels", "2 to 64 characters"),
        ({"custom_metadata": {"blob": "x" * 11000}}, "custom_metadata", "at most 10 KB"),
    ],
)
def test_common_field_errors(group, writer, changes, field, message):
    secret = create_secret(group=group)
    errors = errors_of(writer, secret, **changes)
    assert list(errors) == [field] and message in errors[field][0]


def test_a_taken_name_is_a_conflict_on_the_name_field(group, writer):
    create_secret(group=group, name="taken")
    secret = create_secret(group=group, name="mine")
    with pytest.raises(ConflictError) as exc:
        update(writer, secret, name="taken")
    assert exc.value.field == "name" and exc.value.status == 409
    assert Secret.objects.get(pk=secret.pk).name == "mine"


def test_names_are_unique_per_type_only(group, writer, iam_engine):
    create_secret(group=group, name="shared-name")
    secret = f.iam_secret(group=group)
    assert update(writer, secret, name="shared-name").name == "shared-name"


def test_nothing_changed_records_nothing(group, writer):
    secret = create_secret(group=group, description="same", labels=["aa"])
    update(writer, secret, description="same", labels=["aa"], name=secret.name)
    assert not AuditEvent.objects.filter(action="secret.update").exists()


# ---------------------------------------------------------------------------------------------
# What only some types may change


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("arbitrary", "ttl", "1d"),
        ("arbitrary", "rotation", {"auto_rotate": False}),
        ("arbitrary", "parameters", {}),
        ("iam_credentials", "expiration_date", None),
        ("iam_credentials", "parameters", {}),
        ("service_credentials", "expiration_date", None),
        ("service_credentials", "parameters", {}),
        ("custom_credentials", "expiration_date", None),
        ("custom_credentials", "payload", "x"),
        ("iam_credentials", "reuse_api_key", False),
        ("service_credentials", "source_service", {}),
        ("custom_credentials", "configuration", "certificate-provider"),
    ],
)
def test_fields_a_type_does_not_edit(kind, field, value, secrets_of_each_type, writer):
    secret = secrets_of_each_type[kind]
    errors = errors_of(writer, secret, **{field: value})
    assert errors == {
        field: [f"A {secret.get_secret_type_display()} secret has no editable {field}."]
    }


def test_arbitrary_expiration_date(group, writer, clock):
    secret = create_secret(group=group)
    later = clock.now + timedelta(days=30)
    assert update(writer, secret, expiration_date=later).expiration_date == later
    assert SecretVersion.objects.get(secret=secret).expiration_date == later
    assert update(writer, secret, expiration_date=None).expiration_date is None
    assert SecretVersion.objects.get(secret=secret).expiration_date is None
    assert (
        "must be in the future"
        in errors_of(writer, secret, expiration_date=clock.now)["expiration_date"][0]
    )
    naive = datetime(2040, 1, 1)  # noqa: DTZ001  (the point of the test)
    assert "time zone" in errors_of(writer, secret, expiration_date=naive)["expiration_date"][0]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ttl": "30s"}, "ttl", "between 1 minute and 90 days"),
        ({"ttl": "91d"}, "ttl", "between 1 minute and 90 days"),
        ({"ttl": ""}, "ttl", "required"),
        ({"ttl": "soon"}, "ttl", "is not a duration"),
        (
            {"rotation": {"auto_rotate": True, "interval": 3, "unit": "day"}},
            "rotation",
            "cannot be longer than the lease duration (2 days)",
        ),
        (
            {"rotation": {"auto_rotate": True, "interval": 12, "unit": "hour"}},
            "rotation",
            "between 1 day and 3 months",
        ),
        ({"rotation": {"auto_rotate": True, "interval": 1}}, "rotation", "hour, day or month"),
        ({"rotation": {"auto_rotate": "yes"}}, "rotation", "true or false"),
        (
            {"ttl": "12h", "rotation": {"auto_rotate": True, "interval": 1, "unit": "day"}},
            "rotation",
            "cannot be longer than the lease duration (12 hours)",
        ),
    ],
)
def test_iam_ttl_and_rotation_errors(group, writer, iam_engine, changes, field, message):
    secret = f.iam_secret(group=group, ttl="2d")
    errors = errors_of(writer, secret, **changes)
    assert message in errors[field][0], errors


def test_iam_a_shorter_ttl_must_still_cover_the_rotation_interval(group, writer, iam_engine):
    secret = f.iam_secret(
        group=group, ttl="2d", rotation={"auto_rotate": True, "interval": 2, "unit": "day"}
    )
    assert (
        "cannot be longer than the lease duration (1 day)"
        in errors_of(writer, secret, ttl="1d")["ttl"][0]
    )


def test_iam_reuse_off_cannot_turn_on_automatic_rotation(group, writer, iam_engine):
    secret = f.iam_secret(group=group, reuse=False, ttl="2d")
    errors = errors_of(writer, secret, rotation={"auto_rotate": True, "interval": 1, "unit": "day"})
    assert "Reuse IAM credentials" in errors["rotation"][0]
    assert update(writer, secret, rotation={"auto_rotate": False}).rotation == {
        "auto_rotate": False
    }


def test_iam_rotation_policy_sets_the_next_rotation_date(group, writer, iam_engine, clock):
    secret = f.iam_secret(group=group, ttl="2d")
    clock.advance(hours=3)
    updated = update(writer, secret, rotation={"auto_rotate": True, "interval": 1, "unit": "day"})
    assert updated.next_rotation_date == clock.now + timedelta(days=1)
    assert update(writer, secret, rotation={"auto_rotate": False}).next_rotation_date is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ttl": "12h"}, "ttl", "between 1 day and 90 days"),
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
    ],
)
def test_service_credentials_errors(group, writer, instances, changes, field, message):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn)
    assert message in errors_of(writer, secret, **changes)[field][0]


def test_service_credentials_ttl_zero_means_no_expiry(group, writer, instances):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn, ttl="2d")
    assert update(writer, secret, ttl="0").ttl_seconds is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ttl": "1h"}, "ttl", "between 1 day and 90 days"),
        (
            {"rotation": {"auto_rotate": True, "interval": 5, "unit": "hour"}},
            "rotation",
            "between 6 hours and 3 months",
        ),
        ({"parameters": {"scope": "root"}}, "parameters", "scope"),
        ({"parameters": {"expires": "soon"}}, "parameters", "expires"),
        ({"parameters": {"user_name": None}}, "parameters", "user_name"),
        ({"parameters": ["user_name"]}, "parameters", "must be an object"),
        ({"parameters": {"colour": "blue"}}, "parameters", "declares no parameter colour"),
    ],
)
def test_custom_credentials_errors(group, writer, custom_world, changes, field, message):
    secret = f.activate(f.custom_secret(group=group))
    errors = errors_of(writer, secret, **changes)
    assert message in " ".join(errors[field]), errors
    assert Secret.objects.get(pk=secret.pk).parameters == {"user_name": "alice"}


def test_custom_parameters_change_values_and_apply_at_the_next_version(group, writer, custom_world):
    secret = f.activate(f.custom_secret(group=group, parameters={"user_name": "alice"}))
    updated = update(writer, secret, parameters={"scope": "admin", "user_name": "bob"})
    assert updated.parameters == {"user_name": "bob", "scope": "admin"}
    # A merge-patch: what is not named stays.
    assert update(writer, secret, parameters={"expires": 600}).parameters == {
        "user_name": "bob",
        "scope": "admin",
        "expires": 600,
    }
    event = AuditEvent.objects.filter(action="secret.update").first()
    assert event.detail == {"changed": ["parameters"]}
    # The current version stays; the next one's job gets the new values.
    assert secret.versions.count() == 1
    env = f.dispatch(secret_rotate(principal=writer, secret_id=secret.pk).task)
    assert (env["SMIN_USER_NAME_VALUE"], env["SMIN_SCOPE_VALUE"], env["SMIN_EXPIRES_VALUE"]) == (
        "bob",
        "admin",
        "600",
    )


# ---------------------------------------------------------------------------------------------
# A ttl applies at the next rotation


def test_iam_ttl_applies_at_the_next_rotation(group, writer, iam_engine, clock):
    secret = f.iam_secret(group=group, ttl="1d", static_service_id=f.service_id())
    first_expiry = secret.expiration_date
    clock.advance(hours=1)
    updated = update(writer, secret, ttl="3d")
    assert (updated.ttl, updated.expiration_date) == ("259200", first_expiry)
    assert secret.versions.get().expiration_date == first_expiry
    clock.advance(hours=1)
    version = secret_rotate(principal=writer, secret_id=secret.pk).version
    assert version.expiration_date == clock.now + timedelta(days=3)
    assert Secret.objects.get(pk=secret.pk).expiration_date == clock.now + timedelta(days=3)
    previous = SecretVersion.objects.get(secret=secret, alias="previous")
    assert previous.expiration_date == first_expiry, "the old key keeps its own lease"


def test_service_ttl_applies_at_the_next_rotation(group, writer, instances, clock):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn)
    assert secret.expiration_date is None
    update(writer, secret, ttl="5d")
    assert Secret.objects.get(pk=secret.pk).expiration_date is None
    clock.advance(hours=1)
    secret_rotate(principal=writer, secret_id=secret.pk)
    assert Secret.objects.get(pk=secret.pk).expiration_date == clock.now + timedelta(days=5)


def test_custom_ttl_applies_when_the_next_version_comes(group, writer, custom_world, clock):
    secret = f.activate(f.custom_secret(group=group))
    assert secret.expiration_date is None
    update(writer, secret, ttl="2d")
    task = secret_rotate(principal=writer, secret_id=secret.pk).task
    assert Secret.objects.get(pk=secret.pk).expiration_date is None
    clock.advance(minutes=3)
    f.report_created(task, credentials_id="tok-2", token="token-2")
    secret.refresh_from_db()
    assert secret.expiration_date == clock.now + timedelta(days=2)
    assert SecretVersion.objects.get(secret=secret, alias="current").expiration_date == (
        secret.expiration_date
    )


# ---------------------------------------------------------------------------------------------
# Moving to another group


def test_the_move_needs_writer_on_the_target_group(group, people):
    target = create_group(name="elsewhere")
    secret = create_secret(group=group)
    writer = people["Writer"]
    with pytest.raises(AccessDeniedError):
        update(writer, secret, secret_group_id=target.pk)
    holder = User.objects.get(username="lc-writer")
    grant(holder, "Reader", group=target)
    with pytest.raises(AccessDeniedError):
        update(writer, secret, secret_group_id=target.pk)
    assert Secret.objects.get(pk=secret.pk).secret_group_id == group.pk
    grant(holder, "Writer", group=target)
    moved = update(writer, secret, secret_group_id=target.pk)
    assert moved.secret_group_id == target.pk == Secret.objects.get(pk=secret.pk).secret_group_id
    event = AuditEvent.objects.get(action="secret.update")
    assert event.detail == {"changed": ["secret_group_id"]}


def test_the_move_needs_writer_on_the_source_group_too(group, people):
    target = create_group(name="elsewhere")
    secret = create_secret(group=group)
    grant(User.objects.get(username="lc-secretsreader"), "Writer", group=target)
    with pytest.raises(AccessDeniedError):
        update(people["SecretsReader"], secret, secret_group_id=target.pk)


def test_a_move_to_a_group_that_does_not_exist(group, writer):
    secret = create_secret(group=group)
    with pytest.raises(NotFoundError) as exc:
        update(writer, secret, secret_group_id="d898bb90-82f6-4d61-b5cc-b079b66cfa76")
    assert exc.value.field == "secret_group_id"


# ---------------------------------------------------------------------------------------------
# Version metadata


def test_version_metadata(group, writer):
    secret = create_secret(group=group, version_custom_metadata={"a": 1})
    secret_rotate(principal=writer, secret_id=secret.pk, payload="v2")
    first = SecretVersion.objects.get(secret=secret, serial=1)
    for version in ("previous", str(first.pk)):
        found = secret_version_metadata_update(
            principal=writer,
            secret_id=secret.pk,
            version=version,
            version_custom_metadata={"reviewed": version},
        )
        assert found.pk == first.pk
    first.refresh_from_db()
    assert first.version_custom_metadata == {"reviewed": str(first.pk)}
    assert AuditEvent.objects.filter(action="secret_version.update").count() == 2
    # The same metadata again: nothing recorded.
    secret_version_metadata_update(
        principal=writer,
        secret_id=secret.pk,
        version=str(first.pk),
        version_custom_metadata={"reviewed": str(first.pk)},
    )
    assert AuditEvent.objects.filter(action="secret_version.update").count() == 2


def test_version_metadata_errors(group, writer):
    secret = create_secret(group=group)
    with pytest.raises(ValidationError) as exc:
        secret_version_metadata_update(
            principal=writer, secret_id=secret.pk, version="current", version_custom_metadata=[1]
        )
    assert list(exc.value.message_dict) == ["version_custom_metadata"]
    with pytest.raises(NotFoundError):
        secret_version_metadata_update(
            principal=writer, secret_id=secret.pk, version="previous", version_custom_metadata={}
        )
