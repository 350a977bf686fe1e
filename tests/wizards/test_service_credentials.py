"""Add secret → Service credentials, step by step, with the Django client."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.urls import reverse

from console.models import WizardDraft
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceAuthorization
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ResourceKey, ServiceInstance
from secrets_app.models import Secret
from secrets_app.services import secret_version_payload_read
from secrets_app.services.service_credentials import authorize_service_instance
from tests.factories import create_group, create_user, factory_actor, grant
from tests.wizards.conftest import WizardDriver

pytestmark = pytest.mark.django_db

DETAILS = {
    "name": "orders-db",
    "description": "Orders service credentials",
    "secret_group": "default",
    "labels": "prod",
}
WRITER = "crn:v1:bluemix:public:iam::::serviceRole:Writer"
OBJECT_WRITER = "crn:v1:bluemix:public:cloud-object-storage::::serviceRole:ObjectWriter"
GENERATE = {"serviceid_mode": "generate"}


@pytest.fixture
def instances() -> dict[str, ServiceInstance]:
    rc_services.seed_service_instances(actor=factory_actor())
    return {i.name: i for i in ServiceInstance.objects.all()}


def authorize(instance: ServiceInstance) -> None:
    authorize_service_instance(actor=factory_actor(), instance_crn=instance.crn)


def text(response) -> str:
    return html.unescape(response.content.decode())


def to_credentials(w: WizardDriver, instance: ServiceInstance, **details: str) -> None:
    """Details and Service instance done; authorizes through the step when it appears."""
    assert w.post("details", {**DETAILS, **details}).status_code in (200, 302)
    assert w.post("instance", {"instance": instance.crn}).status_code in (200, 302)
    if not ServiceAuthorization.objects.filter(target_resource=instance.crn).exists():
        assert w.post("authorize", {"authorize": "Key Manager"}).status_code in (200, 302)


def to_review(w: WizardDriver, instance: ServiceInstance, credentials: dict, **details: str):
    to_credentials(w, instance, **details)
    assert w.post("credentials", credentials).status_code in (200, 302)
    assert w.post("lease", {"ttl": "30d"}).status_code in (200, 302)


# ---------------------------------------------------------------------------------------------
# Details


def test_details_get_invalid_valid(wizard, instances):
    w = wizard("service_credentials")
    page = w.get("details")
    assert page.status_code == 200 and 'aria-current="step"' in page.content.decode()
    steps = re.findall(r"<li[^>]*>\s*<span>([^<]+)</span>", page.content.decode())
    assert steps == [
        "Details",
        "Service instance",
        "Authorize",
        "Credentials",
        "Lease and rotation",
        "Review",
    ]
    bad = w.post("details", {**DETAILS, "name": "-bad-"})
    assert bad.status_code == 422 and "is not allowed" in text(bad)
    good = w.post("details", DETAILS)
    assert good.status_code == 302 and good["Location"] == w.url("instance")


def test_details_rejects_the_name_of_an_existing_service_credentials_secret(wizard, instances):
    authorize(instances["postgres-orders"])
    w = wizard("service_credentials")
    to_review(w, instances["postgres-orders"], {"role": WRITER, **GENERATE})
    w.post("review", {})
    again = wizard("service_credentials")
    response = again.post("details", DETAILS)
    assert response.status_code == 422
    assert "Service credentials secret 'orders-db' already exists" in text(response)


# ---------------------------------------------------------------------------------------------
# Service instance


def test_instance_step_lists_instances_grouped_by_service(wizard, instances):
    w = wizard("service_credentials")
    assert w.get("instance")["Location"] == w.url("details")  # skip-ahead
    w.post("details", DETAILS)
    page = text(w.get("instance"))
    assert '<optgroup label="Cloud Object Storage">' in page
    assert '<optgroup label="Databases for PostgreSQL">' in page
    assert f'<option value="{instances["cos-backups"].crn}">cos-backups (global)</option>' in page
    assert 'name="crn"' in page and 'value="pick-service"' in page  # the no-JS button
    assert 'hx-post="' + w.url("instance") + '"' in page


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({}, "Select a service instance, or enter its CRN."),
        ({"crn": "not-a-crn"}, "This is not a CRN."),
        (
            {"crn": "crn:v1:bluemix:public:databases-for-redis:eu-de:a/abc:0000::"},
            "There is no service instance with this CRN.",
        ),
        ({"service": "mainframe"}, "Choose one of the listed services."),
    ],
)
def test_instance_step_errors(wizard, instances, data, field_message):
    w = wizard("service_credentials")
    w.post("details", DETAILS)
    response = w.post("instance", data)
    assert response.status_code == 422 and field_message in text(response)
    assert not w.draft.data.get("instance")


def test_instance_step_refuses_two_instances_and_a_mismatched_service(wizard, instances):
    w = wizard("service_credentials")
    w.post("details", DETAILS)
    both = w.post(
        "instance",
        {"instance": instances["cos-backups"].crn, "crn": instances["redis-sessions"].crn},
    )
    assert both.status_code == 422 and "not both" in text(both)
    mismatch = w.post(
        "instance",
        {"service": "databases-for-postgresql", "instance": instances["cos-backups"].crn},
    )
    body = text(mismatch)
    assert mismatch.status_code == 422
    assert "cos-backups is a Cloud Object Storage instance, not Databases for PostgreSQL" in body
    # The re-rendered list shows the selected service's instances only.
    assert '<optgroup label="Databases for PostgreSQL">' in body
    assert '<optgroup label="Cloud Object Storage">' not in body


def test_instance_by_crn_and_a_stale_instance(wizard, instances):
    w = wizard("service_credentials")
    w.post("details", DETAILS)
    redis = instances["redis-sessions"]
    response = w.post("instance", {"crn": redis.crn, "service": "databases-for-redis"})
    assert response.status_code == 302 and response["Location"] == w.url("authorize")
    gone = rc_services.instance_create(
        actor=factory_actor(), name="short-lived", service="appid", region="us-south"
    )
    crn = gone.crn
    gone.delete()
    stale = w.post("instance", {"instance": crn})
    assert stale.status_code == 422 and "no longer exists" in text(stale)


def test_picking_a_service_narrows_the_list_in_place(wizard, instances):
    w = wizard("service_credentials", htmx=True)
    w.post("details", DETAILS)
    response = w.post(
        "instance",
        {
            "service": "cloud-object-storage",
            "instance": instances["redis-sessions"].crn,
            "wizard_action": "pick-service",
        },
    )
    body = text(response)
    assert response.status_code == 200 and "<html" not in body
    assert '<optgroup label="Cloud Object Storage">' in body
    assert "redis-sessions" not in body
    assert '<option value="cloud-object-storage" selected>' in body
    bad = w.post("instance", {"service": "mainframe", "wizard_action": "pick-service"})
    assert bad.status_code == 422 and "Choose one of the listed services." in text(bad)


# ---------------------------------------------------------------------------------------------
# Authorize


def test_authorize_previews_the_grant_and_creates_it(wizard, instances):
    cos = instances["cos-backups"]
    w = wizard("service_credentials")
    w.post("details", DETAILS)
    assert w.get("authorize")["Location"] == w.url("instance")  # skip-ahead
    assert w.post("instance", {"instance": cos.crn})["Location"] == w.url("authorize")
    page = text(w.get("authorize"))
    assert "<dt>Source</dt><dd>Secrets Manager</dd>" in page
    assert f"Cloud Object Storage instance cos-backups (<code>{cos.crn}</code>)" in page
    # The role is a visible, labelled choice, Key Manager preselected (the docs: "select Key
    # Manager").
    assert "<legend>Role to grant</legend>" in page
    assert re.search(r'<input type="radio" name="authorize" value="Key Manager"[^>]*checked', page)
    assert '<button type="submit" class="primary">Authorize</button>' in page
    assert ">Next</button>" not in page
    assert w.get("credentials")["Location"] == w.url("authorize")  # skip-ahead
    missing = w.post("authorize", {})
    assert missing.status_code == 422 and "click Authorize" in text(missing)
    assert not ServiceAuthorization.objects.exists()
    done = w.post("authorize", {"authorize": "Key Manager"})
    assert done.status_code == 302 and done["Location"] == w.url("credentials")
    auth = ServiceAuthorization.objects.get()
    assert (auth.source_service, auth.target_service, auth.target_resource, auth.roles) == (
        "secrets-manager",
        "cloud-object-storage",
        cos.crn,
        ["Key Manager"],
    )
    # Once granted, the step is gone: its URL leads on, and the progress no longer lists it.
    assert w.get("authorize")["Location"] == w.url("credentials")
    assert "Authorize" not in text(w.get("credentials")).split("</ol>")[0]


def test_an_existing_authorization_skips_the_step(wizard, instances):
    authorize(instances["postgres-orders"])
    w = wizard("service_credentials")
    w.post("details", DETAILS)
    response = w.post("instance", {"instance": instances["postgres-orders"].crn})
    # What follows is decided after the instance is saved: the prompt is skipped outright.
    assert response.status_code == 302 and response["Location"] == w.url("credentials")
    assert w.get("credentials").status_code == 200


def test_authorizing_needs_the_manager_role(client, instances):
    user = create_user(username="writer")
    grant(user, "Writer")
    client.force_login(user)
    w = WizardDriver(client, "service_credentials")
    w.post("details", DETAILS)
    w.post("instance", {"instance": instances["appid-customer-portal"].crn})
    page = text(w.get("authorize"))
    assert "Authorizing needs the Manager role" in page
    response = w.post("authorize", {"authorize": "Key Manager"})
    assert response.status_code == 422 and "You need the Manager role" in text(response)
    assert not ServiceAuthorization.objects.exists()


def test_htmx_when_the_instance_is_already_authorized_loads_the_next_step(wizard, instances):
    authorize(instances["postgres-orders"])
    w = wizard("service_credentials", htmx=True)
    w.post("details", DETAILS)
    response = w.post("instance", {"instance": instances["postgres-orders"].crn})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-step="credentials"' in body and response["HX-Push-Url"] == w.url("credentials")
    follow = w.get("authorize")
    assert follow.status_code == 302 and follow["Location"] == w.url("credentials")


def test_changing_the_instance_asks_again_for_what_depends_on_it(wizard, instances):
    authorize(instances["postgres-orders"])
    w = wizard("service_credentials", htmx=True)
    to_credentials(w, instances["postgres-orders"])
    assert w.post("credentials", {"role": WRITER, **GENERATE}).status_code == 200
    assert "credentials" in w.draft.data
    # Back to another service's instance that is not authorized yet.
    response = w.post("instance", {"instance": instances["cos-backups"].crn})
    assert response.status_code == 200
    assert 'data-step="authorize"' in response.content.decode()
    assert response["HX-Push-Url"] == w.url("authorize")
    assert "credentials" not in w.draft.data
    assert w.get("lease").status_code == 302


# ---------------------------------------------------------------------------------------------
# Credentials


def test_credentials_offers_the_services_roles_and_none(wizard, instances):
    authorize(instances["cos-backups"])
    w = wizard("service_credentials")
    to_credentials(w, instances["cos-backups"])
    page = text(w.get("credentials"))
    assert f'<option value="{OBJECT_WRITER}">Object Writer</option>' in page
    assert '<option value="None">None' in page
    assert "Generate one automatically" in page and "HMAC credentials" in page
    postgres = wizard("service_credentials")
    authorize(instances["postgres-orders"])
    to_credentials(postgres, instances["postgres-orders"], name="other")
    page = text(postgres.get("credentials"))
    assert "Object Writer" not in page and "Operator" in page
    assert "HMAC credentials" not in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GENERATE, "Choose an IAM role, or None."),
        ({"role": OBJECT_WRITER, **GENERATE}, "does not offer that role"),
        ({"role": WRITER, "serviceid_mode": "existing"}, "Select a service ID, or enter its CRN."),
        (
            {"role": WRITER, "serviceid_mode": "existing", "serviceid_crn": "ServiceId-1"},
            "Enter a service ID CRN",
        ),
        ({"role": WRITER, **GENERATE, "hmac": "on"}, "HMAC credentials exist only for Cloud"),
    ],
)
def test_credentials_errors(wizard, instances, data, message):
    authorize(instances["postgres-orders"])
    w = wizard("service_credentials")
    to_credentials(w, instances["postgres-orders"])
    response = w.post("credentials", data)
    assert response.status_code == 422 and message in text(response)


def test_credentials_with_an_existing_service_id(wizard, instances):
    sid = iam.service_id_create(actor=factory_actor(), name="orders-sid")
    authorize(instances["postgres-orders"])
    w = wizard("service_credentials")
    to_credentials(w, instances["postgres-orders"])
    assert f"orders-sid ({sid.pk})" in text(w.get("credentials"))
    both = w.post(
        "credentials",
        {"role": "None", "serviceid_mode": "existing", "serviceid": sid.crn, "serviceid_crn": "x"},
    )
    assert both.status_code == 422 and "not both" in text(both)
    ok = w.post("credentials", {"role": "None", "serviceid_mode": "existing", "serviceid": sid.crn})
    assert ok.status_code == 302 and ok["Location"] == w.url("lease")
    w.post("lease", {})
    review = text(w.get("review"))
    assert f"Attach it to the service ID orders-sid ({sid.pk})" in review
    assert "the service ID's access policies decide" in review
    assert w.post("review", {}).status_code == 302
    secret = Secret.objects.get(name="orders-db")
    assert secret.source_service == {
        "instance": {"crn": instances["postgres-orders"].crn},
        "parameters": {"serviceid_crn": sid.crn},
    }


# ---------------------------------------------------------------------------------------------
# Lease and rotation


def test_lease_get_invalid_valid(wizard, instances):
    authorize(instances["postgres-orders"])
    w = wizard("service_credentials")
    assert w.get("lease")["Location"] == w.url("details")  # skip-ahead
    to_credentials(w, instances["postgres-orders"])
    w.post("credentials", {"role": WRITER, **GENERATE})
    assert "1 day to 90 days" in text(w.get("lease"))
    short = w.post("lease", {"ttl": "12h"})
    assert short.status_code == 422 and "between 1 day and 90 days" in text(short)
    longer = w.post("lease", {"ttl": "2d", "auto_rotate": "on", "interval": "3", "unit": "day"})
    assert longer.status_code == 422 and "cannot be longer than the lease" in text(longer)
    hourly = w.post("lease", {"auto_rotate": "on", "interval": "12", "unit": "hour"})
    assert hourly.status_code == 422 and "between 1 day and 3 months" in text(hourly)
    ok = w.post("lease", {"ttl": "0", "auto_rotate": "on", "interval": "1", "unit": "month"})
    assert ok.status_code == 302 and ok["Location"] == w.url("review")


# ---------------------------------------------------------------------------------------------
# Review and finish


def test_full_flow_without_javascript(wizard, instances):
    cos = instances["cos-backups"]
    w = wizard("service_credentials")
    assert w.get("review")["Location"] == w.url("details")  # skip-ahead
    to_review(w, cos, {"role": OBJECT_WRITER, **GENERATE, "hmac": "on"})
    review = text(w.get("review"))
    assert (
        "Create the resource key orders-db with the role Object Writer on Cloud Object Storage instance cos-backups."
        in review
    )
    assert "Generate a new service ID for the key" in review
    assert "Include HMAC keys" in review and "Lease duration" in review
    body = json.loads(review.split("POST /api/v2/secrets\n", 1)[1].split("</code>", 1)[0])
    assert body["secret_type"] == "service_credentials" and body["ttl"] == str(30 * 86400)
    assert body["source_service"] == {
        "instance": {"crn": cos.crn},
        "role": {"crn": OBJECT_WRITER},
        "parameters": {"HMAC": True},
    }
    done = w.post("review", {})
    secret = Secret.objects.get(name="orders-db")
    assert done.status_code == 302
    assert done["Location"] == reverse("secrets:detail", args=[secret.pk])
    key = ResourceKey.objects.get(name="orders-db")
    version = secret.versions.get()
    assert version.credentials_id == key.crn and secret.labels == ["prod"]
    payload = secret_version_payload_read(actor=factory_actor(), version_id=version.pk)
    # Canary: the credentials appear in no draft and in no page.
    drafts = json.dumps(list(WizardDraft.objects.values("data")))
    for value in (payload["apikey"], payload["cos_hmac_keys"]["secret_access_key"]):
        assert value not in drafts and value not in review
        assert value not in w.client.get(done["Location"]).content.decode()


def test_finish_with_htmx_redirects_the_client(wizard, instances):
    w = wizard("service_credentials", htmx=True)
    to_review(w, instances["events-orders"], {"role": WRITER, **GENERATE})
    page = w.get("review")
    assert "<html" not in page.content.decode() and 'data-step="review"' in page.content.decode()
    response = w.post("review", {})
    secret = Secret.objects.get(name="orders-db")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("secrets:detail", args=[secret.pk])


def test_full_page_without_htmx(wizard, instances):
    w = wizard("service_credentials")
    to_review(w, instances["events-orders"], {"role": WRITER, **GENERATE})
    assert "<html" in w.get("review").content.decode()


def test_double_submit_creates_one_secret_and_one_key(wizard, instances):
    w = wizard("service_credentials")
    to_review(w, instances["events-orders"], {"role": WRITER, **GENERATE})
    first, second = w.post("review", {}), w.post("review", {})
    assert first["Location"] == second["Location"]
    assert Secret.objects.filter(name="orders-db").count() == 1
    assert ResourceKey.objects.filter(name="orders-db").count() == 1


def test_a_revoked_authorization_sends_the_user_back_to_authorize(wizard, instances):
    w = wizard("service_credentials")
    to_review(w, instances["events-orders"], {"role": WRITER, **GENERATE})
    ServiceAuthorization.objects.all().delete()
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("authorize")
    page = text(w.get("authorize"))
    assert "check that step again" in page and "click Authorize" in page
    assert not Secret.objects.exists() and not ResourceKey.objects.exists()
    # Authorizing again resumes where the user was: every later step is already complete.
    assert w.post("authorize", {"authorize": "Key Manager"})["Location"] == w.url("review")
    assert w.post("review", {}).status_code == 302 and Secret.objects.count() == 1


def test_a_deleted_instance_sends_the_user_back_to_the_instance_step(wizard, instances):
    w = wizard("service_credentials")
    to_review(w, instances["appid-customer-portal"], {"role": WRITER, **GENERATE})
    ServiceInstance.objects.filter(name="appid-customer-portal").delete()
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("instance")
    assert "no longer exists" in text(w.get("instance"))
    assert not Secret.objects.exists() and not ResourceKey.objects.exists()


def test_a_name_taken_meanwhile_sends_the_user_back_to_details(wizard, instances):
    w = wizard("service_credentials")
    to_review(w, instances["events-orders"], {"role": WRITER, **GENERATE})
    other = wizard("service_credentials")
    to_review(other, instances["events-orders"], {"role": WRITER, **GENERATE})
    assert other.post("review", {}).status_code == 302
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("details")
    assert Secret.objects.filter(name="orders-db").count() == 1
    assert ResourceKey.objects.filter(name="orders-db").count() == 1


def test_a_service_error_at_finish_is_shown_on_review(wizard, instances, monkeypatch):
    from secrets_app.services import service_credentials as service
    from secrets_app.wizards import service_credentials as module

    w = wizard("service_credentials")
    to_review(w, instances["events-orders"], {"role": WRITER, **GENERATE})

    def revoked_meanwhile(**kwargs):
        raise service.AuthorizationMissingError(
            "Secrets Manager is not authorized on events-orders."
        )

    monkeypatch.setattr(module, "service_credentials_secret_create", revoked_meanwhile)
    response = w.post("review", {})
    assert response.status_code == 422
    assert "not authorized on events-orders" in text(response)
    assert not WizardDraft.objects.get(pk=w.draft_id).finished_at


def test_groups_without_writer_are_not_offered_and_forged_posts_get_403(client, instances):
    allowed, hidden = create_group(name="allowed-group"), create_group(name="hidden-group")
    user = create_user(username="writer")
    grant(user, "Writer", group=allowed)
    # Seen (a Reader there) but not writable: a forged choice is refused with 403.
    grant(user, "Reader", group=hidden)
    client.force_login(user)
    w = WizardDriver(client, "service_credentials")
    page = w.get("details").content.decode()
    assert "allowed-group" in page and "hidden-group" not in page
    assert w.post("details", {**DETAILS, "secret_group": hidden.pk}).status_code == 403
    assert not Secret.objects.exists()


def test_someone_elses_draft_is_404(wizard, client, instances):
    w = wizard("service_credentials")
    client.force_login(create_user(username="other"))
    assert client.get(w.url("details")).status_code == 404
