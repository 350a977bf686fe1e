"""The delete retry ladder (secret-delete-retries, secrets_app.tasks.delete_retry_sweep) and the
task timeout (secret-tasks-sweep, secrets_app.tasks.sweep), with the clock moved by hand.

A failed delete_credentials task gets a retry a day after it failed, as a new task (retry_of,
attempt N + 1), up to 10 retries. None after a 400/404 answer to the job's callback (no_retry),
nor once the version's credentials are deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from console.errors import AccessDeniedError
from console.identity import Actor
from engines_app.providers.iam import get_iam
from engines_app.schedules import SCHEDULES
from secrets_app import tasks
from secrets_app.models import Secret, SecretState, SecretTask, TaskStatus, TaskTrigger, TaskType
from secrets_app.services.custom_credentials import (
    TaskStateError,
    secret_task_cancel,
    secret_task_report,
    secret_task_run_finished,
)
from secrets_app.services.deletion import secret_delete
from secrets_app.services.retries import MAX_RETRIES, retry_pending
from secrets_app.services.rotation import secret_rotate
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db


def none_queued() -> str:
    return "delete retries queued: 0"


def secret_with_a_delete_task(group, writer) -> tuple[Secret, SecretTask]:
    """Active on version 3; version 1 dropped out, and its delete task is queued."""
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    for n in (2, 3):
        f.report_created(
            secret_rotate(principal=writer, secret_id=secret.pk).task,
            credentials_id=f"tok-{n}",
            token=f"token-{n}",
        )
    return secret, f.latest_task(secret, TaskType.DELETE_CREDENTIALS)


def test_the_sweeps_are_scheduled():
    funcs = {s.func: s.minutes for s in SCHEDULES}
    assert funcs["secrets_app.tasks.delete_retry_sweep"] == 10
    assert funcs["secrets_app.tasks.sweep"] == 1
    assert funcs["secrets_app.tasks.purge_sweep"] == 10


def test_the_ladder_retries_daily_ten_times(group, writer, custom_world, clock):
    secret, first = secret_with_a_delete_task(group, writer)
    assert (first.credentials_id, first.attempt) == ("tok-1", 1)
    version_ref = first.secret_version_ref
    ladder = [first]
    task = first
    while True:
        env = f.dispatch(task)
        assert env["SM_CREDENTIALS_ID"] == "tok-1" and env["SM_SECRET_VERSION_ID"] == str(
            version_ref
        )
        f.report(
            task, {"status": "failed", "errors": [{"code": "ERR10002", "description": "down"}]}
        )
        failed_at = clock.now
        clock.to(failed_at + timedelta(days=1, seconds=-1))
        assert tasks.delete_retry_sweep() == none_queued(), "not before a day has passed"
        clock.to(failed_at + timedelta(days=1))
        queued = tasks.delete_retry_sweep()
        if task.attempt == MAX_RETRIES + 1:
            assert queued == none_queued()
            break
        assert queued == "delete retries queued: 1"
        assert tasks.delete_retry_sweep() == none_queued(), "one retry per failed task"
        retry = SecretTask.objects.get(retry_of=task)
        assert (retry.type, retry.status, retry.attempt) == (
            TaskType.DELETE_CREDENTIALS,
            TaskStatus.QUEUED,
            task.attempt + 1,
        )
        assert (retry.trigger, retry.credentials_id, retry.secret_version_ref) == (
            TaskTrigger.MANUAL_SECRET_ROTATION,
            "tok-1",
            version_ref,
        )
        assert retry.creation_date - task.last_update_date == timedelta(days=1)
        ladder.append(retry)
        task = retry
    assert [t.attempt for t in ladder] == list(range(1, 12)), "the first try and 10 retries"
    assert not retry_pending(SecretTask.objects.get(pk=ladder[-1].pk))
    clock.advance(days=30)
    assert tasks.delete_retry_sweep() == none_queued()
    assert SecretTask.objects.filter(secret=secret, type=TaskType.DELETE_CREDENTIALS).count() == 11


def test_a_retry_that_succeeds_ends_the_ladder(group, writer, custom_world, clock):
    secret, first = secret_with_a_delete_task(group, writer)
    f.report_failed(first)
    clock.advance(days=1)
    assert tasks.delete_retry_sweep() == "delete retries queued: 1"
    f.report_deleted(SecretTask.objects.get(retry_of=first))
    assert secret.versions.get(serial=1).credentials_deleted_at == clock.now
    clock.advance(days=5)
    assert tasks.delete_retry_sweep() == none_queued()


def test_a_400_answer_to_the_callback_stops_the_ladder(group, writer, custom_world, clock):
    secret, first = secret_with_a_delete_task(group, writer)
    f.dispatch(first)
    # The job sends what no delete task accepts: 400, and the task is marked.
    with pytest.raises(TaskStateError) as exc:
        f.report(
            first,
            {
                "status": "credentials_created",
                "credentials": {"id": "x", "payload": {"token": "t"}},
            },
        )
    assert exc.value.status == 400
    first.refresh_from_db()
    assert first.no_retry and first.status == TaskStatus.PROCESSING
    # A 400 means the job cannot fix it by retrying: it exits, and the run ends unreported.
    assert secret_task_run_finished(
        task_id=first.pk, exit_code=1, timed_out=False, timeout_seconds=600
    )
    first.refresh_from_db()
    assert (
        first.status == TaskStatus.FAILED and first.errors[0]["code"] == "job_exited_without_result"
    )
    clock.advance(days=2)
    assert tasks.delete_retry_sweep() == none_queued()
    assert not retry_pending(first)


def test_an_invalid_body_is_a_400_that_stops_the_ladder(group, writer, custom_world, clock):
    secret, first = secret_with_a_delete_task(group, writer)
    f.dispatch(first)
    with pytest.raises(ValidationError):
        f.report(first, {"status": "failed", "errors": []})
    first.refresh_from_db()
    assert first.no_retry
    clock.advance(minutes=10)
    assert tasks.sweep() == "timed-out tasks failed: 1"
    clock.advance(days=1)
    assert tasks.delete_retry_sweep() == none_queued()


def test_a_403_answer_does_not_stop_the_ladder(group, writer, custom_world, clock):
    """Only the task's own job can mark it: someone without SecretTaskUpdater on the group
    gets 403, and the task still gets its retries."""
    secret, first = secret_with_a_delete_task(group, writer)
    f.dispatch(first)
    outsider_id = f.service_id("outsider")
    # A role on the group, but not SecretTaskUpdater (with none at all the answer is 404).
    get_iam().grant(
        actor=f.ADMIN, role="Reader", service_id=outsider_id.pk, secret_group_id=group.pk
    )
    outsider = get_iam().principal_for_actor(Actor(iam_id=outsider_id.iam_id, name="outsider"))
    with pytest.raises(AccessDeniedError):
        secret_task_report(
            principal=outsider,
            secret_id=secret.pk,
            task_id=first.pk,
            body={"status": "credentials_created"},
        )
    f.report(first, {"status": "failed", "errors": [{"code": "E1", "description": "down"}]})
    first.refresh_from_db()
    assert not first.no_retry
    clock.advance(days=1)
    assert tasks.delete_retry_sweep() == "delete retries queued: 1"


def test_no_retry_once_the_credentials_are_deleted(group, writer, manager, custom_world, clock):
    secret, first = secret_with_a_delete_task(group, writer)
    f.report_failed(first)
    # Force-deleting the secret queues a new delete task for version 1 (its credentials may
    # still exist), and that one succeeds.
    clock.advance(hours=1)
    secret_delete(principal=manager, secret_id=secret.pk, force=True)
    again = SecretTask.objects.get(
        secret_id=secret.pk,
        secret_version_ref=first.secret_version_ref,
        trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
    )
    assert again.retry_of is None and again.credentials_id == "tok-1"
    f.report_deleted(again)
    clock.advance(days=1)
    assert tasks.delete_retry_sweep() == none_queued()
    assert not SecretTask.objects.filter(retry_of=first).exists()


def test_cancelled_and_create_tasks_are_not_retried(group, writer, custom_world, clock):
    secret, first = secret_with_a_delete_task(group, writer)
    secret_task_cancel(principal=writer, secret_id=secret.pk, task_id=first.pk)
    failed_create = f.report_failed(secret_rotate(principal=writer, secret_id=secret.pk).task)
    assert failed_create.status == TaskStatus.FAILED
    clock.advance(days=2)
    assert tasks.delete_retry_sweep() == none_queued()


# ---------------------------------------------------------------------------------------------
# Task timeout


def test_a_processing_task_fails_at_its_timeout(group, custom_world, clock):
    secret = f.custom_secret(group=group)
    task = f.latest_task(secret)
    f.dispatch(task)
    started = clock.now
    clock.to(started + timedelta(minutes=10, seconds=-1))  # the configuration's 10m
    assert tasks.sweep() == "timed-out tasks failed: 0"
    clock.to(started + timedelta(minutes=10))
    assert tasks.sweep() == "timed-out tasks failed: 1"
    assert tasks.sweep() == "timed-out tasks failed: 0"
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and task.errors[0]["code"] == "task_timeout"
    assert "10 minutes" in task.errors[0]["description"]
    assert custom_world["runs"].stopped == [task.pk], "the run is stopped"
    secret.refresh_from_db()
    assert secret.state == SecretState.PRE_ACTIVATION and not secret.last_rotation_failed
    # The job wakes up and reports: too late (400), and nothing changes.
    with pytest.raises(TaskStateError):
        f.report(
            task,
            {
                "status": "credentials_created",
                "credentials": {"id": "x", "payload": {"token": "t"}},
            },
        )
    assert Secret.objects.get(pk=secret.pk).versions_total == 0


def test_a_queued_task_is_not_timed_out(group, custom_world, clock):
    secret = f.custom_secret(group=group)
    clock.advance(days=1)
    assert tasks.sweep() == "timed-out tasks failed: 0"
    assert f.latest_task(secret).status == TaskStatus.QUEUED


def test_a_timed_out_rotation_sets_last_rotation_failed(group, writer, custom_world, clock):
    secret = f.activate(f.custom_secret(group=group))
    f.dispatch(secret_rotate(principal=writer, secret_id=secret.pk).task)
    clock.advance(minutes=10)
    assert tasks.sweep() == "timed-out tasks failed: 1"
    secret.refresh_from_db()
    assert secret.last_rotation_failed and secret.state == SecretState.ACTIVE


def test_a_timed_out_delete_task_is_retried(group, writer, custom_world, clock):
    secret, first = secret_with_a_delete_task(group, writer)
    f.dispatch(first)
    clock.advance(minutes=10)
    assert tasks.sweep() == "timed-out tasks failed: 1"
    clock.advance(days=1)
    assert tasks.delete_retry_sweep() == "delete retries queued: 1"
    retry = SecretTask.objects.get(retry_of=first)
    assert retry.attempt == 2 and retry.credentials_id == "tok-1"


def test_a_late_credentials_deleted_report_leaves_nothing_to_retry(
    group, writer, custom_world, clock
):
    secret, first = secret_with_a_delete_task(group, writer)
    f.dispatch(first)
    clock.advance(minutes=10)
    assert tasks.sweep() == "timed-out tasks failed: 1"
    with pytest.raises(TaskStateError):
        f.report(first, {"status": "credentials_deleted"})
    clock.advance(days=1)
    assert tasks.delete_retry_sweep() == none_queued()
