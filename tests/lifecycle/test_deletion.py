"""Deleting secrets (secret_delete) and purging force-deleted ones (deleted_secrets_purge):

- custom credentials whose versions may still hold credentials at the provider need force
  (409, secret_has_undeleted_credentials); forced, the secret is hidden at once, its delete tasks
  still run, report through the job's callback and retry, and the purge removes it after;
- IAM credentials: the keys go, and the service ID when Secrets Manager generated it;
- service credentials: the resource keys go; a service ID the user supplied stays.
"""

from __future__ import annotations

import pytest

from console.models import AuditEvent
from engines_app.providers.embedded.iam import services as iam_services
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from engines_app.providers.embedded.resource_controller.models import ResourceKey
from secrets_app import tasks
from secrets_app.models import (
    Secret,
    SecretState,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskStatus,
    TaskTrigger,
    TaskType,
)
from secrets_app.services.custom_credentials import secret_tasks_for
from secrets_app.services.deletion import (
    SecretInUseError,
    UndeletedCredentialsError,
    delete_blockers,
    secret_delete,
)
from secrets_app.services.rotation import secret_rotate
from tests.factories import create_secret, create_user
from tests.lifecycle import factories as f
from tests.lifecycle.conftest import principal

pytestmark = pytest.mark.django_db


def test_arbitrary(group, manager):
    secret = create_secret(group=group, name="gone-soon")
    secret_delete(principal=manager, secret_id=secret.pk)
    assert not Secret.all_objects.filter(pk=secret.pk).exists()
    assert not SecretVersion.objects.filter(secret_id=secret.pk).exists()
    event = AuditEvent.objects.get(action="secret.delete")
    assert (event.actor_id, event.object_id, event.object_name) == (
        manager.iam_id,
        str(secret.pk),
        "gone-soon",
    )
    create_secret(group=group, name="gone-soon")  # the name is free again


def test_iam_with_a_generated_service_id(group, writer, manager, iam_engine):
    secret = f.iam_secret(group=group, reuse=True)
    secret_rotate(principal=writer, secret_id=secret.pk)
    keys = [v.credentials_id for v in secret.versions.all()]
    assert len(keys) == 2 and ApiKey.objects.filter(pk__in=keys).count() == 2
    secret_delete(principal=manager, secret_id=secret.pk)
    assert not ApiKey.objects.filter(pk__in=keys).exists()
    assert not ServiceId.objects.filter(pk=secret.service_id).exists()
    assert not Secret.all_objects.filter(pk=secret.pk).exists()


def test_iam_with_a_static_service_id_keeps_it(group, manager, iam_engine):
    sid = f.service_id()
    secret = f.iam_secret(group=group, reuse=True, static_service_id=sid)
    # A key of the same service ID that the secret did not issue.
    own_key, _ = iam_services.api_key_create(actor=f.ADMIN, name="own", service_id=sid)
    secret_delete(principal=manager, secret_id=secret.pk)
    assert ServiceId.objects.filter(pk=sid.pk).exists()
    assert list(ApiKey.objects.filter(service_id=sid).values_list("pk", flat=True)) == [own_key.pk]


def test_an_expired_iam_secret_deletes_cleanly(group, manager, iam_engine, clock):
    """Its key and generated service ID went at lease end: nothing is left to delete."""
    secret = f.iam_secret(group=group, reuse=True, ttl="1h")
    clock.advance(hours=1)
    assert tasks.lease_sweep() == "versions expired: 0, secrets expired: 1"
    assert not ServiceId.objects.filter(pk=secret.service_id).exists()
    secret_delete(principal=manager, secret_id=secret.pk)
    assert not Secret.all_objects.filter(pk=secret.pk).exists()


def test_an_iam_secret_a_configuration_uses_is_refused(custom_world):
    key_secret = custom_world["key_secret"]
    admin = principal(create_user(username="lc-admin", is_superuser=True))
    with pytest.raises(SecretInUseError) as exc:
        secret_delete(principal=admin, secret_id=key_secret.pk, force=True)
    assert (exc.value.status, exc.value.code) == (409, "secret_in_use")
    assert (
        "configurations certificate-provider, token-provider use its API key" in exc.value.message
    )
    assert Secret.objects.filter(pk=key_secret.pk).exists()
    assert ApiKey.objects.filter(pk=key_secret.versions.get().credentials_id).exists()


def test_service_credentials_delete_every_resource_key(group, writer, manager, instances):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn)
    secret_rotate(principal=writer, secret_id=secret.pk)
    crns = [v.credentials_id for v in secret.versions.all()]
    secret_delete(principal=manager, secret_id=secret.pk)
    keys = ResourceKey.objects.filter(crn__in=crns)
    assert keys.count() == 2 and all(k.is_deleted and k.get_sealed() is None for k in keys)
    assert all(k.serviceid_generated for k in keys.filter(crn=crns[0]))
    assert not Secret.all_objects.filter(pk=secret.pk).exists()


def test_service_credentials_keep_a_user_supplied_service_id(group, manager, instances):
    sid = f.service_id()
    secret = f.service_secret(
        group=group, instance_crn=instances["postgres-orders"].crn, serviceid_crn=sid.crn
    )
    key = f.resource_key_of(secret.versions.get())
    assert key.serviceid_crn == sid.crn and not key.serviceid_generated
    secret_delete(principal=manager, secret_id=secret.pk)
    key.refresh_from_db()
    assert key.is_deleted
    assert ServiceId.objects.filter(pk=sid.pk).exists()


# ---------------------------------------------------------------------------------------------
# Custom credentials: the force rule


def rotated_custom_secret(group, writer) -> Secret:
    """Active on version 3; version 1's delete task is still queued."""
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    for n in (2, 3):
        f.report_created(
            secret_rotate(principal=writer, secret_id=secret.pk).task,
            credentials_id=f"tok-{n}",
            token=f"token-{n}",
        )
    return secret


def test_custom_credentials_need_force_while_credentials_may_exist(
    group, writer, manager, custom_world
):
    secret = rotated_custom_secret(group, writer)
    with pytest.raises(UndeletedCredentialsError) as exc:
        secret_delete(principal=manager, secret_id=secret.pk)
    assert (exc.value.status, exc.value.code) == (409, "secret_has_undeleted_credentials")
    assert "versions 1, 2, 3 may still exist at the credentials provider" in exc.value.message
    assert "with force" in exc.value.message
    assert Secret.objects.filter(pk=secret.pk).exists()
    assert SecretTask.objects.filter(secret=secret, type=TaskType.DELETE_CREDENTIALS).count() == 1
    assert not AuditEvent.objects.filter(action="secret.delete").exists()


def test_force_hides_the_secret_and_its_delete_tasks_run_and_report(
    group, writer, manager, custom_world, clock
):
    secret = rotated_custom_secret(group, writer)
    name = secret.name
    secret_delete(principal=manager, secret_id=secret.pk, force=True)
    assert not Secret.objects.filter(pk=secret.pk).exists(), "hidden from every user query"
    hidden = Secret.all_objects.get(pk=secret.pk)
    assert hidden.deleted_at == clock.now and hidden.state == SecretState.DESTROYED
    assert not SecretVersion.objects.filter(secret=hidden, payload_available=True).exists()
    assert AuditEvent.objects.get(action="secret.delete").detail == {"force": True}
    # One delete task per version that holds credentials; version 1 already had one.
    deletes = SecretTask.objects.filter(secret_id=secret.pk, type=TaskType.DELETE_CREDENTIALS)
    assert sorted(deletes.values_list("credentials_id", "trigger")) == [
        ("tok-1", TaskTrigger.MANUAL_SECRET_ROTATION),
        ("tok-2", TaskTrigger.SECRET_VERSION_DATA_DELETION),
        ("tok-3", TaskTrigger.SECRET_VERSION_DATA_DELETION),
    ]
    # Its name is free at once.
    f.custom_secret(group=group, name=name)
    # Nobody lists its tasks any more, but the job still reports on them.
    with pytest.raises(Exception, match="does not exist"):
        secret_tasks_for(principal=manager, secret_id=secret.pk)
    assert tasks.purge_sweep() == "deleted secrets purged: 0"
    for task in deletes.order_by("credentials_id")[:2]:
        assert f.report_deleted(task).status == TaskStatus.CREDENTIALS_DELETED
    assert tasks.purge_sweep() == "deleted secrets purged: 0", "one task is still open"
    last = deletes.get(credentials_id="tok-3")
    f.report_deleted(last)
    assert tasks.purge_sweep() == "deleted secrets purged: 1"
    assert not Secret.all_objects.filter(pk=secret.pk).exists()
    assert not SecretTask.objects.filter(secret_id=secret.pk).exists()
    assert AuditEvent.objects.filter(action="secret.purge", object_id=str(secret.pk)).count() == 1


def test_force_deleted_secret_waits_for_its_retry_ladder(
    group, writer, manager, custom_world, clock
):
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    secret_delete(principal=manager, secret_id=secret.pk, force=True)
    task = f.latest_task(secret, TaskType.DELETE_CREDENTIALS)
    f.report_failed(task)
    assert tasks.purge_sweep() == "deleted secrets purged: 0", "a retry is still to come"
    for _ in range(10):
        clock.advance(days=1)
        assert tasks.delete_retry_sweep() == "delete retries queued: 1"
        task = SecretTask.objects.get(retry_of=task)
        f.report_failed(task)
        assert Secret.all_objects.filter(pk=secret.pk).exists()
    assert task.attempt == 11
    assert tasks.purge_sweep() == "deleted secrets purged: 1", "out of retries"


def test_a_pending_secret_force_deleted_deletes_what_its_job_then_creates(
    group, manager, custom_world
):
    secret = f.custom_secret(group=group)
    assert delete_blockers(secret) == ["a task is still creating credentials"]
    with pytest.raises(UndeletedCredentialsError, match="a task is still creating credentials"):
        secret_delete(principal=manager, secret_id=secret.pk)
    secret_delete(principal=manager, secret_id=secret.pk, force=True)
    create = f.latest_task(secret, TaskType.CREATE_CREDENTIALS)
    f.report_created(create, credentials_id="tok-late", token="late-token")
    version = SecretVersion.objects.get(secret_id=secret.pk)
    assert not version.payload_available
    hidden = Secret.all_objects.get(pk=secret.pk)
    assert hidden.state == SecretState.DESTROYED, "the job's report does not bring it back"
    delete = f.latest_task(secret, TaskType.DELETE_CREDENTIALS)
    assert (delete.credentials_id, delete.trigger) == (
        "tok-late",
        TaskTrigger.SECRET_VERSION_DATA_DELETION,
    )
    assert tasks.purge_sweep() == "deleted secrets purged: 0"
    f.report_deleted(delete)
    assert tasks.purge_sweep() == "deleted secrets purged: 1"


def test_no_force_needed_once_every_credential_is_deleted(group, writer, manager, custom_world):
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    version = secret.versions.get()
    SecretVersion.objects.filter(pk=version.pk).update(credentials_deleted_at=version.created_at)
    assert delete_blockers(secret) == []
    secret_delete(principal=manager, secret_id=secret.pk)
    assert not Secret.all_objects.filter(pk=secret.pk).exists()
    assert not SecretTask.objects.filter(type=TaskType.DELETE_CREDENTIALS, secret_id=secret.pk)


def test_other_types_never_need_force(group, iam_engine, instances):
    for secret in (
        create_secret(group=group),
        f.iam_secret(group=group),
        f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn),
    ):
        assert secret.secret_type != SecretType.CUSTOM_CREDENTIALS
        assert delete_blockers(secret) == []


def test_the_purge_is_idempotent(group, manager, custom_world):
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    secret_delete(principal=manager, secret_id=secret.pk, force=True)
    f.report_deleted(f.latest_task(secret, TaskType.DELETE_CREDENTIALS))
    assert Secret.all_objects.filter(pk=secret.pk).exists(), "purged by the sweep, not the report"
    assert tasks.purge_sweep() == "deleted secrets purged: 1"
    assert tasks.purge_sweep() == "deleted secrets purged: 0"
