"""Secret tasks through the official SDK: list, get, the job's PUT (§4.9, §5.6) and cancel, with
every status the protocol names, and the no-retry mark that a 400 or 404 answer leaves."""

from __future__ import annotations

import uuid

import pytest

from engines_app.providers.embedded.iam import services as iam
from secrets_app.models import SecretTask, TaskStatus
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.api.conftest import SETUP, api_error
from tests.cloud_fixtures import sdk_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(cloud):
    """A custom credentials secret whose create task stays queued (no worker runs here)."""
    secret = custom_credentials_secret_create(
        actor=SETUP,
        name=f"tasks-{uuid.uuid4().hex[:8]}",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    return secret, secret.tasks.get()


@pytest.fixture
def job(cloud):
    """The provider job's own client: SecretTaskUpdater on the custom-credentials group."""
    client = sdk_for(cloud["job_service_id"], cloud["url"])
    yield client
    client.get_http_client().close()


def test_list_and_get_give_every_field(queued, reader):
    secret, task = queued
    listed = reader.list_secret_tasks(secret_id=str(secret.pk)).get_result()
    assert list(listed) == ["tasks"]  # no total_count (§2.4)
    assert [t["id"] for t in listed["tasks"]] == [task.pk]
    got = reader.get_secret_task(secret_id=str(secret.pk), id=task.pk).get_result()
    assert got == listed["tasks"][0]
    assert got["id"].startswith("sm-task-") and len(got["id"]) == 44
    assert got["type"] == "create_credentials" and got["status"] == "queued"
    assert got["trigger"] == "secret_creation" and got["secret_id"] == str(secret.pk)
    for field in ("creation_date", "last_update_date"):
        assert got[field].endswith("Z") and len(got[field]) == 24
    assert got["created_by"] and got["updated_by"]
    assert "errors" not in got


def test_the_job_reports_created_and_gets_200_with_updated_by(queued, job, cloud):
    secret, task = queued
    response = job.replace_secret_task(
        secret_id=str(secret.pk),
        id=task.pk,
        task_put={
            "status": "credentials_created",
            "credentials": {"id": "tok-1", "payload": {"token": "t"}},
        },
    )
    assert response.get_status_code() == 200
    body = response.get_result()
    assert body["status"] == "credentials_created"
    assert body["updated_by"] == cloud["job_service_id"].iam_id
    assert body["secret_version_id"]
    # A finished task accepts nothing more: 400, which the job must not retry.
    exc = api_error(
        lambda: job.replace_secret_task(
            secret_id=str(secret.pk),
            id=task.pk,
            task_put={"status": "failed", "errors": [{"code": "E1", "description": "late"}]},
        )
    )
    assert exc.status_code == 400 and "already credentials_created" in exc.message
    # The job's role reports, nothing else: cancelling needs Writer.
    exc = api_error(lambda: job.delete_secret_task(secret_id=str(secret.pk), id=task.pk))
    assert exc.status_code == 403 and "Writer" in exc.message


def test_the_job_reports_a_failure(queued, job):
    secret, task = queued
    body = job.replace_secret_task(
        secret_id=str(secret.pk),
        id=task.pk,
        task_put={"status": "failed", "errors": [{"code": "ERR10001", "description": "no user"}]},
    ).get_result()
    assert body["status"] == "failed"
    assert body["errors"] == [{"code": "ERR10001", "description": "no user"}]


def test_a_body_ninja_refuses_still_marks_the_task_no_retry(queued, job, writer):
    secret, task = queued
    exc = api_error(
        lambda: job.replace_secret_task(
            secret_id=str(secret.pk), id=task.pk, task_put={"status": "failed", "errors": []}
        )
    )
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"] == {"type": "field", "name": "errors"}
    task.refresh_from_db()
    assert task.no_retry and task.status == TaskStatus.QUEUED

    # Someone who may not update the task cannot mark it, whatever they send.
    SecretTask.objects.filter(pk=task.pk).update(no_retry=False)
    for body, status in (({"status": "nope"}, 400), ({"status": "credentials_deleted"}, 403)):
        exc = api_error(
            lambda body=body: writer.replace_secret_task(
                secret_id=str(secret.pk), id=task.pk, task_put=body
            )
        )
        assert exc.status_code == status, body
    task.refresh_from_db()
    assert not task.no_retry


def test_unknown_ids_bad_task_ids_and_roles(queued, job, reader, writer, stranger_sdk):
    secret, task = queued
    unknown_task = f"sm-task-{uuid.uuid4()}"
    exc = api_error(lambda: reader.get_secret_task(secret_id=str(secret.pk), id=unknown_task))
    assert exc.status_code == 404
    exc = api_error(
        lambda: job.replace_secret_task(
            secret_id=str(secret.pk), id=unknown_task, task_put={"status": "credentials_deleted"}
        )
    )
    assert exc.status_code == 404
    exc = api_error(lambda: reader.list_secret_tasks(secret_id=str(uuid.uuid4())))
    assert exc.status_code == 404
    exc = api_error(lambda: reader.get_secret_task(secret_id=str(secret.pk), id="task-1"))
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"] == {"type": "parameter", "name": "id"}

    # Strangers learn nothing; a Writer may not report; a Reader may not cancel.
    assert (
        api_error(lambda: stranger_sdk.list_secret_tasks(secret_id=str(secret.pk))).status_code
        == 404
    )
    exc = api_error(
        lambda: writer.replace_secret_task(
            secret_id=str(secret.pk),
            id=task.pk,
            task_put={"status": "failed", "errors": [{"code": "E", "description": "d"}]},
        )
    )
    assert exc.status_code == 403 and "secret_task.update" in exc.message
    exc = api_error(lambda: reader.delete_secret_task(secret_id=str(secret.pk), id=task.pk))
    assert exc.status_code == 403 and "Writer" in exc.message


def test_a_writer_cancels_a_queued_task(queued, writer):
    secret, task = queued
    response = writer.delete_secret_task(secret_id=str(secret.pk), id=task.pk)
    assert response.get_status_code() == 204 and response.get_result() in (None, "")
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and task.errors[0]["code"] == "task_cancelled"
    exc = api_error(lambda: writer.delete_secret_task(secret_id=str(secret.pk), id=task.pk))
    assert exc.status_code == 400 and "only queued or processing" in exc.message


def test_a_job_identity_of_another_group_cannot_report(queued, cloud):
    secret, task = queued
    other = iam.service_id_create(actor=SETUP, name="other-job")
    iam.policy_grant(
        actor=SETUP, role="SecretTaskUpdater", secret_group_id="default", service_id=other
    )
    other_job = sdk_for(other, cloud["url"])
    exc = api_error(
        lambda: other_job.replace_secret_task(
            secret_id=str(secret.pk), id=task.pk, task_put={"status": "credentials_deleted"}
        )
    )
    # Outside its scope (no role on the secret's group): as if the secret did not exist.
    assert exc.status_code == 404 and "does not exist" in exc.message
    other_job.get_http_client().close()
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED and not task.no_retry
