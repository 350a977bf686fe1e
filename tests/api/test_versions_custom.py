"""Custom credentials versions through the official SDK, with the sample token job really running:
a rotation answers with the placeholder version while its task runs, the job's report makes the
new current version, and deleting a version's data queues a delete_credentials task."""

from __future__ import annotations

import uuid

import pytest
from django_q.conf import Conf
from ibm_secrets_manager_sdk.secrets_manager_v2 import CustomCredentialsSecretVersionPrototype

from secrets_app.models import Secret, SecretTask, TaskStatus, TaskTrigger, TaskType
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.api.conftest import api_error
from tests.cloud_fixtures import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)

PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def active_token_secret(cloud) -> Secret:
    secret = custom_credentials_secret_create(
        actor=cloud["actor"],
        name=f"token-{uuid.uuid4().hex[:8]}",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    task = wait_for_task(secret.pk)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    return secret


def test_rotation_answers_the_placeholder_then_the_job_makes_the_new_version(cloud, q_sync, sdk_as):
    writer, manager = sdk_as("Writer"), sdk_as("Manager")
    secrets_reader = sdk_as("SecretsReader", cloud["group"].pk)
    secret = active_token_secret(cloud)
    sid = str(secret.pk)
    first = writer.list_secret_versions(secret_id=sid).get_result()["versions"]
    assert len(first) == 1 and first[0]["credentials_id"]

    response = writer.create_secret_version(
        secret_id=sid,
        secret_version_prototype=CustomCredentialsSecretVersionPrototype(
            version_custom_metadata={"reason": "quarterly"}
        ),
    )
    assert response.get_status_code() == 201
    placeholder = response.get_result()
    assert placeholder["id"] == PLACEHOLDER
    assert placeholder["payload_available"] is False and placeholder["credentials_content"] == {}
    assert placeholder["auto_rotated"] is False and placeholder["downloaded"] is False
    assert placeholder["secret_id"] == sid and placeholder["secret_name"] == secret.name
    assert placeholder["secret_type"] == "custom_credentials"
    assert placeholder["secret_group_id"] == cloud["group"].pk
    assert placeholder["created_by"].startswith("iam-ServiceId-")

    task = wait_for_task(secret.pk)
    assert task.type == TaskType.CREATE_CREDENTIALS
    assert task.trigger == TaskTrigger.MANUAL_SECRET_ROTATION
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    versions = writer.list_secret_versions(secret_id=sid).get_result()["versions"]
    assert [v["alias"] for v in versions] == ["previous", "current"]
    current = versions[1]
    assert current["id"] == str(task.secret_version_ref)
    assert current["version_custom_metadata"] == {"reason": "quarterly"}
    assert current["credentials_id"] and current["credentials_id"] != first[0]["credentials_id"]
    assert "credentials_content" not in current

    value = secrets_reader.get_secret_version(secret_id=sid, id="current").get_result()
    assert set(value["credentials_content"]) == {"token"} and value["downloaded"] is True

    # Deleting the previous version's data is the job's work: a delete task for that version.
    assert manager.delete_secret_version_data(secret_id=sid, id="previous").get_status_code() == 204
    deletion = wait_for_task(secret.pk)
    assert deletion.type == TaskType.DELETE_CREDENTIALS
    assert deletion.trigger == TaskTrigger.SECRET_VERSION_DATA_DELETION
    assert str(deletion.secret_version_ref) == first[0]["id"]
    assert deletion.credentials_id == first[0]["credentials_id"]
    assert deletion.status == TaskStatus.CREDENTIALS_DELETED, deletion.errors
    previous = writer.get_secret_version_metadata(secret_id=sid, id="previous").get_result()
    assert previous["payload_available"] is False
    exc = api_error(lambda: manager.delete_secret_version_data(secret_id=sid, id="previous"))
    assert exc.status_code == 400 and "no data left" in exc.message


def test_a_second_rotation_while_one_runs_is_a_conflict(cloud, q_sync, monkeypatch, sdk_as):
    writer, manager = sdk_as("Writer"), sdk_as("Manager")
    secret = active_token_secret(cloud)
    sid = str(secret.pk)
    monkeypatch.setattr(Conf, "SYNC", False)  # no worker from here on: new tasks stay queued
    writer.create_secret_version(secret_id=sid, secret_version_prototype={})
    queued = SecretTask.objects.get(secret=secret, trigger=TaskTrigger.MANUAL_SECRET_ROTATION)
    assert queued.status == TaskStatus.QUEUED
    exc = api_error(
        lambda: writer.create_secret_version(secret_id=sid, secret_version_prototype={})
    )
    assert exc.status_code == 409 and "already in progress" in exc.message

    # Asking twice for a version's data to go queues one delete task.
    for _ in range(2):
        manager.delete_secret_version_data(secret_id=sid, id="current")
    deletes = SecretTask.objects.filter(secret=secret, type=TaskType.DELETE_CREDENTIALS)
    assert deletes.count() == 1 and deletes.get().status == TaskStatus.QUEUED
