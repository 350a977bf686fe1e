"""Console pages of the embedded cloud: IAM and Code Engine (Manager on the instance only)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.identity import Actor
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, JobRun, RunStatus
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from secrets_app import seed
from tests.factories import create_user

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)


@pytest.fixture
def manager_client() -> Client:
    """The cloud's administrator: Manager on the whole instance."""
    client = Client()
    client.force_login(create_user(username="cloud-admin", manage_groups=True))
    return client


@pytest.fixture
def staff_client() -> Client:
    """Staff (may open the read-only Django admin), but holds no IAM role."""
    client = Client()
    client.force_login(create_user(username="staffer", is_staff=True))
    return client


@pytest.fixture
def world():
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    seed.seed_provider_access(actor=ADMIN)
    return project


PAGES = [
    "cloud:iam-service-ids",
    "cloud:iam-access-groups",
    "cloud:iam-api-keys",
    "cloud:iam-authorizations",
    "cloud:ce-projects",
    "cloud:ce-runs",
]


@pytest.mark.parametrize("name", PAGES)
def test_pages_render_for_managers_and_not_for_others(
    manager_client, staff_client, ro_client, client, world, name
):
    assert manager_client.get(reverse(name)).status_code == 200
    # Staff without a role, and a Reader on the whole instance, are refused with the reason.
    for other in (staff_client, ro_client):
        response = other.get(reverse(name))
        assert response.status_code == 403
        assert "Manager role on this instance" in response.content.decode()
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_iam_pages_show_the_seeded_identities(manager_client, world):
    html = manager_client.get(reverse("cloud:iam-service-ids")).content.decode()
    assert seed.JOB_SERVICE_ID in html and "SecretTaskUpdater on custom-credentials" in html
    auth = manager_client.get(reverse("cloud:iam-authorizations")).content.decode()
    assert "codeengine" in auth and "Viewer" in auth and "Writer" in auth


def test_api_key_is_shown_once(manager_client, world, client):
    sid = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    response = manager_client.post(
        reverse("cloud:iam-api-keys"), {"service_id": sid.pk, "name": "from-the-console"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    value = html.split('<pre class="secret-value"><code>')[1].split("</code>")[0]
    assert len(value) == 44
    token = client.post(
        reverse("iam-token"),
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": value},
    )
    assert token.status_code == 200
    assert value not in manager_client.get(reverse("cloud:iam-api-keys")).content.decode()


def test_api_key_create_errors_are_422(manager_client, world):
    response = manager_client.post(reverse("cloud:iam-api-keys"), {"service_id": "", "name": ""})
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()


def test_lock_and_unlock(manager_client, world):
    # (Keys that Secrets Manager issues for IAM credentials secrets are protected: not this one.)
    key = ApiKey.objects.filter(protected=False).first()
    manager_client.post(reverse("cloud:iam-api-key-lock", args=[key.pk]))
    key.refresh_from_db()
    assert key.locked
    manager_client.post(reverse("cloud:iam-api-key-lock", args=[key.pk]))
    key.refresh_from_db()
    assert not key.locked


def test_create_service_id(manager_client, world):
    assert (
        manager_client.post(
            reverse("cloud:iam-service-ids"), {"name": "", "description": ""}
        ).status_code
        == 422
    )
    assert (
        manager_client.post(reverse("cloud:iam-service-ids"), {"name": "ci-bot"}).status_code == 302
    )
    assert ServiceId.objects.filter(name="ci-bot").exists()


def test_job_page_shows_the_schema_or_the_declaration_errors(manager_client, world):
    html = manager_client.get(
        reverse("cloud:ce-job", args=[world.pk, "certificate-provider"])
    ).content.decode()
    assert "SM_COMMON_NAME_VALUE" in html and "type:enum[RSA|ECDSA], required:false" in html
    ce.job_create(
        actor=ADMIN, project=world, name="broken", command=["true"], env={"SMIN_x": "type:string"}
    )
    html = manager_client.get(reverse("cloud:ce-job", args=[world.pk, "broken"])).content.decode()
    assert "declarations are invalid" in html and "SMIN_x: names must be" in html


def test_run_page_shows_logs(manager_client, world):
    job = Job.objects.get(name="token-provider")
    run = JobRun.objects.create(
        name="sm-task-00000000-0000-0000-0000-000000000001",
        project=world,
        job=job,
        status=RunStatus.FAILED,
        timeout_seconds=600,
        exit_code=1,
        stdout="hello from the job",
        stderr="something went wrong",
    )
    html = manager_client.get(reverse("cloud:ce-run", args=[run.pk])).content.decode()
    assert "hello from the job" in html and "something went wrong" in html and "exit code 1" in html
    assert run.name in manager_client.get(reverse("cloud:ce-runs")).content.decode()


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("SM_ACCESS_APIKEY", True),
        ("DB_PASSWORD", True),
        ("GITHUB_TOKEN", True),
        ("CLIENT_SECRET", True),
        ("SM_SECRET_TASK_ID", False),
        ("SM_SECRET_ID", False),
        ("SMOUT_TOKEN", False),
        ("TOKEN_SERVICE_DB", False),
        ("SM_ACCESS_APIKEY_REF", False),
    ],
)
def test_which_job_variables_are_secret(name, secret):
    from engines_app.providers.embedded.code_engine.services import is_secret_env_name

    assert is_secret_env_name(name) is secret


def test_job_page_masks_secret_variables_only(manager_client, world):
    ce.job_create(
        actor=ADMIN,
        project=world,
        name="with-secret",
        command=["true"],
        env={"DB_PASSWORD": "hunter2-hunter2", "REGION": "eu"},
    )
    html = manager_client.get(
        reverse("cloud:ce-job", args=[world.pk, "with-secret"])
    ).content.decode()
    assert "hunter2-hunter2" not in html and "eu" in html
