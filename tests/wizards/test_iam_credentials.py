"""Add secret → IAM credentials, step by step, with the Django client."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.conf import settings
from django.urls import reverse

from console.identity import Actor
from console.models import WizardDraft
from engines_app.models import ConfigType, Configuration
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessGroup, ApiKey, ServiceId
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup
from secrets_app.services import secret_version_payload_read
from secrets_app.wizards.iam_credentials import ROTATION_NEEDS_REUSE
from tests.factories import create_group, create_user, factory_actor, grant
from tests.wizards.conftest import WizardDriver

pytestmark = pytest.mark.django_db

ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
KIND = "iam_credentials"
DETAILS = {
    "name": "deploy-key",
    "description": "Key for the deploy job",
    "secret_group": "default",
    "labels": "ci, us-south",
}
LEASE = {"ttl": "30d", "reuse_api_key": "on", "auto_rotate": "on", "interval": "7", "unit": "day"}
SOURCE = {"source": "current"}
OTHER_ACCOUNT = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def cloud_iam():
    """The IAM engine, one service ID of the user's own, and the seeded access groups."""
    seed.seed_iam_engine(actor=ADMIN)
    groups = seed.seed_access_groups(actor=ADMIN)
    app = iam.service_id_create(actor=ADMIN, name="app-runner", description="The app")
    return {"app": app, "developers": groups[0], "operators": groups[1]}


def text(response) -> str:
    return html.unescape(response.content.decode())


def through_source(w: WizardDriver, *, lease: dict[str, str] | None = None) -> None:
    assert w.post("details", DETAILS).status_code == 302
    assert w.post("lease", lease or LEASE).status_code == 302
    assert w.post("source", SOURCE).status_code == 302


# --- the seed ------------------------------------------------------------------------------------


def test_seed_access_groups_is_idempotent():
    first = seed.seed_access_groups(actor=ADMIN)
    again = seed.seed_access_groups(actor=ADMIN)
    assert [g.name for g in first] == ["developers", "operators"]
    assert [g.pk for g in first] == [g.pk for g in again]
    assert AccessGroup.objects.count() == 2


# --- Details -------------------------------------------------------------------------------------


def test_details_get_invalid_valid_and_skip_ahead(wizard, cloud_iam):
    w = wizard(KIND)
    page = text(w.get("details"))
    assert "<html" in page and "Add IAM credentials" in page and 'aria-current="step"' in page
    assert "Create a secret group" in page
    assert w.get("review")["Location"] == w.url("details")
    assert w.get("lease")["Location"] == w.url("details")
    bad = w.post("details", {**DETAILS, "name": "-bad-", "labels": "x"})
    assert bad.status_code == 422
    assert "is not allowed" in text(bad) and "2 to 64 characters long" in text(bad)
    ok = w.post("details", DETAILS)
    assert ok.status_code == 302 and ok["Location"] == w.url("lease")


def test_details_name_is_unique_per_type(wizard, cloud_iam):
    from secrets_app.services.iam_credentials import iam_credentials_secret_create

    iam_credentials_secret_create(
        actor=ADMIN, name="deploy-key", ttl="1d", service_id=cloud_iam["app"].pk
    )
    response = wizard(KIND).post("details", DETAILS)
    assert response.status_code == 422
    assert "IAM credentials secret 'deploy-key' already exists" in text(response)


def test_create_a_group_in_context(wizard, cloud_iam):
    w = wizard(KIND, htmx=True)
    response = w.post(
        "details",
        {
            **DETAILS,
            "secret_group": "",
            "wizard_action": "create-group",
            "newgroup_name": "iam-team",
        },
    )
    assert response.status_code == 200 and "<html" not in response.content.decode()
    group = SecretGroup.objects.get(name="iam-team")
    assert f'<option value="{group.pk}" selected>' in response.content.decode()
    assert w.post("details", {**DETAILS, "secret_group": group.pk}).status_code == 200


# --- Lease and reuse -----------------------------------------------------------------------------


def test_lease_get_shows_the_toggle_and_why_rotation_is_off(wizard, cloud_iam):
    w = wizard(KIND)
    w.post("details", DETAILS)
    page = text(w.get("lease"))
    assert "Reuse IAM credentials until lease expires" in page
    assert "Required: from 1 minute to 90 days." in page
    assert 'aria-describedby="id_ttl_helptext"' in page and 'id="id_ttl_helptext"' in page
    assert 'aria-describedby="id_reuse_api_key_helptext"' in page
    assert 'id="id_reuse_api_key_helptext"' in page
    assert ROTATION_NEEDS_REUSE in page and 'id="rotation" disabled' in page
    assert w.get("source")["Location"] == w.url("lease")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "A lease duration (ttl) is required"),
        ({"ttl": "30s"}, "between 1 minute and 90 days"),
        ({"ttl": "91d"}, "between 1 minute and 90 days"),
        ({"ttl": "3 days"}, "is not a duration"),
        ({"ttl": "30d", "auto_rotate": "on", "interval": "7", "unit": "day"}, ROTATION_NEEDS_REUSE),
        (
            {
                "ttl": "30d",
                "reuse_api_key": "on",
                "auto_rotate": "on",
                "interval": "12",
                "unit": "hour",
            },
            "between 1 day and 3 months",
        ),
        (
            {
                "ttl": "90d",
                "reuse_api_key": "on",
                "auto_rotate": "on",
                "interval": "4",
                "unit": "month",
            },
            "between 1 day and 3 months",
        ),
        (
            {
                "ttl": "2d",
                "reuse_api_key": "on",
                "auto_rotate": "on",
                "interval": "3",
                "unit": "day",
            },
            "cannot be longer than the lease duration (2 days)",
        ),
        ({"ttl": "2d", "reuse_api_key": "on", "auto_rotate": "on"}, "Enter how often to rotate."),
    ],
)
def test_lease_invalid_is_422_with_the_message(wizard, cloud_iam, data, message):
    w = wizard(KIND)
    w.post("details", DETAILS)
    response = w.post("lease", data)
    assert response.status_code == 422
    # Beside the field, not only in the notice that explains why rotation is off.
    assert re.search(rf'<p class="field-error">[^<]*{re.escape(message)}', text(response))
    assert not w.draft.data.get("lease")


def test_lease_valid_with_and_without_reuse(wizard, cloud_iam):
    w = wizard(KIND)
    w.post("details", DETAILS)
    response = w.post("lease", {"ttl": "1m"})
    assert response.status_code == 302 and response["Location"] == w.url("source")
    page = text(w.get("lease"))
    assert 'value="1m"' in page and ROTATION_NEEDS_REUSE in page
    assert w.post("lease", LEASE).status_code == 302
    page = text(w.get("lease"))
    assert ROTATION_NEEDS_REUSE not in page and 'id="rotation" disabled' not in page
    assert 'name="reuse_api_key"' in page and "checked" in page


def test_toggling_reuse_refreshes_the_step_without_validating(wizard, cloud_iam):
    w = wizard(KIND, htmx=True)
    w.post("details", DETAILS)
    response = w.post("lease", {"ttl": "", "reuse_api_key": "on", "wizard_action": "refresh"})
    assert response.status_code == 200 and 'data-step="lease"' in response.content.decode()
    page = text(response)
    assert ROTATION_NEEDS_REUSE not in page and "is required" not in page
    off = text(w.post("lease", {"ttl": "1d", "wizard_action": "refresh"}))
    assert ROTATION_NEEDS_REUSE in off and 'value="1d"' in off


# --- Source account ------------------------------------------------------------------------------


def test_source_get_invalid_valid_and_skip_ahead(wizard, cloud_iam):
    w = wizard(KIND)
    w.post("details", DETAILS)
    assert w.get("source")["Location"] == w.url("lease")
    w.post("lease", LEASE)
    page = text(w.get("source"))
    assert "The current account" in page and "A specific account" in page
    assert settings.SM_ACCOUNT_ID in page
    assert w.get("access")["Location"] == w.url("source")

    missing = w.post("source", {"source": "specific"})
    assert missing.status_code == 422 and "Enter the ID of the account" in text(missing)
    malformed = w.post("source", {"source": "specific", "account_id": "Not-An-Account"})
    assert malformed.status_code == 422
    assert "32 lowercase letters and digits" in text(malformed)
    other = w.post("source", {"source": "specific", "account_id": OTHER_ACCOUNT})
    assert other.status_code == 422
    assert f"This installation's IAM does not manage account {OTHER_ACCOUNT}" in text(other)
    nothing = w.post("source", {})
    assert nothing.status_code == 422 and "Choose the current account" in text(nothing)

    ok = w.post("source", SOURCE)
    assert ok.status_code == 302 and ok["Location"] == w.url("access")
    own = w.post("source", {"source": "specific", "account_id": settings.SM_ACCOUNT_ID})
    assert own.status_code == 302


# --- Assign access -------------------------------------------------------------------------------


def test_access_lists_only_usable_service_ids_and_the_access_groups(wizard, cloud_iam):
    locked = iam.service_id_create(actor=ADMIN, name="locked-one")
    ServiceId.objects.filter(pk=locked.pk).update(locked=True)
    iam.service_id_create(actor=ADMIN, name="generated-one", managed=True)
    w = wizard(KIND)
    through_source(w)
    page = text(w.get("access"))
    assert f'<option value="{cloud_iam["app"].pk}">app-runner</option>' in page
    assert "locked-one" not in page and "generated-one" not in page
    assert "developers" in page and "operators" in page
    assert w.get("review")["Location"] == w.url("access")


def test_access_invalid_choices(wizard, cloud_iam):
    app = cloud_iam["app"]
    locked = iam.service_id_create(actor=ADMIN, name="locked-one")
    ServiceId.objects.filter(pk=locked.pk).update(locked=True)
    managed = iam.service_id_create(actor=ADMIN, name="generated-one", managed=True)
    w = wizard(KIND)
    through_source(w)
    cases = [
        ({}, "choose an existing service ID, or select 1 to 10 access groups"),
        (
            {"service_id": app.pk, "access_groups": [cloud_iam["developers"].pk]},
            "either a service ID or access groups, not both",
        ),
        ({"service_id_other": "ServiceId-nope"}, "ServiceId-<uuid> (46 characters)"),
        (
            {"service_id_other": "ServiceId-00000000-0000-4000-8000-000000000000"},
            "does not exist",
        ),
        ({"service_id_other": locked.pk}, "Service ID locked-one is locked"),
        ({"service_id_other": managed.pk}, "was generated by Secrets Manager for another secret"),
        (
            {"service_id": app.pk, "service_id_other": locked.pk},
            "from the list or enter one, not both",
        ),
        ({"access_groups": ["AccessGroupId-forged-1"]}, "does not exist any more"),
    ]
    for data, message in cases:
        response = w.post("access", data)
        assert response.status_code == 422, data
        assert message in text(response), (data, text(response))
    assert not w.draft.data.get("access")


def test_at_most_ten_access_groups(wizard, cloud_iam):
    extra = [iam.access_group_create(actor=ADMIN, name=f"team-{i:02d}") for i in range(9)]
    w = wizard(KIND)
    through_source(w)
    ids = [cloud_iam["developers"].pk, cloud_iam["operators"].pk, *(g.pk for g in extra)]
    response = w.post("access", {"access_groups": ids})
    assert response.status_code == 422 and "Select 1 to 10 access groups; 11 were given." in text(
        response
    )
    assert w.post("access", {"access_groups": ids[:10]}).status_code == 302


def test_access_valid_by_picking_or_typing_a_service_id(wizard, cloud_iam):
    w = wizard(KIND)
    through_source(w)
    picked = w.post("access", {"service_id": cloud_iam["app"].pk})
    assert picked.status_code == 302 and picked["Location"] == w.url("review")
    typed = w.post("access", {"service_id_other": cloud_iam["app"].pk})
    assert typed.status_code == 302


def test_back_keeps_what_was_entered(wizard, cloud_iam):
    w = wizard(KIND)
    w.post("details", DETAILS)
    w.post("lease", LEASE)
    w.post("source", {"source": "specific", "account_id": settings.SM_ACCOUNT_ID})
    w.post("access", {"access_groups": [cloud_iam["operators"].pk]})
    lease = text(w.get("lease"))
    assert 'value="30d"' in lease and 'value="7"' in lease and "checked" in lease
    source = text(w.get("source"))
    assert re.search(r"value=\"specific\"[^>]*checked", source)
    assert f'value="{settings.SM_ACCOUNT_ID}"' in source
    access = text(w.get("access"))
    assert f'value="{cloud_iam["operators"].pk}" id="id_access_groups_1" checked' in access


# --- Review and finish ---------------------------------------------------------------------------


def test_full_flow_with_a_service_id_creates_the_secret(wizard, cloud_iam):
    app = cloud_iam["app"]
    w = wizard(KIND)
    through_source(w)
    w.post("access", {"service_id": app.pk})
    review = text(w.get("review"))
    assert "deploy-key" in review and "every 7 day(s)" in review and "30 days" in review
    assert (
        f"will create an API key named Secrets-Manager-IAM-Secret-deploy-key for service ID "
        f"app-runner ({app.pk})" in review
    )
    body = json.loads(review.split("POST /api/v2/secrets", 1)[1].split("</code>", 1)[0])
    assert body == {
        "secret_type": "iam_credentials",
        "name": "deploy-key",
        "secret_group_id": "default",
        "description": "Key for the deploy job",
        "labels": ["ci", "us-south"],
        "ttl": "30d",
        "reuse_api_key": True,
        "rotation": {"auto_rotate": True, "interval": 7, "unit": "day"},
        "service_id": app.pk,
    }
    assert "engine is" not in review

    done = w.post("review", {})
    secret = Secret.objects.get(name="deploy-key")
    assert done.status_code == 302 and done["Location"] == reverse(
        "secrets:detail", args=[secret.pk]
    )
    assert secret.service_id == app.pk and secret.service_id_is_static and secret.reuse_api_key
    assert secret.ttl_seconds == 30 * 86400 and secret.labels == ["ci", "us-south"]
    assert secret.rotation == {"auto_rotate": True, "interval": 7, "unit": "day"}
    assert secret.account_id == ""
    key = ApiKey.objects.get(service_id=app)
    assert key.name == "Secrets-Manager-IAM-Secret-deploy-key"

    # The generated key was never in any draft (canary: the real value).
    payload = secret_version_payload_read(
        actor=factory_actor(), version_id=secret.versions.get().pk
    )
    drafts = json.dumps(list(WizardDraft.objects.values("data", "result_url")))
    assert payload["api_key"] not in drafts and payload["api_key_id"] not in drafts
    assert payload["api_key"] not in done.content.decode()


def test_full_flow_with_access_groups_and_a_specific_account(wizard, cloud_iam):
    groups = [cloud_iam["developers"], cloud_iam["operators"]]
    w = wizard(KIND)
    w.post("details", DETAILS)
    w.post("lease", {"ttl": "45m"})
    w.post("source", {"source": "specific", "account_id": settings.SM_ACCOUNT_ID})
    assert w.post("access", {"access_groups": [g.pk for g in groups]}).status_code == 302
    review = text(w.get("review"))
    assert "will generate a service ID in access groups developers, operators" in review
    assert "Manual rotation is not supported" in review and "45 minutes" in review
    assert f'"account_id": "{settings.SM_ACCOUNT_ID}"' in review
    assert '"reuse_api_key": false' in review and '"rotation"' not in review
    assert w.post("review", {}).status_code == 302
    secret = Secret.objects.get(name="deploy-key")
    sid = ServiceId.objects.get(pk=secret.service_id)
    assert sid.managed_by_secrets_manager and not secret.service_id_is_static
    assert set(sid.access_groups.values_list("name", flat=True)) == {"developers", "operators"}
    assert secret.account_id == settings.SM_ACCOUNT_ID and secret.rotation is None


def test_htmx_steps_are_fragments_and_finish_redirects_the_client(wizard, cloud_iam):
    w = wizard(KIND, htmx=True)
    full = WizardDriver(w.client, KIND)
    assert "<html" in full.get("details").content.decode()
    page = w.get("details")
    assert page.status_code == 200 and "<html" not in page.content.decode()
    response = w.post("details", DETAILS)
    assert response.status_code == 200 and response["HX-Push-Url"] == w.url("lease")
    assert 'data-step="lease"' in response.content.decode()
    bad = w.post("lease", {"ttl": "0"})
    assert bad.status_code == 422 and 'id="wizard-frame"' in bad.content.decode()
    w.post("lease", LEASE)
    w.post("source", SOURCE)
    w.post("access", {"access_groups": [cloud_iam["developers"].pk]})
    done = w.post("review", {})
    secret = Secret.objects.get(name="deploy-key")
    assert done.status_code == 200 and done["HX-Redirect"] == reverse(
        "secrets:detail", args=[secret.pk]
    )


def test_double_submit_creates_one_secret_and_one_key(wizard, cloud_iam):
    w = wizard(KIND)
    through_source(w)
    w.post("access", {"service_id": cloud_iam["app"].pk})
    first = w.post("review", {})
    second = w.post("review", {})
    assert first["Location"] == second["Location"]
    assert Secret.objects.filter(name="deploy-key").count() == 1
    assert ApiKey.objects.filter(service_id=cloud_iam["app"]).count() == 1


def test_stale_draft_goes_back_to_the_failing_step(wizard, cloud_iam):
    app = cloud_iam["app"]
    w = wizard(KIND)
    through_source(w)
    w.post("access", {"service_id": app.pk})
    ServiceId.objects.filter(pk=app.pk).update(locked=True)
    response = w.post("review", {})
    assert response.status_code == 302 and response["Location"] == w.url("access")
    page = text(w.get("access"))
    assert "check that step again" in page and "Service ID app-runner is locked" in page
    assert not Secret.objects.filter(name="deploy-key").exists()


def test_a_removed_access_group_sends_the_user_back(wizard, cloud_iam):
    w = wizard(KIND)
    through_source(w)
    w.post("access", {"access_groups": [cloud_iam["operators"].pk]})
    AccessGroup.objects.filter(pk=cloud_iam["operators"].pk).delete()
    response = w.post("review", {})
    assert response["Location"] == w.url("access")
    assert "does not exist any more" in text(w.get("access"))


@pytest.mark.parametrize("state", ["missing", "disabled"])
def test_without_a_usable_engine_add_shows_the_service_error(wizard, cloud_iam, state):
    w = wizard(KIND)
    through_source(w)
    w.post("access", {"service_id": cloud_iam["app"].pk})
    engines = Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS)
    if state == "missing":
        engines.delete()
    else:
        engines.update(disabled=True)
    review = text(w.get("review"))
    problem = "not configured" if state == "missing" else "disabled"
    assert f"The IAM credentials engine is {problem}, so Add will fail." in review
    assert "/engines/?tab=iam" in review
    response = w.post("review", {})
    assert response.status_code == 422
    message = text(response)
    assert "The IAM credentials engine is not configured" in message
    assert "configure it under Secrets engines → IAM credentials first" in message
    assert ("(it is disabled)" in message) == (state == "disabled")
    assert not Secret.objects.filter(name="deploy-key").exists()
    assert not ApiKey.objects.filter(service_id=cloud_iam["app"]).exists()
    # Nothing was claimed: once the engine is back, the same draft finishes.
    if state == "disabled":
        engines.update(disabled=False)
        assert w.post("review", {}).status_code == 302
        assert Secret.objects.filter(name="deploy-key").exists()


def test_the_tiles_page_explains_a_missing_engine(owner_client):
    page = text(owner_client.get(reverse("secrets:add")))
    assert "the IAM credentials engine is not configured" in page
    assert "/engines/?tab=iam" in page


# --- Permissions ---------------------------------------------------------------------------------


def test_groups_without_writer_are_hidden_and_forged_posts_get_403(client, cloud_iam):
    allowed, hidden = create_group(name="allowed-group"), create_group(name="hidden-group")
    user = create_user(username="writer")
    grant(user, "Writer", group=allowed)
    # Seen (a Reader there) but not writable: a forged choice is refused with 403.
    grant(user, "Reader", group=hidden)
    client.force_login(user)
    w = WizardDriver(client, KIND)
    page = text(w.get("details"))
    assert "allowed-group" in page and "hidden-group" not in page
    assert "Create a secret group" not in page
    assert w.post("details", {**DETAILS, "secret_group": hidden.pk}).status_code == 403
    forged = w.post(
        "details", {**DETAILS, "wizard_action": "create-group", "newgroup_name": "sneaky"}
    )
    assert forged.status_code == 403
    # With Writer on its group the whole wizard works.
    assert w.post("details", {**DETAILS, "secret_group": allowed.pk}).status_code == 302
    w.post("lease", LEASE)
    w.post("source", SOURCE)
    w.post("access", {"service_id": cloud_iam["app"].pk})
    assert w.post("review", {}).status_code == 302
    assert Secret.objects.get(name="deploy-key").secret_group_id == allowed.pk


def test_a_writer_who_lost_the_role_cannot_finish(client, cloud_iam):
    group = create_group(name="team")
    user = create_user(username="writer")
    grant(user, "Writer", group=group)
    client.force_login(user)
    w = WizardDriver(client, KIND)
    w.post("details", {**DETAILS, "secret_group": group.pk})
    w.post("lease", LEASE)
    w.post("source", SOURCE)
    w.post("access", {"service_id": cloud_iam["app"].pk})
    from engines_app.providers.embedded.iam.models import AccessPolicy

    AccessPolicy.objects.filter(user__user=user).delete()
    assert w.post("review", {}).status_code == 403
    assert not Secret.objects.filter(name="deploy-key").exists()


def test_someone_elses_draft_is_404(wizard, client, cloud_iam):
    w = wizard(KIND)
    client.force_login(create_user(username="other"))
    assert client.get(w.url("details")).status_code == 404
