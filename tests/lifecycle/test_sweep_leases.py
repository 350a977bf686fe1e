"""Lease expiry (the secret-leases schedule, secrets_app.tasks.lease_sweep), with the clock moved
by hand, for each type:

- IAM credentials, reuse on: at lease end the API key and a generated service ID are deleted
  from the embedded IAM, the payload is gone and the secret is destroyed. Reuse off: the key of
  the read goes, the secret stays active, and the next read issues a new key.
- Service credentials: the resource key is deleted.
- Custom credentials: a delete_credentials task with trigger secret_version_expiration.
- Arbitrary: the expiration date moves the secret to destroyed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.models import AuditEvent
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from engines_app.schedules import SCHEDULES
from secrets_app import tasks
from secrets_app.models import (
    Secret,
    SecretLock,
    SecretState,
    SecretTask,
    SecretVersion,
    TaskStatus,
    TaskTrigger,
    TaskType,
)
from secrets_app.services.editing import secret_metadata_update
from secrets_app.services.reading import secret_reveal
from secrets_app.services.rotation import secret_rotate
from secrets_app.services.versions import payload_gone_reason
from tests.factories import create_secret
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db

NOTHING = "versions expired: 0, secrets expired: 0"


def versions(secret: Secret) -> list[tuple[int, str | None, bool]]:
    return list(
        SecretVersion.objects.filter(secret_id=secret.pk)
        .order_by("serial")
        .values_list("serial", "alias", "payload_available")
    )


def test_the_sweep_is_scheduled_every_minute():
    spec = next(s for s in SCHEDULES if s.func == "secrets_app.tasks.lease_sweep")
    assert spec.minutes == 1


def test_iam_reuse_on_deletes_key_and_generated_service_id(group, iam_engine, clock):
    secret = f.iam_secret(group=group, reuse=True, ttl="1h")
    sid = ServiceId.objects.get(pk=secret.service_id)
    assert sid.managed_by_secrets_manager
    key = f.api_key_of(secret.versions.get())
    clock.advance(minutes=59, seconds=59)
    assert tasks.lease_sweep() == NOTHING
    clock.advance(seconds=1)
    assert tasks.lease_sweep() == "versions expired: 0, secrets expired: 1"
    assert tasks.lease_sweep() == NOTHING, "expired once"
    assert not ApiKey.objects.filter(pk=key.pk).exists()
    assert not ServiceId.objects.filter(pk=sid.pk).exists()
    secret.refresh_from_db()
    assert secret.state == SecretState.DESTROYED and "lease ended" in secret.state_reason
    version = secret.versions.get()
    assert not version.payload_available and version.get_sealed() is None
    assert version.credentials_deleted_at == clock.now
    assert AuditEvent.objects.filter(action="secret.expire", object_id=str(secret.pk)).count() == 1


def test_iam_reuse_on_with_a_static_service_id_keeps_it(group, iam_engine, clock):
    sid = f.service_id()
    secret = f.iam_secret(group=group, reuse=True, ttl="1h", static_service_id=sid)
    clock.advance(hours=1)
    assert tasks.lease_sweep() == "versions expired: 0, secrets expired: 1"
    assert ServiceId.objects.filter(pk=sid.pk).exists()
    assert not ApiKey.objects.filter(service_id=sid).exists()
    assert Secret.objects.get(pk=secret.pk).state == SecretState.DESTROYED


def test_iam_reuse_on_previous_key_lives_out_its_own_lease(group, writer, iam_engine, clock):
    secret = f.iam_secret(group=group, reuse=True, ttl="1h", static_service_id=f.service_id())
    first = f.api_key_of(secret.versions.get())
    clock.advance(minutes=30)
    secret_rotate(principal=writer, secret_id=secret.pk)
    clock.advance(minutes=30)  # version 1's lease ends; version 2 has 30 minutes left
    assert tasks.lease_sweep() == "versions expired: 1, secrets expired: 0"
    assert not ApiKey.objects.filter(pk=first.pk).exists()
    assert versions(secret) == [(1, "previous", False), (2, "current", True)]
    assert Secret.objects.get(pk=secret.pk).state == SecretState.ACTIVE
    clock.advance(minutes=30)
    assert tasks.lease_sweep() == "versions expired: 0, secrets expired: 1"
    assert versions(secret) == [(1, "previous", False), (2, "current", False)]


def test_iam_reuse_off_stays_active_and_the_next_read_issues_a_new_key(
    group, people, iam_engine, clock
):
    reader = people["SecretsReader"]
    secret = f.iam_secret(group=group, reuse=False, ttl="1h")
    sid = secret.service_id
    read = secret_reveal(principal=reader, secret_id=secret.pk).payload
    clock.advance(hours=1)
    # The creation's key and the read's key both reach the end of their lease.
    assert tasks.lease_sweep() == "versions expired: 2, secrets expired: 0"
    assert tasks.lease_sweep() == NOTHING
    assert not ApiKey.objects.filter(service_id_id=sid).exists()
    assert versions(secret) == [(1, "previous", False), (2, "current", False)]
    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE
    assert ServiceId.objects.filter(pk=sid).exists(), "the next read needs the service ID"
    again = secret_reveal(principal=reader, secret_id=secret.pk)
    assert again.version.serial == 3 and again.payload["api_key"] != read["api_key"]
    assert ApiKey.objects.get(pk=again.payload["api_key_id"]).protected


def test_service_credentials_delete_the_resource_key(group, instances, clock):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn, ttl="1d")
    key = f.resource_key_of(secret.versions.get())
    clock.advance(days=1)
    assert tasks.lease_sweep() == "versions expired: 0, secrets expired: 1"
    key.refresh_from_db()
    assert key.is_deleted and key.get_sealed() is None
    secret.refresh_from_db()
    assert secret.state == SecretState.DESTROYED
    assert not secret.versions.get().payload_available


def test_service_credentials_without_ttl_never_expire(group, instances, clock):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn, ttl="0")
    assert secret.expiration_date is None
    clock.advance(days=365)
    assert tasks.lease_sweep() == NOTHING
    assert Secret.objects.get(pk=secret.pk).state == SecretState.ACTIVE


def test_custom_credentials_queue_a_delete_task(group, custom_world, clock):
    secret = f.activate(f.custom_secret(group=group, ttl="1d"), credentials_id="tok-1")
    version = secret.versions.get()
    assert version.expiration_date == secret.expiration_date == clock.now + timedelta(days=1)
    clock.advance(days=1)
    assert tasks.lease_sweep() == "versions expired: 0, secrets expired: 1"
    assert tasks.lease_sweep() == NOTHING
    delete = f.latest_task(secret, TaskType.DELETE_CREDENTIALS)
    assert (delete.trigger, delete.status, delete.credentials_id, delete.secret_version_ref) == (
        TaskTrigger.SECRET_VERSION_EXPIRATION,
        TaskStatus.QUEUED,
        "tok-1",
        version.pk,
    )
    assert SecretTask.objects.filter(secret=secret, type=TaskType.DELETE_CREDENTIALS).count() == 1
    secret.refresh_from_db()
    assert secret.state == SecretState.DESTROYED
    env = f.dispatch(delete)
    assert (env["SM_TRIGGER"], env["SM_CREDENTIALS_ID"]) == ("secret_version_expiration", "tok-1")
    f.report(delete, {"status": "credentials_deleted"})
    version.refresh_from_db()
    assert not version.payload_available and version.credentials_deleted_at == clock.now


def test_custom_credentials_previous_version_expires_on_its_own(group, writer, custom_world, clock):
    secret = f.activate(f.custom_secret(group=group, ttl="2d"), credentials_id="tok-1")
    clock.advance(days=1)
    f.report_created(
        secret_rotate(principal=writer, secret_id=secret.pk).task,
        credentials_id="tok-2",
        token="t2",
    )
    clock.advance(days=1)  # version 1's lease is over, version 2 has a day left
    assert tasks.lease_sweep() == "versions expired: 1, secrets expired: 0"
    delete = f.latest_task(secret, TaskType.DELETE_CREDENTIALS)
    assert (delete.trigger, delete.credentials_id) == (
        TaskTrigger.SECRET_VERSION_EXPIRATION,
        "tok-1",
    )
    assert versions(secret) == [(1, "previous", False), (2, "current", True)]
    assert Secret.objects.get(pk=secret.pk).state == SecretState.ACTIVE


def test_arbitrary_expiration_date_destroys_the_secret(group, writer, clock):
    secret = create_secret(group=group, payload="v1", expiration_date=clock.now + timedelta(days=3))
    clock.advance(days=1)
    secret_rotate(principal=writer, secret_id=secret.pk, payload="v2")
    clock.advance(days=2, seconds=-1)
    assert tasks.lease_sweep() == NOTHING
    assert secret_reveal(principal=writer, secret_id=secret.pk, version="previous").payload == "v1"
    clock.advance(seconds=1)
    # The previous version's lease is its secret's: both end now.
    assert tasks.lease_sweep() == "versions expired: 1, secrets expired: 1"
    secret.refresh_from_db()
    assert secret.state == SecretState.DESTROYED
    assert versions(secret) == [(1, "previous", False), (2, "current", False)]


def test_arbitrary_previous_version_lives_as_long_as_its_secret(group, writer, clock):
    """An arbitrary secret's versions have no lease of their own: moving the secret's
    expiration date moves theirs, and its previous version stays readable until then."""
    secret = create_secret(group=group, payload="v1", expiration_date=clock.now + timedelta(days=3))
    secret_rotate(principal=writer, secret_id=secret.pk, payload="v2")
    secret_metadata_update(
        principal=writer,
        secret_id=secret.pk,
        changes={"expiration_date": clock.now + timedelta(days=10)},
    )
    clock.advance(days=5)
    assert tasks.lease_sweep() == NOTHING
    assert versions(secret) == [(1, "previous", True), (2, "current", True)]
    assert secret_reveal(principal=writer, secret_id=secret.pk, version="previous").payload == "v1"
    clock.advance(days=5)
    assert tasks.lease_sweep() == "versions expired: 1, secrets expired: 1"
    assert versions(secret) == [(1, "previous", False), (2, "current", False)]
    previous = SecretVersion.objects.get(secret=secret, serial=1)
    assert previous.expiration_date == clock.now
    assert payload_gone_reason(previous).startswith(
        f"its lease ended on {clock.now:%Y-%m-%d %H:%M}"
    )


def test_arbitrary_without_expiration_never_expires(group, clock):
    secret = create_secret(group=group)
    clock.advance(days=3650)
    assert tasks.lease_sweep() == NOTHING
    assert Secret.objects.get(pk=secret.pk).state == SecretState.ACTIVE


def test_a_locked_version_keeps_its_data_past_the_lease_until_the_lock_goes(group, writer, clock):
    """IBM: a lock protects a version's data even after it expires. The secret is destroyed on
    time; the locked version's payload is erased at the first sweep after its lock is removed."""
    secret = create_secret(group=group, payload="v1", expiration_date=clock.now + timedelta(days=3))
    version = secret.versions.get()
    lock = SecretLock.objects.create(
        secret=secret, version=version, name="audit-hold", created_by="IBMid-0000000999"
    )
    clock.advance(days=3)
    assert tasks.lease_sweep() == "versions expired: 0, secrets expired: 1"
    secret.refresh_from_db()
    assert secret.state == SecretState.DESTROYED
    assert versions(secret) == [(1, "current", True)]
    assert tasks.lease_sweep() == NOTHING, "the lock still holds"
    lock.delete()
    assert tasks.lease_sweep() == "versions expired: 1, secrets expired: 0"
    assert versions(secret) == [(1, "current", False)]
    assert tasks.lease_sweep() == NOTHING
