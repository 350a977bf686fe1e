"""Manual rotation of each secret type: a new version, the old current becomes previous, and only
current and previous keep a payload; what drops out loses its credentials at the provider
(custom credentials: a delete_credentials task for its credentials id). Limits: metadata of 50
versions, 100 tasks of history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from console.errors import ConflictError
from console.models import AuditEvent
from secrets_app import tasks
from secrets_app.models import (
    Secret,
    SecretState,
    SecretTask,
    SecretVersion,
    TaskStatus,
    TaskTrigger,
    TaskType,
)
from secrets_app.services.reading import secret_reveal
from secrets_app.services.rotation import RotationNotSupportedError, secret_rotate
from secrets_app.services.task_queue import TASKS_KEPT, task_create
from secrets_app.services.versions import secret_version_payload_read
from tests.factories import create_secret
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db


def aliases(secret: Secret) -> list[tuple[int, str | None, bool]]:
    return list(
        SecretVersion.objects.filter(secret_id=secret.pk)
        .order_by("serial")
        .values_list("serial", "alias", "payload_available")
    )


def assert_payload_only_for_current_and_previous(secret: Secret) -> None:
    rows = aliases(secret)
    newest = rows[-1][0]
    assert rows[-1][1:] == ("current", True)
    if len(rows) > 1:
        assert rows[-2] == (newest - 1, "previous", True)
    assert all(alias is None and not available for _, alias, available in rows[:-2])
    for version in SecretVersion.objects.filter(secret_id=secret.pk, payload_available=False):
        assert version.get_sealed() is None, "an erased version keeps no ciphertext"


def test_arbitrary(group, writer, clock):
    secret = create_secret(group=group, payload="v1")
    for n in (2, 3, 4):
        rotation = secret_rotate(
            principal=writer,
            secret_id=secret.pk,
            payload=f"v{n}",
            version_custom_metadata={"ticket": f"OPS-{n}"},
        )
        assert rotation.version is not None and rotation.version.serial == n
        assert_payload_only_for_current_and_previous(secret)
    assert secret_reveal(principal=writer, secret_id=secret.pk).payload == "v4"
    assert secret_reveal(principal=writer, secret_id=secret.pk, version="previous").payload == "v3"
    current = SecretVersion.objects.get(secret=secret, alias="current")
    assert current.version_custom_metadata == {"ticket": "OPS-4"} and not current.auto_rotated
    assert current.created_by == writer.iam_id
    event = AuditEvent.objects.filter(action="secret.rotate", object_id=str(secret.pk)).first()
    assert event.detail == {
        "trigger": "manual_secret_rotation",
        "version_id": str(current.pk),
        "serial": 4,
    }
    assert Secret.objects.get(pk=secret.pk).versions_total == 4


@pytest.mark.parametrize(
    ("payload", "message"),
    [(None, "Enter or upload the new value."), ("", "Enter or upload the new value.")],
)
def test_arbitrary_needs_a_value(group, writer, payload, message):
    secret = create_secret(group=group)
    with pytest.raises(ValidationError) as exc:
        secret_rotate(principal=writer, secret_id=secret.pk, payload=payload)
    assert exc.value.message_dict == {"payload": [message]}
    assert aliases(secret) == [(1, "current", True)]


def test_bad_version_metadata_changes_nothing(group, writer):
    secret = create_secret(group=group)
    with pytest.raises(ValidationError) as exc:
        secret_rotate(
            principal=writer, secret_id=secret.pk, payload="x", version_custom_metadata=["no"]
        )
    assert "version_custom_metadata" in exc.value.message_dict
    assert aliases(secret) == [(1, "current", True)]


def test_iam_reuse_on_issues_a_new_protected_key_for_the_same_service_id(
    group, writer, iam_engine, clock
):
    sid = f.service_id()
    secret = f.iam_secret(group=group, static_service_id=sid, ttl="2d")
    keys = [f.api_key_of(secret.versions.get())]
    for _ in range(3):
        clock.advance(hours=1)
        version = secret_rotate(principal=writer, secret_id=secret.pk).version
        assert version is not None
        key = f.api_key_of(version)
        assert key is not None and key.protected and key.service_id_id == sid.pk
        assert key.name == f"Secrets-Manager-IAM-Secret-{secret.name}"
        assert version.expiration_date == clock.now + timedelta(days=2)
        keys.append(key)
        assert_payload_only_for_current_and_previous(secret)
    # The keys of versions 1 and 2 dropped out: deleted from IAM. 3 and 4 are still valid.
    assert [k is not None and type(k).objects.filter(pk=k.pk).exists() for k in keys] == [
        False,
        False,
        True,
        True,
    ]
    dropped = SecretVersion.objects.filter(secret=secret, serial__in=[1, 2])
    assert all(v.credentials_deleted_at is not None for v in dropped)
    payload = secret_reveal(principal=writer, secret_id=secret.pk).payload
    assert isinstance(payload, dict) and payload["api_key_id"] == keys[-1].pk
    assert payload["service_id"] == sid.pk


def test_iam_reuse_off_cannot_be_rotated_by_hand(group, writer, iam_engine):
    secret = f.iam_secret(group=group, reuse=False)
    with pytest.raises(RotationNotSupportedError) as exc:
        secret_rotate(principal=writer, secret_id=secret.pk)
    assert exc.value.status == 400 and exc.value.code == "rotation_not_supported"
    assert "Reuse IAM credentials is off" in exc.value.message
    assert secret.versions.count() == 1


def test_iam_and_service_credentials_take_no_value(group, writer, iam_engine, instances):
    for secret in (
        f.iam_secret(group=group),
        f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn),
    ):
        with pytest.raises(ValidationError) as exc:
            secret_rotate(principal=writer, secret_id=secret.pk, payload="mine")
        assert "it is generated" in exc.value.message_dict["payload"][0]


def test_service_credentials_new_resource_key_same_service_id(group, writer, instances, clock):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn, ttl="7d")
    first = f.resource_key_of(secret.versions.get())
    keys = [first]
    for _ in range(3):
        clock.advance(days=1)
        version = secret_rotate(principal=writer, secret_id=secret.pk).version
        assert version is not None
        key = f.resource_key_of(version)
        assert key.name == secret.name and key.instance_id == first.instance_id
        assert key.serviceid_crn == first.serviceid_crn and key.role_crn == first.role_crn
        assert version.version_data["resource_key"] == {"crn": key.crn, "name": key.name}
        payload = secret_version_payload_read(actor=f.ADMIN, version_id=version.pk)
        assert payload["iam_serviceid_crn"] == first.serviceid_crn
        keys.append(key)
        assert_payload_only_for_current_and_previous(secret)
    for key in keys:
        key.refresh_from_db()
    assert [k.is_deleted for k in keys] == [True, True, False, False]
    secret.refresh_from_db()
    assert secret.expiration_date == clock.now + timedelta(days=7)


def test_custom_credentials_rotation_is_a_task_and_the_version_comes_with_the_report(
    group, writer, custom_world, clock
):
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    for n in (2, 3, 4):
        clock.advance(hours=1)
        rotation = secret_rotate(
            principal=writer, secret_id=secret.pk, version_custom_metadata={"n": n}
        )
        task = rotation.task
        assert rotation.version is None and task is not None
        assert (task.type, task.trigger, task.status) == (
            TaskType.CREATE_CREDENTIALS,
            TaskTrigger.MANUAL_SECRET_ROTATION,
            TaskStatus.QUEUED,
        )
        # Until the job reports, the secret stays active on its current version.
        secret.refresh_from_db()
        assert secret.state == SecretState.ACTIVE and secret.versions_total == n - 1
        env = f.dispatch(task)
        assert (env["SM_ACTION"], env["SM_TRIGGER"]) == (
            "create_credentials",
            "manual_secret_rotation",
        )
        f.report(
            task,
            {
                "status": "credentials_created",
                "credentials": {"id": f"tok-{n}", "payload": {"token": f"token-{n}"}},
            },
        )
        assert_payload_only_for_current_and_previous(secret)
        current = SecretVersion.objects.get(secret=secret, alias="current")
        assert current.credentials_id == f"tok-{n}" and current.version_custom_metadata == {"n": n}
        if n >= 3:
            # Version n-2 dropped out of previous: a delete task for its credentials.
            dropped = SecretVersion.objects.get(secret=secret, serial=n - 2)
            delete = SecretTask.objects.get(
                secret=secret, secret_version_ref=dropped.pk, type=TaskType.DELETE_CREDENTIALS
            )
            assert (delete.type, delete.status, delete.credentials_id) == (
                TaskType.DELETE_CREDENTIALS,
                TaskStatus.QUEUED,
                f"tok-{n - 2}",
            )
            assert delete.trigger == TaskTrigger.MANUAL_SECRET_ROTATION
            env = f.dispatch(delete)
            assert env["SM_ACTION"] == "delete_credentials"
            assert env["SM_CREDENTIALS_ID"] == f"tok-{n - 2}"
            assert env["SM_SECRET_VERSION_ID"] == str(dropped.pk)
            f.report(delete, {"status": "credentials_deleted"})
            dropped.refresh_from_db()
            assert dropped.credentials_deleted_at == clock.now
    assert secret_reveal(principal=writer, secret_id=secret.pk).payload == {"token": "token-4"}
    assert secret_reveal(principal=writer, secret_id=secret.pk, version="previous").payload == {
        "token": "token-3"
    }
    # No delete task for the versions that are still current and previous.
    kept = SecretVersion.objects.filter(secret=secret, alias__isnull=False)
    assert not SecretTask.objects.filter(secret_version_ref__in=[v.pk for v in kept]).exclude(
        type=TaskType.CREATE_CREDENTIALS
    )


def test_custom_credentials_one_rotation_at_a_time(group, writer, custom_world):
    secret = f.activate(f.custom_secret(group=group))
    secret_rotate(principal=writer, secret_id=secret.pk)
    with pytest.raises(ConflictError, match="already in progress"):
        secret_rotate(principal=writer, secret_id=secret.pk)
    assert SecretTask.objects.filter(secret=secret).count() == 2


def test_custom_credentials_take_no_value(group, writer, custom_world):
    secret = f.activate(f.custom_secret(group=group))
    with pytest.raises(ValidationError, match="it is generated"):
        secret_rotate(principal=writer, secret_id=secret.pk, payload="x")


def test_a_pending_custom_secret_does_not_rotate(group, writer, custom_world):
    secret = f.custom_secret(group=group)
    with pytest.raises(ConflictError, match="pre-activation"):
        secret_rotate(principal=writer, secret_id=secret.pk)


def test_version_metadata_is_kept_for_50_versions(group, writer):
    secret = create_secret(group=group, payload="v1")
    for n in range(2, 51):
        secret_rotate(principal=writer, secret_id=secret.pk, payload=f"v{n}")
    assert SecretVersion.objects.filter(secret=secret).count() == 50
    # The 51st version pushes out the metadata of the first.
    secret_rotate(principal=writer, secret_id=secret.pk, payload="v51")
    serials = list(
        SecretVersion.objects.filter(secret=secret)
        .order_by("serial")
        .values_list("serial", flat=True)
    )
    assert serials == list(range(2, 52))
    assert Secret.objects.get(pk=secret.pk).versions_total == 50
    assert_payload_only_for_current_and_previous(secret)
    # And numbering goes on from the highest serial, not from the count.
    assert secret_rotate(principal=writer, secret_id=secret.pk, payload="v52").version.serial == 52


def test_a_pruned_versions_delete_task_keeps_its_credentials_id(group, writer, custom_world, clock):
    """The delete task of a version whose row is pruned still names its credentials."""
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    for n in range(2, 53):
        task = secret_rotate(principal=writer, secret_id=secret.pk).task
        f.report_created(task, credentials_id=f"tok-{n}", token=f"token-{n}")
    first_delete = SecretTask.objects.get(
        secret=secret, credentials_id="tok-1", type=TaskType.DELETE_CREDENTIALS
    )
    assert first_delete.secret_version_id is None, "version 1's row was pruned"
    assert first_delete.secret_version_ref is not None
    env = f.dispatch(first_delete)
    assert env["SM_CREDENTIALS_ID"] == "tok-1"
    assert env["SM_SECRET_VERSION_ID"] == str(first_delete.secret_version_ref)
    f.report(first_delete, {"status": "failed", "errors": [{"code": "E1", "description": "down"}]})
    # Its retry, too, names the credentials of a version that no longer has a row.
    clock.advance(days=1)
    assert tasks.delete_retry_sweep() == "delete retries queued: 1"
    retry = SecretTask.objects.get(retry_of=first_delete)
    assert retry.secret_version_id is None
    assert (retry.credentials_id, retry.secret_version_ref) == (
        "tok-1",
        first_delete.secret_version_ref,
    )
    assert f.dispatch(retry)["SM_CREDENTIALS_ID"] == "tok-1"
    assert f.report(retry, {"status": "credentials_deleted"}).status == "credentials_deleted"


def test_task_history_is_capped_at_100(group, writer, custom_world, clock):
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    first_task = f.latest_task(secret)
    n = 1
    while SecretTask.objects.filter(secret=secret).count() < TASKS_KEPT:
        clock.advance(minutes=1)
        n += 1
        f.report_created(
            secret_rotate(principal=writer, secret_id=secret.pk).task,
            credentials_id=f"tok-{n}",
            token=f"token-{n}",
        )
        for delete in SecretTask.objects.filter(secret=secret, status=TaskStatus.QUEUED):
            f.report_deleted(delete)
    assert SecretTask.objects.filter(secret=secret).count() == TASKS_KEPT == 100
    assert SecretTask.objects.filter(pk=first_task.pk).exists()
    # The 101st task pushes out the oldest finished one.
    clock.advance(minutes=1)
    task = secret_rotate(principal=writer, secret_id=secret.pk).task
    assert SecretTask.objects.filter(secret=secret).count() == 100
    assert not SecretTask.objects.filter(pk=first_task.pk).exists()
    assert SecretTask.objects.filter(pk=task.pk, status=TaskStatus.QUEUED).exists()


def test_task_history_never_drops_unfinished_tasks(group, custom_world):
    secret = f.activate(f.custom_secret(group=group))
    # 100 delete tasks still waiting for their job (say, the provider is down).
    for _ in range(TASKS_KEPT):
        task_create(
            actor=f.ADMIN,
            secret=secret,
            task_type=TaskType.DELETE_CREDENTIALS,
            trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
        )
    tasks = SecretTask.objects.filter(secret=secret)
    # 101 tasks: the one finished task (the creation) went, every open one stays.
    assert tasks.count() == 100 and not tasks.filter(type=TaskType.CREATE_CREDENTIALS).exists()
    task_create(
        actor=f.ADMIN,
        secret=secret,
        task_type=TaskType.DELETE_CREDENTIALS,
        trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
    )
    assert tasks.count() == 101 and tasks.filter(status=TaskStatus.QUEUED).count() == 101
