"""The inbox's actions through the console: Retry (lineage, succeeded later), Bulk retry
(exactly the previewed tasks), Acknowledge, Give up (the ladder stops, credentials orphaned),
Cancel; who may act; and the ladder's countdown on a moving clock."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.models import AuditEvent
from secrets_app import tasks as sweeps
from secrets_app.models import SecretState, SecretTask, SecretVersion, TaskResolution, TaskStatus
from secrets_app.services.inbox_reading import task_stamp
from secrets_app.services.retries import retry_pending
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db
URL = reverse("secrets:tasks")


def fresh(task: SecretTask) -> SecretTask:
    return SecretTask.objects.get(pk=task.pk)


def test_retry_links_a_new_attempt_and_resolves_when_it_succeeds(clients, failures, hx):
    failed = failures["creates"][0]
    response = clients["Writer"].post(
        reverse("secrets:task-retry", args=[failed.pk]), {"next": URL}
    )
    assert response.status_code == 302 and response["Location"] == URL
    retry = SecretTask.objects.get(retry_of=failed)
    assert (retry.attempt, retry.type, retry.trigger, retry.status) == (
        2,
        failed.type,
        failed.trigger,
        TaskStatus.QUEUED,
    )
    assert fresh(failed).resolution == TaskResolution.RETRIED
    assert AuditEvent.objects.filter(action="secret_task.retry", object_id=failed.pk).exists()
    # The row stays in the default view while the retry runs, and polls itself.
    row_url = reverse("secrets:task-row", args=[failed.pk])
    polled = clients["Writer"].get(row_url, headers=hx)
    assert polled.status_code == 200 and 'hx-trigger="every 2s"' in polled.content.decode()
    assert "(attempt 2): queued" in polled.content.decode()
    assert f'data-task="{failed.pk}"' in clients["Writer"].get(URL).content.decode()
    f.report_created(retry, credentials_id="tok-9", token="token-9")
    assert fresh(failed).resolution == TaskResolution.SUCCEEDED_LATER
    assert retry.secret.__class__.objects.get(pk=retry.secret_id).state == SecretState.ACTIVE
    done = clients["Writer"].get(row_url, headers=hx)
    assert done.status_code == 286 and "Succeeded later" in done.content.decode()
    resolved = clients["Writer"].get(f"{URL}?view=resolved").content.decode()
    assert f'data-task="{failed.pk}"' in resolved and "Succeeded later" in resolved
    assert f'data-task="{failed.pk}"' not in clients["Writer"].get(URL).content.decode()


def test_a_failed_retry_shows_attempt_three_with_its_lineage(clients, failures, hx):
    failed = failures["creates"][0]
    clients["Writer"].post(reverse("secrets:task-retry", args=[failed.pk]), headers=hx)
    second = f.report_failed(SecretTask.objects.get(retry_of=failed), code="ERR10004")
    clients["Writer"].post(reverse("secrets:task-retry", args=[second.pk]), headers=hx)
    third = SecretTask.objects.get(retry_of=second)
    f.report_failed(third, code="ERR10004")
    html = clients["Writer"].get(URL).content.decode()
    assert f'data-task="{third.pk}"' in html and f'data-task="{failed.pk}"' not in html
    assert "Attempt 3 · retry of" in html and "(attempt 2) ←" in html and "(attempt 1)" in html
    # Retrying an already retried task is refused (it is resolved).
    again = clients["Writer"].post(reverse("secrets:task-retry", args=[failed.pk]), headers=hx)
    assert again.status_code == 422 and "already resolved" in again.content.decode()


def test_bulk_retry_runs_exactly_the_previewed_tasks(clients, failures):
    a, b = failures["creates"]
    delete = failures["delete"]
    preview = clients["Writer"].get(
        reverse("secrets:task-bulk-retry"), {"task": [a.pk, delete.pk], "next": URL}
    )
    html = preview.content.decode()
    assert preview.status_code == 200 and "Retry 2 failed tasks" in html
    assert a.pk in html and delete.pk in html and b.pk not in html
    body = {
        "previewed": [f"{a.pk}:{task_stamp(a)}", f"{delete.pk}:{task_stamp(fresh(delete))}"],
        "next": URL,
    }
    before = set(SecretTask.objects.values_list("pk", flat=True))
    response = clients["Writer"].post(reverse("secrets:task-bulk-retry"), body)
    assert response.status_code == 302
    new = SecretTask.objects.exclude(pk__in=before)
    assert {t.retry_of_id for t in new} == {a.pk, delete.pk}
    assert fresh(b).resolution == ""


def test_bulk_retry_refuses_everything_when_a_previewed_task_changed(clients, failures):
    a, b = failures["creates"]
    body = {"previewed": [f"{a.pk}:{task_stamp(a)}", f"{b.pk}:{task_stamp(b)}"]}
    clients["Writer"].post(
        reverse("secrets:task-note-action", args=[b.pk, "acknowledge"]), {"note": "known"}
    )
    before = SecretTask.objects.count()
    response = clients["Writer"].post(reverse("secrets:task-bulk-retry"), body)
    assert response.status_code == 422
    assert "changed since the preview, so none was retried" in response.content.decode()
    assert SecretTask.objects.count() == before and fresh(a).resolution == ""
    forged = clients["Writer"].post(reverse("secrets:task-bulk-retry"), {"previewed": ["x:y"]})
    assert forged.status_code == 422


def test_acknowledge_needs_a_note(clients, failures, hx):
    task = failures["creates"][0]
    url = reverse("secrets:task-note-action", args=[task.pk, "acknowledge"])
    assert clients["Writer"].get(url).status_code == 200
    missing = clients["Writer"].post(url, {"note": " "})
    assert missing.status_code == 422 and "short note" in missing.content.decode()
    done = clients["Writer"].post(url, {"note": "Provider outage, fixed upstream."}, headers=hx)
    assert done.status_code == 286 and "Acknowledged" in done.content.decode()
    task = fresh(task)
    assert (task.resolution, task.resolution_note) == (
        "acknowledged",
        "Provider outage, fixed upstream.",
    )
    assert AuditEvent.objects.filter(action="secret_task.acknowledge", object_id=task.pk).exists()


def test_give_up_stops_the_ladder_and_records_orphaned_credentials(clients, failures, clock):
    task = failures["delete"]
    assert retry_pending(fresh(task))
    create = failures["creates"][0]
    refused = clients["Writer"].post(
        reverse("secrets:task-note-action", args=[create.pk, "give-up"])
    )
    assert refused.status_code == 422 and "only delete tasks" in refused.content.decode()
    response = clients["Writer"].post(
        reverse("secrets:task-note-action", args=[task.pk, "give-up"]), {"note": "provider gone"}
    )
    assert response.status_code == 302
    task = fresh(task)
    assert task.resolution == TaskResolution.GAVE_UP and not retry_pending(task)
    version = SecretVersion.objects.get(pk=task.secret_version_ref)
    assert version.credentials_orphaned_at is not None
    clock.advance(days=2)
    assert sweeps.delete_retry_sweep() == "delete retries queued: 0"
    assert AuditEvent.objects.filter(action="secret_task.give_up", object_id=task.pk).exists()


def test_cancel_an_open_task(clients, group, custom_world):
    task = f.latest_task(f.custom_secret(group=group))
    assert clients["Reader"].post(reverse("secrets:task-cancel", args=[task.pk])).status_code == 403
    response = clients["Writer"].post(reverse("secrets:task-cancel", args=[task.pk]), {"next": URL})
    assert response.status_code == 302
    task = fresh(task)
    assert task.status == TaskStatus.FAILED and task.errors[0]["code"] == "task_cancelled"
    assert task.resolution == TaskResolution.ACKNOWLEDGED
    again = clients["Writer"].post(reverse("secrets:task-cancel", args=[task.pk]))
    assert again.status_code == 422


@pytest.mark.parametrize("role", ["Reader", "SecretsReader"])
def test_readers_cannot_act(clients, failures, role):
    task = failures["delete"]
    for url, body in (
        (reverse("secrets:task-retry", args=[task.pk]), {}),
        (reverse("secrets:task-note-action", args=[task.pk, "acknowledge"]), {"note": "x"}),
        (reverse("secrets:task-note-action", args=[task.pk, "give-up"]), {}),
    ):
        assert clients[role].post(url, body).status_code == 403
    assert fresh(task).resolution == ""


def test_strangers_get_404(clients, failures):
    task = failures["delete"]
    assert clients["nobody"].post(reverse("secrets:task-retry", args=[task.pk])).status_code == 404
    assert clients["nobody"].get(reverse("secrets:task-row", args=[task.pk])).status_code == 404
    preview = clients["nobody"].get(reverse("secrets:task-bulk-retry"), {"task": task.pk})
    assert task.pk not in preview.content.decode()


def test_the_ladder_countdown_moves_with_the_clock(clients, failures, clock):
    from tests.inbox.conftest import client_for

    html = clients["Reader"].get(URL).content.decode()
    assert "Next automatic retry 1 of 10 in 1 d" in html
    clock.advance(hours=17)
    assert "retry 1 of 10 in 7 h" in client_for("lc-reader").get(URL).content.decode()
    clock.advance(hours=6, minutes=30)
    assert "retry 1 of 10 in 30 min" in client_for("lc-reader").get(URL).content.decode()
    clock.advance(minutes=30)
    assert sweeps.delete_retry_sweep() == "delete retries queued: 1"
    retry = SecretTask.objects.get(retry_of=failures["delete"])
    assert fresh(failures["delete"]).resolution == TaskResolution.RETRIED
    f.report_failed(retry, code="ERR10002")
    html = client_for("lc-reader").get(URL).content.decode()
    assert "retry 2 of 10 in 1 d" in html
