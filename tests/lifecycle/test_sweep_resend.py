"""Tasks still queued after REQUEUE_AFTER are sent again (secret-tasks-resend,
secrets_app.tasks.resend_sweep): the Redis broker keeps no acknowledgement, so a task a dying
cluster took off the list would otherwise leave its secret in pre_activation for good."""

from __future__ import annotations

import pytest

from engines_app.schedules import SCHEDULES
from secrets_app import tasks
from secrets_app.models import SecretState, SecretTask, TaskStatus
from secrets_app.services import task_queue
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """The task ids handed to the broker."""
    ids: list[str] = []
    monkeypatch.setattr(task_queue, "async_task", lambda func, task_id, **kw: ids.append(task_id))
    return ids


def test_the_resend_sweep_is_scheduled_every_minute():
    assert {s.func: s.minutes for s in SCHEDULES}["secrets_app.tasks.resend_sweep"] == 1


def test_a_task_lost_by_the_broker_is_sent_again_once(
    group, custom_world, clock, sent, django_capture_on_commit_callbacks
):
    lost = f.latest_task(f.custom_secret(group=group))
    clock.advance(minutes=4)
    fresh = f.latest_task(f.custom_secret(group=group, name="fresh"))
    running = f.latest_task(f.custom_secret(group=group, name="running"))
    f.dispatch(running)
    clock.advance(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.resend_sweep() == "queued tasks sent again: 1"
    assert sent == [lost.pk], "only the task queued five minutes ago; not a fresh or a running one"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.resend_sweep() == "queued tasks sent again: 0", "sent again: five more minutes"
    clock.advance(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.resend_sweep() == "queued tasks sent again: 2"
    assert sorted(sent) == sorted([lost.pk, lost.pk, fresh.pk])

    # Delivered twice, the task runs once: dispatching claims only a queued task.
    f.dispatch(SecretTask.objects.get(pk=lost.pk))
    assert tasks.secret_task_run(lost.pk) == f"{lost.pk}: not queued"
    lost.refresh_from_db()
    assert lost.status == TaskStatus.PROCESSING
    assert [e["status"] for e in lost.status_history].count(TaskStatus.PROCESSING) == 1
    assert lost.secret.state == SecretState.PRE_ACTIVATION
