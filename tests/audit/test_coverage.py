"""Each kind of event the audit log promises is recorded: every value read (console Reveal, API get
secret and get version, service credentials, the IAM engine's API key), every role change, every
job run (start and end), every key minted (IAM API keys, the keys an IAM credentials read
issues, the key a job run is given) and every token issued."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client

from console.identity import SYSTEM, Actor
from console.models import AuditEvent
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
from engines_app.providers.embedded.iam import policies
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.resource_controller import services as rc_services
from secrets_app.models import TaskType
from secrets_app.services.custom_credentials import JOB_ACTOR
from secrets_app.services.reading import secret_reveal
from tests.cloud_fixtures import wait_until
from tests.factories import create_secret, create_user, grant
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db


def rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- Value reads ---------------------------------------------------------------------------


def test_console_reveal_is_recorded_with_its_reason():
    user = create_user(username="revealer")
    grant(user, "SecretsReader")
    client = Client()
    client.force_login(user)
    secret = create_secret(name="reveal-me", payload="value-1")
    response = client.post(
        f"/secrets/{secret.pk}/reveal/", {"version": "current", "reason": "INC-7"}
    )
    assert response.status_code == 200 and b"value-1" in response.content
    [event] = rows("secret.read_payload")
    assert (event.actor_name, event.object_id, event.detail["reason"], event.outcome) == (
        "revealer",
        str(secret.pk),
        "INC-7",
        "allowed",
    )


def test_api_get_secret_and_get_version_are_each_recorded(api_as):
    secret = create_secret(name="api-read", payload="value-2")
    version = secret.versions.get()
    headers, sid = api_as("SecretsReader")
    client = Client()
    assert client.get(f"/api/v2/secrets/{secret.pk}", headers=headers).status_code == 200
    url = f"/api/v2/secrets/{secret.pk}/versions/{version.pk}"
    assert client.get(url, headers=headers).status_code == 200
    reads = rows("secret.read_payload")
    assert [(e.actor_id, e.channel, e.detail["version_id"]) for e in reads] == [
        (sid.iam_id, "api", str(version.pk)),
        (sid.iam_id, "api", str(version.pk)),
    ]
    # Metadata is not a value: reading it is not a value read.
    assert client.get(f"/api/v2/secrets/{secret.pk}/metadata", headers=headers).status_code == 200
    assert len(rows("secret.read_payload")) == 2


def test_service_credentials_reads_are_recorded(group, instances):
    secret = f.service_secret(group=group, instance_crn=instances["postgres-orders"].crn)
    reader = create_user(username="svc-reader")
    grant(reader, "SecretsReader", group=group)
    from engines_app.providers.iam import get_iam

    secret_reveal(principal=get_iam().principal_for_user(reader), secret_id=secret.pk)
    [read] = rows("secret.read_payload")
    assert (read.object_id, read.actor_name) == (str(secret.pk), "svc-reader")
    key = f.resource_key_of(secret.versions.get())
    rc_services.resource_key_credentials_read(actor=SYSTEM, crn=key.crn)
    [credentials] = rows("resource_key.read_credentials")
    assert (credentials.object_id, credentials.detail) == (str(key.guid), {"crn": key.crn})


def test_the_iam_engines_api_key_read_is_recorded(iam_engine, api_as):
    headers, sid = api_as("Manager")
    response = Client().get(f"/api/v2/configurations/{iam_engine.name}", headers=headers)
    assert response.status_code == 200 and response.json().get("api_key")
    [event] = rows("configuration.api_key_read")
    assert (event.actor_id, event.object_name, event.channel) == (
        sid.iam_id,
        iam_engine.name,
        "api",
    )


# --- Role changes --------------------------------------------------------------------------


def test_granting_and_revoking_a_role_are_recorded():
    user = create_user(username="grantee")
    policy = iam.policy_grant(
        actor=SYSTEM, role="Writer", secret_group_id=None, user=iam.iam_user_for(user)
    )
    policies.policy_revoke(actor=SYSTEM, policy_id=str(policy.pk))
    [granted] = rows("iam.policy.grant")
    [revoked] = rows("iam.policy.revoke")
    assert granted.object_id == revoked.object_id == str(policy.pk)
    assert revoked.detail["role"] == "Writer"


# --- Keys minted and tokens issued ---------------------------------------------------------


def test_an_api_key_minted_by_hand_is_recorded_and_its_token_exchanges_too():
    sid = iam.service_id_create(actor=SYSTEM, name="deployer")
    key, value = iam.api_key_create(actor=SYSTEM, name="ci", service_id=sid)
    [minted] = rows("iam.api_key.create")
    assert (minted.object_id, minted.detail) == (key.pk, {"owner": sid.iam_id})
    response = Client().post(
        "/identity/token",
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": value},
        REMOTE_ADDR="192.0.2.50",
    )
    token = response.json()["access_token"]
    [issued] = rows("iam.token.issue")
    assert (issued.actor_id, issued.object_id, issued.source_ip, issued.outcome) == (
        sid.iam_id,
        key.pk,
        "192.0.2.50",
        "allowed",
    )
    for event in AuditEvent.objects.all():
        assert value not in str(event.__dict__) and token not in str(event.__dict__)


def test_an_iam_credentials_read_with_reuse_off_records_the_key_it_mints(group, iam_engine):
    sid = f.service_id()
    secret = f.iam_secret(group=group, reuse=False, static_service_id=sid, ttl="1h")
    before = len(rows("iam.api_key.create"))
    reader = create_user(username="iam-reader")
    grant(reader, "SecretsReader", group=group)
    from engines_app.providers.iam import get_iam

    revealed = secret_reveal(principal=get_iam().principal_for_user(reader), secret_id=secret.pk)
    minted = rows("iam.api_key.create")[before:]
    assert [(e.object_id, e.detail["owner"]) for e in minted] == [
        (revealed.payload["api_key_id"], sid.iam_id)
    ]
    assert rows("secret.read_payload")[-1].actor_name == "iam-reader"


def test_the_key_a_job_run_is_given_is_read_on_record(custom_world):
    secret = f.custom_secret(group=custom_world["key_secret"].secret_group)
    task = f.latest_task(secret, TaskType.CREATE_CREDENTIALS)
    env = f.dispatch(task)
    assert env["SM_ACCESS_APIKEY"]
    [read] = rows("secret.read_payload")
    assert (read.actor_id, read.object_id) == (JOB_ACTOR.iam_id, str(custom_world["key_secret"].pk))
    assert read.detail["reason"] == f"access key of the job run for task {task.pk}"


# --- Job runs ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_job_run_is_recorded_when_it_starts_and_when_it_ends():
    setup = Actor(iam_id="IBMid-0000000997", name="setup", system=True)
    project = ce.project_create(
        actor=setup, name=f"audit-{uuid.uuid4().hex[:6]}", region="us-south"
    )
    canary = f"CANARY-{uuid.uuid4().hex}"
    job = ce.job_create(
        actor=setup,
        project=project,
        name="audited-job",
        command=["{python}", "-c", "import sys; sys.exit(3)"],
        env={"CE_REMOVE_COMPLETED_JOBS": "1d", "DB_PASSWORD": canary},
    )
    run = ce.job_run_start(
        project_id=project.pk,
        job_name=job.name,
        run_name="sm-task-audited",
        env={},
        timeout_seconds=60,
    )
    wait_until(
        lambda: JobRun.objects.filter(pk=run.pk, status=RunStatus.FAILED).exists(),
        what="the run to end",
    )
    wait_until(lambda: rows("code_engine.job_run.end"), what="the end's audit row")
    [start] = rows("code_engine.job_run.start")
    [end] = rows("code_engine.job_run.end")
    assert (start.object_type, start.object_id, start.actor_type, start.channel) == (
        "ce_job_run",
        "sm-task-audited",
        "system",
        "worker",
    )
    assert start.detail["job"] == "audited-job" and start.detail["timeout_seconds"] == 60
    assert (end.object_id, end.detail["status"], end.detail["exit_code"]) == (
        "sm-task-audited",
        "failed",
        3,
    )
    assert all(canary not in str(e.__dict__) for e in AuditEvent.objects.all())


def test_runs_ended_by_a_stop_or_by_the_sweep_are_recorded_as_ended():
    setup = Actor(iam_id="IBMid-0000000997", name="setup", system=True)
    project = ce.project_create(actor=setup, name=f"lost-{uuid.uuid4().hex[:6]}", region="us-south")
    job = ce.job_create(
        actor=setup, project=project, name="never", command=["{python}", "-c", "pass"], env={}
    )
    # Runs recorded but never handed to a supervisor (as when its process went away).
    past = datetime(2000, 1, 1, tzinfo=UTC)
    stopped, lost = (
        JobRun.objects.create(project=project, job=job, name=name, timeout_seconds=1, deadline=past)
        for name in ("sm-task-stopped", "sm-task-lost")
    )
    assert ce.job_run_stop(project_id=project.pk, run_name=stopped.name)
    ce.job_runs_cleanup()
    ends = {
        e.object_id: (e.detail["status"], e.detail["note"]) for e in rows("code_engine.job_run.end")
    }
    assert ends == {
        "sm-task-stopped": ("failed", "stopped"),
        "sm-task-lost": ("timed_out", "never started"),
    }
