"""Finding 1: nobody without the roles can mint a key for, or lock, the provider job's identity.

The attack: a staff user with no IAM role created an API key for `credentials-provider-job` on
the IAM pages, exchanged it at /identity/token and reported chosen credentials for any custom
credentials secret. Every way to mint such a key is closed here: the IAM pages, the IAM
credentials wizard (an existing service ID, or access groups) and the service itself.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.errors import AccessDeniedError
from console.identity import Actor, actor_for_user
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from secrets_app import seed
from secrets_app.models import SecretGroup
from secrets_app.services.iam_credentials import iam_credentials_secret_create
from tests.factories import create_user, grant
from tests.wizards.conftest import WizardDriver

pytestmark = pytest.mark.django_db
SETUP = Actor(iam_id="IBMid-0000000999", name="setup", system=True)


@pytest.fixture
def world():
    project = seed.seed_code_engine(actor=SETUP)
    seed.seed_iam_engine(actor=SETUP)
    seed.seed_provider_access(actor=SETUP)
    seed.seed_access_groups(actor=SETUP)
    return {
        "project": project,
        "job": ServiceId.objects.get(name=seed.JOB_SERVICE_ID),
        "group": SecretGroup.objects.get(name=seed.PROVIDER_GROUP),
    }


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_without_a_role_cannot_mint_a_key_for_the_job(world):
    staff = _client(create_user(username="staffer", is_staff=True))
    before = ApiKey.objects.count()
    response = staff.post(
        reverse("cloud:iam-api-keys"), {"service_id": world["job"].pk, "name": "mine-now"}
    )
    assert response.status_code == 403
    assert ApiKey.objects.count() == before
    assert '<pre class="secret-value">' not in response.content.decode()


def test_staff_without_a_role_cannot_lock_the_jobs_key_or_read_run_logs(world):
    staff = _client(create_user(username="staffer", is_staff=True))
    key = ApiKey.objects.filter(service_id=world["job"]).first()
    assert key is not None and not key.locked
    assert staff.post(reverse("cloud:iam-api-key-lock", args=[key.pk])).status_code == 403
    key.refresh_from_db()
    assert not key.locked
    assert staff.get(reverse("cloud:ce-runs")).status_code == 403


def test_the_nav_shows_cloud_consoles_only_to_those_who_may_open_them(world):
    staff_page = _client(create_user(username="staffer", is_staff=True)).get("/secrets/")
    html = staff_page.content.decode()
    assert reverse("cloud:iam-service-ids") not in html
    assert reverse("cloud:ce-projects") not in html
    assert reverse("admin:index") in html  # staff still reach the read-only admin
    manager_html = _client(create_user(username="mgr", manage_groups=True)).get("/secrets/")
    assert reverse("cloud:iam-service-ids") in manager_html.content.decode()


def test_a_writer_cannot_use_the_jobs_service_id_for_an_iam_credentials_secret(world):
    writer = create_user(username="writer")
    grant(writer, "Writer", group=world["group"])
    with pytest.raises(AccessDeniedError, match="SecretTaskUpdater on secret group"):
        iam_credentials_secret_create(
            actor=actor_for_user(writer),
            name="stolen-job-key",
            ttl="1h",
            service_id=world["job"].pk,
            secret_group_id=world["group"].pk,
        )
    assert not ApiKey.objects.filter(name__contains="stolen-job-key").exists()


def test_a_writer_cannot_put_a_new_service_id_into_a_privileged_access_group(world):
    ops = iam.access_group_create(actor=SETUP, name="ops-admins", description="")
    iam.policy_grant(actor=SETUP, role="Manager", access_group=ops)
    writer = create_user(username="writer")
    grant(writer, "Writer", group=world["group"])
    with pytest.raises(AccessDeniedError, match="Manager on the instance"):
        iam_credentials_secret_create(
            actor=actor_for_user(writer),
            name="ops-key",
            ttl="1h",
            access_groups=[ops.pk],
            secret_group_id=world["group"].pk,
        )
    assert not ServiceId.objects.filter(name__contains="ops-key").exists()


def test_the_iam_credentials_wizard_offers_and_accepts_only_delegable_identities(world):
    ops = iam.access_group_create(actor=SETUP, name="ops-admins", description="")
    iam.policy_grant(actor=SETUP, role="Manager", access_group=ops)
    free = iam.service_id_create(actor=SETUP, name="app-runner")
    writer = create_user(username="writer")
    grant(writer, "Writer", group=world["group"])
    w = WizardDriver(_client(writer), "iam_credentials")
    details = {"name": "deploy-key", "secret_group": world["group"].pk, "labels": ""}
    assert w.post("details", details).status_code == 302
    assert w.post("lease", {"ttl": "1h"}).status_code == 302
    assert w.post("source", {"source": "current"}).status_code == 302
    page = w.get("access").content.decode()
    assert free.name in page
    assert world["job"].name not in page and "ops-admins" not in page
    typed = w.post("access", {"service_id_other": world["job"].pk})
    assert typed.status_code == 422
    assert "holds roles that you do not hold" in typed.content.decode()
    group = w.post("access", {"access_groups": [ops.pk]})
    assert group.status_code == 422 and "cannot be assigned" in group.content.decode()


def test_a_manager_may_still_mint_and_lock_keys_for_the_job(world):
    manager = _client(create_user(username="mgr", manage_groups=True))
    response = manager.post(
        reverse("cloud:iam-api-keys"), {"service_id": world["job"].pk, "name": "rotation"}
    )
    assert response.status_code == 200 and '<pre class="secret-value">' in response.content.decode()
    key = ApiKey.objects.get(name="rotation")
    assert manager.post(reverse("cloud:iam-api-key-lock", args=[key.pk])).status_code == 302
    key.refresh_from_db()
    assert key.locked


def test_only_the_user_or_a_superuser_mints_a_users_key(world):
    alice, mallory = create_user(username="alice"), create_user(username="mallory")
    grant(mallory, "Manager")  # even a Manager cannot sign in as somebody else
    with pytest.raises(AccessDeniedError, match="user themselves"):
        iam.api_key_create(actor=actor_for_user(mallory), name="x", user=iam.iam_user_for(alice))
    key, _ = iam.api_key_create(
        actor=actor_for_user(alice), name="own", user=iam.iam_user_for(alice)
    )
    assert key.user.user == alice
