"""Test configuration: the create-then-delete round trip, its hooks, its form and its live page."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from console.identity import Actor
from engines_app.models import ConfigTestStatus, ConfigurationTest
from engines_app.providers.embedded.code_engine.models import JobRun
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceId
from engines_app.sample_jobs import token_service
from secrets_app import seed
from secrets_app.models import (
    Secret,
    SecretGroup,
    SecretState,
    SecretTask,
    TaskStatus,
    TaskTrigger,
    TaskType,
)
from secrets_app.services import config_tests
from secrets_app.services.custom_credentials import _fail, secret_task_update
from tests.cloud_fixtures import wait_until
from tests.factories import create_group, create_user, grant

ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)


def text(response) -> str:
    return html.unescape(response.content.decode())


def start_url(name: str = "token-provider") -> str:
    return reverse("config_test:start", args=[name])


# --- Without a live job: the form, the hooks, the page ----------------------------------------


@pytest.fixture
def world(db):
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key)
    sid = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    return {
        "group": SecretGroup.objects.get(name=seed.PROVIDER_GROUP),
        "job": iam.Principal(iam_id=sid.iam_id, name=sid.name, kind="service_id"),
    }


def start(world, user_name: str = "alice", **extra) -> ConfigurationTest:
    return config_tests.configuration_test_start(
        actor=ADMIN,
        configuration_name="token-provider",
        parameters={"user_name": user_name, **extra},
        secret_group_id=world["group"].pk,
    )


def report(world, test: ConfigurationTest, task_type: str, body: dict) -> SecretTask:
    task = SecretTask.objects.get(secret=test.probe, type=task_type)
    return secret_task_update(
        principal=world["job"], secret_id=test.probe_id, task_id=task.pk, body=body
    )


CREATED = {
    "status": "credentials_created",
    "credentials": {"id": "tok-1", "payload": {"token": "t0k3n-value"}},
}


@pytest.mark.django_db
def test_the_form_is_generated_from_the_schema_and_defaults_to_the_jobs_group(owner_client, world):
    page = text(owner_client.get(reverse("engines:config-detail", args=["token-provider"])))
    assert 'name="param_user_name"' in page and 'name="param_expires"' in page
    assert '<option value="admin">admin</option>' in page and 'name="param_scope"' in page
    assert "passed to the job as SM_USER_NAME_VALUE" in page
    group = world["group"]
    assert (
        f'<option value="{group.pk}" selected>custom-credentials (the job can report here)</option>'
        in page
    )


@pytest.mark.django_db
def test_start_validates_the_parameters(owner_client, world):
    group = world["group"].pk
    missing = owner_client.post(start_url(), {"secret_group": group})
    assert missing.status_code == 422 and "This field is required" in text(missing)
    bad_enum = owner_client.post(
        start_url(), {"secret_group": group, "param_user_name": "alice", "param_scope": "root"}
    )
    assert bad_enum.status_code == 422 and "Select a valid choice" in text(bad_enum)
    bad_int = owner_client.post(
        start_url(), {"secret_group": group, "param_user_name": "alice", "param_expires": "soon"}
    )
    assert bad_int.status_code == 422 and "Enter a whole number" in text(bad_int)
    assert not ConfigurationTest.objects.exists() and not Secret.objects.filter(probe=True).exists()


@pytest.mark.django_db
def test_groups_without_writer_are_not_offered_and_forged_posts_get_403(client, world):
    allowed = create_group(name="allowed-group")
    user = create_user(username="writer")
    grant(user, "Writer", group=allowed)
    # Seen (a Reader there) but not writable: a forged choice is refused with 403.
    grant(user, "Reader", group=world["group"])
    client.force_login(user)
    page = text(client.get(reverse("engines:config-detail", args=["token-provider"])))
    assert (
        "allowed-group" in page
        and "custom-credentials" not in page.split("Secret group to run in")[1][:600]
    )
    assert "It cannot report on any group you can write to" in page
    forged = client.post(
        start_url(), {"secret_group": world["group"].pk, "param_user_name": "alice"}
    )
    assert forged.status_code == 403 and not ConfigurationTest.objects.exists()


@pytest.mark.django_db
def test_without_any_writable_group_there_is_no_form(ro_client, world):
    page = text(ro_client.get(reverse("engines:config-detail", args=["token-provider"])))
    assert "You need the Writer role on a secret group to run a test" in page
    assert ">Test configuration</button>" not in page


@pytest.mark.django_db
def test_start_creates_a_hidden_probe_and_redirects_to_the_run(
    owner_client, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner_client.post(
            start_url(), {"secret_group": world["group"].pk, "param_user_name": "alice"}
        )
    test = ConfigurationTest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "config_test:detail", args=[test.pk]
    )
    assert len(callbacks) == 1, "the create task is dispatched on commit"
    probe = test.probe
    assert probe.probe and probe.name.startswith("config-test-token-provider-")
    assert probe.parameters == {"user_name": "alice"}
    assert probe.tasks.get().type == TaskType.CREATE_CREDENTIALS
    assert probe.name not in text(owner_client.get(reverse("secrets:list")))
    assert owner_client.get(reverse("secrets:detail", args=[probe.pk])).status_code == 404
    detail = text(owner_client.get(reverse("engines:config-detail", args=["token-provider"])))
    assert probe.name not in detail and "No secret uses this configuration" in detail


@pytest.mark.django_db
def test_the_hooks_drive_a_successful_round_trip(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        test = start(world)
    with django_capture_on_commit_callbacks() as callbacks:
        report(world, test, TaskType.CREATE_CREDENTIALS, CREATED)
    assert len(callbacks) == 1, "the delete task is queued on commit"
    delete = SecretTask.objects.get(secret=test.probe, type=TaskType.DELETE_CREDENTIALS)
    version = test.probe.versions.get()
    assert delete.trigger == TaskTrigger.SECRET_VERSION_DATA_DELETION
    assert delete.secret_version == version and delete.status == TaskStatus.QUEUED
    test.refresh_from_db()
    assert test.status == ConfigTestStatus.RUNNING
    assert (test.create_status, test.delete_status) == ("credentials_created", "queued")
    steps = config_tests.configuration_test_steps(test)
    assert [s.state for s in steps] == ["done", "pending"]

    report(world, test, TaskType.DELETE_CREDENTIALS, {"status": "credentials_deleted"})
    test.refresh_from_db()
    assert test.status == ConfigTestStatus.SUCCEEDED and test.finished_at is not None
    assert test.delete_status == "credentials_deleted" and test.error_code == ""
    probe = Secret.objects.get(pk=test.probe_id)
    assert probe.state == SecretState.DESTROYED
    version.refresh_from_db()
    assert not version.payload_available and not version.has_sealed_value


@pytest.mark.django_db
def test_a_failed_create_fails_the_test_and_skips_the_delete(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        test = start(world, "zed")
    failed = {
        "status": "failed",
        "errors": [
            {"code": "ERR10001", "description": "user 'zed' is not known to the token service"}
        ],
    }
    with django_capture_on_commit_callbacks() as callbacks:
        report(world, test, TaskType.CREATE_CREDENTIALS, failed)
    assert (
        callbacks == [] and not SecretTask.objects.filter(type=TaskType.DELETE_CREDENTIALS).exists()
    )
    test.refresh_from_db()
    assert test.status == ConfigTestStatus.FAILED and test.error_code == "ERR10001"
    assert "user 'zed' is not known" in test.message
    assert [s.status for s in config_tests.configuration_test_steps(test)] == ["failed", "skipped"]
    assert Secret.objects.get(pk=test.probe_id).state == SecretState.DESTROYED


@pytest.mark.django_db
def test_a_failed_delete_says_the_credentials_may_remain(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        test = start(world)
        report(world, test, TaskType.CREATE_CREDENTIALS, CREATED)
    report(
        world,
        test,
        TaskType.DELETE_CREDENTIALS,
        {"status": "failed", "errors": [{"code": "ERR10003", "description": "the store is gone"}]},
    )
    test.refresh_from_db()
    assert test.status == ConfigTestStatus.FAILED and test.error_code == "ERR10003"
    assert (
        "Credentials tok-1 were created, but deleting them failed: the store is gone"
        in test.message
    )
    assert "may still exist" in test.message
    version = Secret.objects.get(pk=test.probe_id).versions.get()
    assert not version.has_sealed_value, "a destroyed probe keeps no secret data"


@pytest.mark.django_db
def test_a_task_failed_by_the_runner_fails_the_test(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        test = start(world)
    task = SecretTask.objects.get(secret=test.probe)
    assert _fail(task.pk, code="task_timeout", description="The job did not report back in time.")
    test.refresh_from_db()
    assert test.status == ConfigTestStatus.FAILED and test.error_code == "task_timeout"
    assert "did not report back in time" in test.message


@pytest.mark.django_db
def test_the_run_page_and_its_status_fragment(
    owner_client, world, django_capture_on_commit_callbacks, hx
):
    with django_capture_on_commit_callbacks():
        test = start(world)
    url = reverse("config_test:detail", args=[test.pk])
    status_url = reverse("config_test:status", args=[test.pk])
    page = owner_client.get(url).content.decode()
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert f'hx-get="{status_url}" hx-trigger="every 1s"' in page
    assert 'data-testid="step-create">Queued' in page
    assert 'data-testid="step-delete">Waiting for the create step' in page
    running = owner_client.get(status_url, headers=hx)
    assert running.status_code == 200 and "<html" not in running.content.decode()
    with django_capture_on_commit_callbacks():
        report(world, test, TaskType.CREATE_CREDENTIALS, CREATED)
    report(world, test, TaskType.DELETE_CREDENTIALS, {"status": "credentials_deleted"})
    done = owner_client.get(status_url, headers=hx)
    body = done.content.decode()
    assert done.status_code == 286 and 'data-testid="test-status">Succeeded' in body
    assert "hx-trigger" not in body
    finished = owner_client.get(url).content.decode()
    assert (
        "http-equiv" not in finished and 'data-testid="step-delete">Credentials deleted' in finished
    )


@pytest.mark.django_db
def test_a_run_is_hidden_from_users_who_cannot_see_its_group(
    world, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        test = start(world)
    client.force_login(create_user(username="nosy"))
    assert client.get(reverse("config_test:detail", args=[test.pk])).status_code == 404
    assert client.get(reverse("config_test:status", args=[test.pk])).status_code == 404
    detail = text(client.get(reverse("engines:config-detail", args=["token-provider"])))
    assert "Recent tests" not in detail
    reader = create_user(username="group-reader")
    grant(reader, "Reader", group=world["group"])
    client.force_login(reader)
    assert client.get(reverse("config_test:detail", args=[test.pk])).status_code == 200
    detail = text(client.get(reverse("engines:config-detail", args=["token-provider"])))
    assert "Recent tests" in detail and str(test.pk) in detail


# --- Through the real token-provider job --------------------------------------------------------


@pytest.fixture
def owner_live_client(cloud):
    client = Client()
    client.force_login(create_user(username="owner", manage_groups=True))
    return client


def run_test(client: Client, cloud, user_name: str) -> ConfigurationTest:
    response = client.post(
        start_url(), {"secret_group": cloud["group"].pk, "param_user_name": user_name}
    )
    assert response.status_code == 302, text(response)
    test = ConfigurationTest.objects.get()
    return wait_until(
        lambda: (
            ConfigurationTest.objects.filter(pk=test.pk)
            .exclude(status=ConfigTestStatus.RUNNING)
            .first()
        ),
        timeout=60,
        what="the configuration test to finish",
    )


@pytest.mark.django_db(transaction=True)
def test_round_trip_through_the_token_provider_job(cloud, q_sync, owner_live_client):
    before = {row["id"] for row in token_service.list_tokens(seed.token_service_path())}
    test = run_test(owner_live_client, cloud, "alice")
    assert test.status == ConfigTestStatus.SUCCEEDED, (test.error_code, test.message)
    probe = Secret.objects.get(pk=test.probe_id)
    assert probe.state == SecretState.DESTROYED
    version = probe.versions.get()
    token_id = version.credentials_id
    assert token_id and not version.payload_available
    # The token was created in the token service (the delete run found it there)...
    delete_task = SecretTask.objects.get(secret=probe, type=TaskType.DELETE_CREDENTIALS)
    assert delete_task.status == TaskStatus.CREDENTIALS_DELETED
    run = wait_until(
        lambda: JobRun.objects.filter(name=delete_task.pk).exclude(status="running").first(),
        what="the delete run to end",
    )
    assert f"token {token_id} deleted" in run.stdout and "already deleted" not in run.stdout
    create_run = JobRun.objects.get(
        name=SecretTask.objects.get(secret=probe, type=TaskType.CREATE_CREDENTIALS).pk
    )
    assert f"token {token_id} created for user alice" in create_run.stdout
    # ...and is gone again.
    after = {row["id"] for row in token_service.list_tokens(seed.token_service_path())}
    assert token_id not in after and after <= before | {token_id}
    page = text(owner_live_client.get(reverse("config_test:detail", args=[test.pk])))
    assert "The job created credentials and deleted them again." in page


@pytest.mark.django_db(transaction=True)
def test_round_trip_with_an_unknown_user_fails_with_the_providers_error(
    cloud, q_sync, owner_live_client
):
    test = run_test(owner_live_client, cloud, "zed")
    assert test.status == ConfigTestStatus.FAILED
    assert test.error_code == "ERR10001" and "user 'zed' is not known" in test.message
    assert test.delete_status == "skipped"
    assert not SecretTask.objects.filter(
        secret_id=test.probe_id, type=TaskType.DELETE_CREDENTIALS
    ).exists()
    assert Secret.objects.get(pk=test.probe_id).state == SecretState.DESTROYED
    page = text(owner_live_client.get(reverse("config_test:detail", args=[test.pk])))
    assert 'data-testid="test-status">Failed' in page and "ERR10001" in page
