"""The custom credentials job protocol end to end: a real job process calls back over HTTP."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
from ibm_secrets_manager_sdk.secrets_manager_v2 import (
    CustomCredentialsNewCredentials,
    SecretTaskError,
    SecretTaskPrototypeUpdateSecretTaskCredentialsCreated,
    SecretTaskPrototypeUpdateSecretTaskFailed,
)

from engines_app import services as engine_services
from engines_app.models import Configuration
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
from engines_app.providers.embedded.iam import services as iam
from engines_app.sample_jobs import token_service
from secrets_app import seed
from secrets_app.models import Secret, SecretState, TaskStatus
from secrets_app.services import secret_version_payload_read
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.cloud_fixtures import sdk_for, wait_for_task, wait_until
from tests.factories import factory_actor
from tests.faults.consistency import assert_consistent

pytestmark = pytest.mark.django_db(transaction=True)


def create_secret(
    cloud, *, configuration: str, parameters: dict, name: str | None = None
) -> Secret:
    return custom_credentials_secret_create(
        actor=cloud["actor"],
        name=name or f"e2e-{uuid.uuid4().hex[:8]}",
        configuration=configuration,
        parameters=parameters,
        secret_group_id=cloud["group"].pk,
    )


def current_payload(secret: Secret) -> dict:
    version = secret.versions.get(alias="current")
    return secret_version_payload_read(actor=factory_actor(), version_id=version.pk)


def test_iam_authenticator_gets_a_token_that_authorizes_an_api_call(cloud, q_sync):
    secret = create_secret(cloud, configuration="token-provider", parameters={"user_name": "alice"})
    wait_for_task(secret.pk)
    _, value = iam.api_key_create(
        actor=cloud["actor"], name="reader", service_id=cloud["job_service_id"]
    )
    iam.policy_grant(
        actor=cloud["actor"],
        role="Reader",
        secret_group_id=cloud["group"].pk,
        service_id=cloud["job_service_id"],
    )
    authenticator = IAMAuthenticator(value, url=cloud["url"])
    token = authenticator.token_manager.get_token()
    assert token.count(".") == 2, "a JWT"
    client = sdk_for(cloud["job_service_id"], cloud["url"])
    tasks = client.list_secret_tasks(secret_id=str(secret.pk)).get_result()["tasks"]
    assert [t["status"] for t in tasks] == ["credentials_created"]


def test_certificate_job_activates_the_secret(cloud, q_sync):
    secret = create_secret(
        cloud,
        configuration="certificate-provider",
        parameters={"common_name": "e2e.example.com", "expiration_days": 30, "key_algo": "ECDSA"},
    )
    assert secret.state == SecretState.PRE_ACTIVATION
    task = wait_for_task(secret.pk)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    assert task.updated_by == cloud["job_service_id"].iam_id
    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE and secret.versions_total == 1
    payload = current_payload(secret)
    assert set(payload) == {"certificate_base64", "private_key_base64"}
    cert = x509.load_pem_x509_certificate(base64.b64decode(payload["certificate_base64"]))
    assert (
        cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "e2e.example.com"
    )
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert secret.versions.get().credentials_id == format(cert.serial_number, "x")
    # The job reports before it exits: wait for the run to finish too.
    run = wait_until(
        lambda: JobRun.objects.filter(name=task.pk).exclude(status=RunStatus.RUNNING).first(),
        what="the run to end",
    )
    assert run.status == RunStatus.SUCCEEDED and run.exit_code == 0
    assert task.pk in run.stdout, "the log names the task; only secret values are redacted"


def test_token_job_creates_an_observable_token(cloud, q_sync):
    secret = create_secret(
        cloud,
        configuration="token-provider",
        parameters={"user_name": "bob", "scope": "admin", "expires": 600},
    )
    task = wait_for_task(secret.pk)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    token = current_payload(secret)["token"]
    rows = {row["id"]: row for row in token_service.list_tokens(seed.token_service_path())}
    row = rows[secret.versions.get().credentials_id]
    assert row["user_name"] == "bob" and row["scope"] == "admin"
    assert row["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()


def test_failing_job_fails_the_task_with_the_providers_code(cloud, q_sync):
    secret = create_secret(cloud, configuration="token-provider", parameters={"user_name": "zed"})
    task = wait_for_task(secret.pk)
    assert task.status == TaskStatus.FAILED
    assert task.errors[0]["code"] == "ERR10001"
    assert "zed" in task.errors[0]["description"]
    secret.refresh_from_db()
    assert secret.state == SecretState.PRE_ACTIVATION and secret.versions_total == 0


@pytest.fixture
def sleeper(cloud):
    """A job that never reports back, behind a configuration whose timeout is 2 seconds."""
    ce.job_create(
        actor=cloud["actor"],
        project=cloud["project"],
        name="sleeper",
        command=["{python}", "-c", "import time; print('sleeping', flush=True); time.sleep(600)"],
        env={
            "SMIN_NOTE": "type:string, required:false",
            "SMOUT_VALUE": "type:string, required:true",
            "CE_REMOVE_COMPLETED_JOBS": "1d",
        },
    )
    config = engine_services.custom_configuration_create(
        actor=cloud["actor"],
        name="sleeper",
        region="us-south",
        project_id=cloud["project"].pk,
        job_name="sleeper",
        api_key_ref=str(Secret.objects.get(name=seed.JOB_KEY_SECRET).pk),
        task_timeout="5m",
    )
    # The minimum a user may set is 5 minutes; the test shortens it in the database directly.
    Configuration.objects.filter(pk=config.pk).update(task_timeout_seconds=2)
    return config


def test_hanging_job_is_killed_at_the_timeout_and_a_late_callback_is_refused(
    cloud, q_sync, sleeper
):
    secret = create_secret(cloud, configuration="sleeper", parameters={})
    task = wait_for_task(secret.pk, timeout=20)
    assert task.status == TaskStatus.FAILED
    assert task.errors[0]["code"] == "task_timeout"
    assert "task timeout" in task.errors[0]["description"]
    run = wait_until(
        lambda: JobRun.objects.filter(name=task.pk, status=RunStatus.TIMED_OUT).first(),
        what="run record",
    )
    with pytest.raises(ProcessLookupError):
        os.kill(run.pid, 0)
    assert "sleeping" in run.stdout
    # The job wakes up and reports: too late.
    client = sdk_for(cloud["job_service_id"], cloud["url"])
    late = SecretTaskPrototypeUpdateSecretTaskCredentialsCreated(
        status="credentials_created",
        credentials=CustomCredentialsNewCredentials(id="x", payload={"value": "late"}),
    )
    with pytest.raises(ApiException) as exc:
        client.replace_secret_task(secret_id=str(secret.pk), id=task.pk, task_put=late)
    assert exc.value.status_code == 400
    assert "already failed" in exc.value.message
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and Secret.objects.get(pk=secret.pk).versions_total == 0
    assert assert_consistent(secret).statuses == [TaskStatus.FAILED]


def test_callback_errors(cloud, q_sync):
    secret = create_secret(cloud, configuration="token-provider", parameters={"user_name": "carol"})
    task = wait_for_task(secret.pk)
    assert task.status == TaskStatus.CREDENTIALS_CREATED
    failed = SecretTaskPrototypeUpdateSecretTaskFailed(
        status="failed", errors=[SecretTaskError(code="X1", description="nope")]
    )
    job_client = sdk_for(cloud["job_service_id"], cloud["url"])

    # A second callback on a finished task: 400, nothing changes.
    with pytest.raises(ApiException) as exc:
        job_client.replace_secret_task(secret_id=str(secret.pk), id=task.pk, task_put=failed)
    assert exc.value.status_code == 400
    task.refresh_from_db()
    assert task.status == TaskStatus.CREDENTIALS_CREATED
    assert len(assert_consistent(secret).versions) == 1

    # An unknown task: 404.
    with pytest.raises(ApiException) as exc:
        job_client.replace_secret_task(
            secret_id=str(secret.pk), id=f"sm-task-{uuid.uuid4()}", task_put=failed
        )
    assert exc.value.status_code == 404

    # A token whose identity holds no role on the group: 404, as if the secret did not exist.
    outsider = iam.service_id_create(actor=cloud["actor"], name="outsider")
    with pytest.raises(ApiException) as exc:
        sdk_for(outsider, cloud["url"]).replace_secret_task(
            secret_id=str(secret.pk), id=task.pk, task_put=failed
        )
    assert exc.value.status_code == 404

    # No token at all: 401 with IBM's error body.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{cloud['url']}/api/v2/secrets/{secret.pk}/tasks", method="GET"
    )
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(request, timeout=10)
    assert http.value.code == 401
    assert b'"errors"' in http.value.read()


def test_through_a_real_qcluster(cloud, qcluster):
    """No inline shortcut: the broker (ORM or Redis) hands the task to a real worker process."""
    secret = create_secret(cloud, configuration="token-provider", parameters={"user_name": "demo"})
    task = wait_for_task(secret.pk, timeout=45)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    assert Secret.objects.get(pk=secret.pk).state == SecretState.ACTIVE


def test_rsa_default(cloud, q_sync):
    secret = create_secret(
        cloud, configuration="certificate-provider", parameters={"common_name": "rsa.example.com"}
    )
    assert wait_for_task(secret.pk).status == TaskStatus.CREDENTIALS_CREATED
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(current_payload(secret)["certificate_base64"])
    )
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)


def test_get_one_task_and_cancel_a_queued_one(cloud):
    # No worker and no inline mode: the task stays queued.
    secret = create_secret(cloud, configuration="token-provider", parameters={"user_name": "alice"})
    task = secret.tasks.get()
    assert task.status == TaskStatus.QUEUED
    owner = iam.service_id_create(actor=cloud["actor"], name="writer")
    iam.policy_grant(
        actor=cloud["actor"], role="Writer", secret_group_id=cloud["group"].pk, service_id=owner
    )
    client = sdk_for(owner, cloud["url"])
    got = client.get_secret_task(secret_id=str(secret.pk), id=task.pk).get_result()
    assert (
        got["status"] == "queued"
        and got["type"] == "create_credentials"
        and got["trigger"] == "secret_creation"
    )
    assert client.delete_secret_task(secret_id=str(secret.pk), id=task.pk).get_status_code() == 204
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and task.errors[0]["code"] == "task_cancelled"
    with pytest.raises(ApiException) as exc:
        client.delete_secret_task(secret_id=str(secret.pk), id=task.pk)
    assert exc.value.status_code == 400
    # The job's own identity may report but not cancel.
    with pytest.raises(ApiException) as exc:
        sdk_for(cloud["job_service_id"], cloud["url"]).delete_secret_task(
            secret_id=str(secret.pk), id=task.pk
        )
    assert exc.value.status_code == 403


def test_sweep_fails_tasks_past_their_timeout_and_late_callbacks_change_nothing(cloud):
    from datetime import timedelta

    from django.utils import timezone

    from secrets_app.models import SecretTask
    from secrets_app.services.custom_credentials import secret_tasks_sweep

    secret = create_secret(cloud, configuration="token-provider", parameters={"user_name": "alice"})
    task = secret.tasks.get()
    SecretTask.objects.filter(pk=task.pk).update(status=TaskStatus.PROCESSING)
    assert secret_tasks_sweep() == 0, "not timed out yet"
    SecretTask.objects.filter(pk=task.pk).update(
        last_update_date=timezone.now() - timedelta(minutes=11)
    )
    assert secret_tasks_sweep() == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and task.errors[0]["code"] == "task_timeout"
    late = SecretTaskPrototypeUpdateSecretTaskCredentialsCreated(
        status="credentials_created",
        credentials=CustomCredentialsNewCredentials(id="x", payload={"token": "late"}),
    )
    with pytest.raises(ApiException) as exc:
        sdk_for(cloud["job_service_id"], cloud["url"]).replace_secret_task(
            secret_id=str(secret.pk), id=task.pk, task_put=late
        )
    assert exc.value.status_code == 400
    assert Secret.objects.get(pk=secret.pk).versions_total == 0
    assert assert_consistent(secret).codes == ["task_timeout"]


def test_bad_callback_bodies_are_400_with_ibm_error_body(cloud):
    import json
    import urllib.error
    import urllib.request

    secret = create_secret(cloud, configuration="token-provider", parameters={"user_name": "alice"})
    task = secret.tasks.get()
    _, key = iam.api_key_create(
        actor=cloud["actor"], name="raw", service_id=cloud["job_service_id"]
    )
    token = IAMAuthenticator(key, url=cloud["url"]).token_manager.get_token()

    def put(body):
        request = urllib.request.Request(
            f"{cloud['url']}/api/v2/secrets/{secret.pk}/tasks/{task.pk}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    # (body, the message, the field it names): ninja refuses what is not a report at all, the
    # service what this task cannot take.
    cases = [
        (
            {"status": "done"},
            "status must be credentials_created, credentials_deleted or failed",
            "status",
        ),
        ({}, "status must be credentials_created, credentials_deleted or failed", "status"),
        ({"status": "credentials_deleted"}, "cannot report credentials_deleted", None),
        (
            {"status": "credentials_created", "credentials": {"id": "1"}},
            "credentials.payload: is required",
            "credentials.payload",
        ),
        ({"status": "credentials_created"}, "credentials: is required", "credentials"),
        (
            {"status": "credentials_deleted", "credentials": {"id": "1", "payload": {}}},
            "credentials: is not a known field here",
            "credentials",
        ),
        (
            {"status": "credentials_created", "credentials": {"id": "1", "payload": {}}},
            "token is required",
            "credentials.payload",
        ),
        (
            {"status": "credentials_created", "credentials": {"id": "1", "payload": {"token": 5}}},
            "does not match the declared format",
            "credentials.payload",
        ),
        ({"status": "failed", "errors": []}, "a failed task reports 1 to 10 errors", "errors"),
        (
            {"status": "failed", "errors": [{"code": "E1", "description": "x"}] * 11},
            "a failed task reports 1 to 10 errors",
            "errors",
        ),
        (
            {"status": "failed", "errors": [{"code": "E1"}]},
            "errors.0.description: is required",
            "errors.0.description",
        ),
    ]
    for body, message, field in cases:
        status, error = put(body)
        assert status == 400, body
        assert message in error["errors"][0]["message"], (body, error)
        assert error["errors"][0].get("target", {}).get("name") == field, (body, error)
        assert error["trace"] and error["status_code"] == 400
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED, "rejected callbacks change nothing"
    # ...but each 400 told the job not to retry, so the task no longer gets retries either.
    assert task.no_retry
