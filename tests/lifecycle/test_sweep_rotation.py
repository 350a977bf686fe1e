"""Automatic rotation (the secret-rotations schedule, secrets_app.tasks.rotation_sweep), with the
clock moved by hand: each type with a rotation policy rotates at next_rotation_date, exactly
once; arbitrary secrets never do; a failure sets last_rotation_failed."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from console.models import AuditEvent
from engines_app.models import Configuration
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from engines_app.schedules import SCHEDULES
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
from secrets_app.services.credentials import SECRETS_MANAGER
from tests.factories import create_secret
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db

DAILY = {"auto_rotate": True, "interval": 1, "unit": "day"}


def current(secret: Secret) -> SecretVersion:
    return SecretVersion.objects.get(secret_id=secret.pk, alias="current")


def test_the_sweep_is_scheduled_every_minute():
    spec = next(s for s in SCHEDULES if s.func == "secrets_app.tasks.rotation_sweep")
    assert spec.minutes == 1


def test_arbitrary_secrets_never_rotate(group, clock):
    secret = create_secret(
        group=group, payload="static", expiration_date=clock.now + timedelta(days=400)
    )
    assert secret.next_rotation_date is None
    for days in (1, 30, 90, 365):
        clock.to(secret.created_at + timedelta(days=days))
        assert tasks.rotation_sweep() == "secrets rotated: 0"
    secret.refresh_from_db()
    assert secret.versions_total == 1 and not secret.last_rotation_failed
    assert not AuditEvent.objects.filter(action__startswith="secret.rotate").exists()


def test_iam_credentials_with_reuse_on(group, iam_engine, clock):
    sid = f.service_id()
    secret = f.iam_secret(group=group, static_service_id=sid, ttl="2d", rotation=DAILY)
    start = clock.now
    assert secret.next_rotation_date == start + timedelta(days=1)
    first_key = f.api_key_of(current(secret))

    clock.to(start + timedelta(days=1, seconds=-1))
    assert tasks.rotation_sweep() == "secrets rotated: 0"
    clock.to(start + timedelta(days=1))
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    assert tasks.rotation_sweep() == "secrets rotated: 0", "claimed once"

    secret.refresh_from_db()
    version = current(secret)
    assert version.serial == 2 and version.auto_rotated
    assert version.created_by == SECRETS_MANAGER.iam_id
    assert secret.next_rotation_date == clock.now + timedelta(days=1)
    assert secret.expiration_date == version.expiration_date == clock.now + timedelta(days=2)
    key = f.api_key_of(version)
    assert key.pk != first_key.pk and key.protected and key.service_id_id == sid.pk
    assert ApiKey.objects.filter(pk=first_key.pk).exists(), "the previous key lives on"
    event = AuditEvent.objects.get(action="secret.rotate")
    assert event.detail["trigger"] == "automatic_secret_rotation" and event.detail["serial"] == 2

    # A day later again: version 3, and version 1's key drops out and is deleted.
    clock.advance(days=1)
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    assert current(secret).serial == 3
    assert not ApiKey.objects.filter(pk=first_key.pk).exists()


def test_service_credentials(group, instances, clock):
    secret = f.service_secret(
        group=group, instance_crn=instances["postgres-orders"].crn, rotation=DAILY
    )
    start = clock.now
    first = f.resource_key_of(current(secret))
    clock.to(start + timedelta(days=1))
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    version = current(secret)
    assert version.serial == 2 and version.auto_rotated
    key = f.resource_key_of(version)
    assert key.crn != first.crn and key.serviceid_crn == first.serviceid_crn and not key.is_deleted
    secret.refresh_from_db()
    assert secret.next_rotation_date == start + timedelta(days=2)
    assert secret.expiration_date is None, "no ttl: the new key does not expire either"


def test_custom_credentials_queue_a_create_task(group, custom_world, clock):
    secret = f.activate(
        f.custom_secret(group=group, rotation={"auto_rotate": True, "interval": 6, "unit": "hour"})
    )
    activated = clock.now
    assert secret.next_rotation_date == activated + timedelta(hours=6)
    clock.to(activated + timedelta(hours=6))
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    assert tasks.rotation_sweep() == "secrets rotated: 0"
    task = f.latest_task(secret)
    assert (task.type, task.trigger, task.status) == (
        TaskType.CREATE_CREDENTIALS,
        TaskTrigger.AUTOMATIC_SECRET_ROTATION,
        TaskStatus.QUEUED,
    )
    assert task.created_by == SECRETS_MANAGER.iam_id
    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE and secret.versions_total == 1
    env = f.dispatch(task)
    assert env["SM_TRIGGER"] == "automatic_secret_rotation"
    clock.advance(minutes=2)
    f.report(
        task,
        {
            "status": "credentials_created",
            "credentials": {"id": "tok-2", "payload": {"token": "token-2"}},
        },
    )
    version = current(secret)
    assert version.serial == 2 and version.auto_rotated and version.credentials_id == "tok-2"
    secret.refresh_from_db()
    assert secret.next_rotation_date == clock.now + timedelta(hours=6)
    assert not secret.last_rotation_failed


def test_a_failing_automatic_rotation_sets_last_rotation_failed(group, iam_engine, clock, caplog):
    sid = f.service_id()
    secret = f.iam_secret(group=group, static_service_id=sid, ttl="2d", rotation=DAILY)
    start = clock.now
    # Someone locks the service ID in IAM: no key can be issued for it.
    ServiceId.objects.filter(pk=sid.pk).update(locked=True)
    clock.to(start + timedelta(days=1))
    with caplog.at_level(logging.WARNING, logger="secrets_app.services.rotation"):
        assert tasks.rotation_sweep() == "secrets rotated: 0"
    secret.refresh_from_db()
    assert secret.last_rotation_failed and secret.versions_total == 1
    assert ApiKey.objects.filter(service_id=sid).count() == 1, "no key left behind"
    assert secret.next_rotation_date == start + timedelta(days=2), "it tries again next time"
    event = AuditEvent.objects.get(action="secret.rotate_failed")
    assert event.object_id == str(secret.pk) and "locked" in event.detail["reason"]
    assert any(str(secret.pk) in r.getMessage() for r in caplog.records)
    # Not again until it is due again.
    assert tasks.rotation_sweep() == "secrets rotated: 0"
    assert AuditEvent.objects.filter(action="secret.rotate_failed").count() == 1

    # Unlocked, the next due rotation succeeds and clears the flag.
    ServiceId.objects.filter(pk=sid.pk).update(locked=False)
    clock.to(start + timedelta(days=2))
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    secret.refresh_from_db()
    assert not secret.last_rotation_failed and secret.versions_total == 2


def test_a_custom_rotation_the_job_fails_sets_last_rotation_failed(group, custom_world, clock):
    secret = f.activate(
        f.custom_secret(group=group, rotation={"auto_rotate": True, "interval": 6, "unit": "hour"})
    )
    clock.advance(hours=6)
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    task = f.report_failed(f.latest_task(secret))
    assert task.status == TaskStatus.FAILED
    secret.refresh_from_db()
    assert secret.last_rotation_failed
    assert secret.state == SecretState.ACTIVE and secret.versions_total == 1
    # The next automatic rotation that works clears it.
    clock.advance(hours=6)
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    f.report_created(f.latest_task(secret), credentials_id="tok-2", token="token-2")
    secret.refresh_from_db()
    assert not secret.last_rotation_failed and secret.versions_total == 2


def test_a_custom_rotation_whose_job_cannot_start_sets_last_rotation_failed(
    group, custom_world, clock
):
    secret = f.activate(
        f.custom_secret(group=group, rotation={"auto_rotate": True, "interval": 6, "unit": "hour"})
    )
    clock.advance(hours=6)
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    # The job's API key secret lost its value: the run cannot be started.
    SecretVersion.objects.filter(secret=custom_world["key_secret"]).delete()
    tasks.secret_task_run(f.latest_task(secret).pk)
    task = f.latest_task(secret)
    assert task.status == TaskStatus.FAILED and task.errors[0]["code"] == "job_not_started"
    assert Secret.objects.get(pk=secret.pk).last_rotation_failed


def test_rotation_off_or_not_active_is_not_due(group, iam_engine, clock):
    paused = f.iam_secret(group=group, ttl="2d", rotation={"auto_rotate": False})
    destroyed = f.iam_secret(group=group, ttl="2d", rotation=DAILY)
    Secret.objects.filter(pk=destroyed.pk).update(state=SecretState.DESTROYED)
    assert paused.next_rotation_date is None
    clock.advance(days=1)
    assert tasks.rotation_sweep() == "secrets rotated: 0"
    assert SecretTask.objects.count() == 0
    assert Secret.objects.get(pk=paused.pk).versions_total == 1
    assert Secret.objects.get(pk=destroyed.pk).versions_total == 1


@pytest.fixture
def slow_job(custom_world):
    """The token provider's configuration allows a task the longest timeout: 24 hours."""
    Configuration.objects.filter(name="token-provider").update(task_timeout_seconds=24 * 3600)


def test_a_rotation_still_in_progress_is_not_a_failure(group, custom_world, slow_job, clock):
    """A create task may run up to 24 hours, longer than the shortest rotation interval: while
    one runs, the next due rotation waits for it instead of failing."""
    secret = f.activate(
        f.custom_secret(group=group, rotation={"auto_rotate": True, "interval": 6, "unit": "hour"})
    )
    start = clock.now
    clock.to(start + timedelta(hours=6))
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    running = f.latest_task(secret)
    f.dispatch(running)
    clock.to(start + timedelta(hours=12))
    assert tasks.sweep() == "timed-out tasks failed: 0"
    assert tasks.rotation_sweep() == "secrets rotated: 0"
    secret.refresh_from_db()
    assert not secret.last_rotation_failed
    assert not AuditEvent.objects.filter(action="secret.rotate_failed").exists()
    assert SecretTask.objects.filter(secret=secret, type=TaskType.CREATE_CREDENTIALS).count() == 2
    # It succeeds: that was the rotation, and the next one is due an interval later.
    clock.advance(minutes=10)
    f.report(
        running,
        {
            "status": "credentials_created",
            "credentials": {"id": "tok-2", "payload": {"token": "token-2"}},
        },
    )
    secret.refresh_from_db()
    assert secret.next_rotation_date == clock.now + timedelta(hours=6)
    assert tasks.rotation_sweep() == "secrets rotated: 0"
    assert not Secret.objects.get(pk=secret.pk).last_rotation_failed


def test_a_due_rotation_runs_once_the_task_in_progress_failed(group, custom_world, slow_job, clock):
    secret = f.activate(
        f.custom_secret(group=group, rotation={"auto_rotate": True, "interval": 6, "unit": "hour"})
    )
    start = clock.now
    clock.to(start + timedelta(hours=6))
    assert tasks.rotation_sweep() == "secrets rotated: 1"
    running = f.latest_task(secret)
    f.dispatch(running)
    clock.to(start + timedelta(hours=12))
    assert tasks.rotation_sweep() == "secrets rotated: 0"
    f.report(running, {"status": "failed", "errors": [{"code": "E1", "description": "down"}]})
    assert Secret.objects.get(pk=secret.pk).last_rotation_failed
    clock.advance(minutes=1)
    assert tasks.rotation_sweep() == "secrets rotated: 1", "the due rotation is not lost"
    task = f.latest_task(secret)
    assert (task.trigger, task.status) == (TaskTrigger.AUTOMATIC_SECRET_ROTATION, TaskStatus.QUEUED)
    assert task.pk != running.pk
