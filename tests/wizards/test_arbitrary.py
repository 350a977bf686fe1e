"""Add secret → Arbitrary, step by step, with the Django client."""

from __future__ import annotations

import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from console.models import WizardDraft
from secrets_app.models import Secret, SecretGroup
from secrets_app.services import secret_version_payload_read
from tests.factories import create_group, create_secret, create_user, factory_actor, grant

pytestmark = pytest.mark.django_db

DETAILS = {
    "name": "api-token",
    "description": "CI token",
    "secret_group": "default",
    "labels": "dev, us-south",
}


def test_start_redirects_to_details(wizard):
    w = wizard("arbitrary")
    page = w.get("details")
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert "Details" in page.content.decode() and 'aria-current="step"' in page.content.decode()


def test_details_invalid_is_422_with_messages(wizard):
    w = wizard("arbitrary", htmx=True)
    response = w.post(
        "details", {**DETAILS, "name": "-bad-", "labels": "x", "custom_metadata": '{"a": }'}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "<html" not in html and 'id="wizard-frame"' in html
    assert (
        "is not allowed" in html
        and "2 to 64 characters long" in html
        and "line 1, column 7" in html
    )


def test_details_rejects_an_existing_name_and_oversized_metadata(wizard):
    create_secret(name="taken")
    w = wizard("arbitrary")
    response = w.post(
        "details",
        {**DETAILS, "name": "taken", "version_custom_metadata": json.dumps({"k": "v" * 11000})},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Arbitrary secret &#x27;taken&#x27; already exists" in html
    assert "at most 10 KB" in html


def test_metadata_can_be_uploaded(wizard):
    w = wizard("arbitrary")
    upload = SimpleUploadedFile(
        "meta.json", b'{"owner": "team-a"}', content_type="application/json"
    )
    response = w.post("details", {**DETAILS, "custom_metadata_file": upload})
    assert response.status_code == 302
    assert w.draft.data["details"]["custom_metadata"] == ['{"owner": "team-a"}']


def test_skip_ahead_redirects_to_the_first_incomplete_step(wizard):
    w = wizard("arbitrary")
    response = w.get("review")
    assert response.status_code == 302 and response["Location"] == w.url("details")
    assert w.post("expiration", {}).status_code == 302


def test_htmx_next_renders_the_next_step_and_pushes_its_url(wizard):
    w = wizard("arbitrary", htmx=True)
    response = w.post("details", DETAILS)
    assert response.status_code == 200
    assert response["HX-Push-Url"] == w.url("expiration")
    assert 'data-step="expiration"' in response.content.decode()


def test_back_keeps_what_was_entered(wizard):
    w = wizard("arbitrary")
    w.post("details", DETAILS)
    html = w.get("details").content.decode()
    assert 'value="api-token"' in html and "CI token" in html and 'value="dev, us-south"' in html


def test_expiration_must_be_in_the_future(wizard):
    w = wizard("arbitrary")
    w.post("details", DETAILS)
    response = w.post("expiration", {"expiration_date": "2001-01-01T00:00"})
    assert response.status_code == 422 and "must be in the future" in response.content.decode()


def test_full_flow_without_javascript_creates_the_secret(wizard):
    w = wizard("arbitrary")
    assert w.post("details", DETAILS).status_code == 302
    assert w.post("expiration", {"expiration_date": "2099-01-01T00:00"}).status_code == 302
    review = html.unescape(w.get("review").content.decode())
    assert (
        "api-token" in review
        and "Equivalent API request" in review
        and '"secret_type": "arbitrary"' in review
    )
    missing = w.post("review", {"payload": ""})
    assert missing.status_code == 422 and "A secret value is required." in missing.content.decode()
    done = w.post("review", {"payload": "CANARY-wizard-value-42"})
    secret = Secret.objects.get(name="api-token")
    assert done.status_code == 302 and done["Location"] == reverse(
        "secrets:detail", args=[secret.pk]
    )
    assert secret.labels == ["dev", "us-south"] and secret.expiration_date.year == 2099
    version = secret.versions.get()
    assert (
        secret_version_payload_read(actor=factory_actor(), version_id=version.pk)
        == "CANARY-wizard-value-42"
    )
    assert "CANARY" not in json.dumps(list(WizardDraft.objects.values("data")))


def test_finish_with_htmx_redirects_the_client(wizard):
    w = wizard("arbitrary", htmx=True)
    w.post("details", DETAILS)
    w.post("expiration", {})
    upload = SimpleUploadedFile("value.txt", b"from-a-file")
    response = w.post("review", {"payload_file": upload})
    secret = Secret.objects.get(name="api-token")
    assert response.status_code == 200 and response["HX-Redirect"] == reverse(
        "secrets:detail", args=[secret.pk]
    )


def test_double_submit_creates_one_secret(wizard):
    w = wizard("arbitrary")
    w.post("details", DETAILS)
    w.post("expiration", {})
    first = w.post("review", {"payload": "one"})
    second = w.post("review", {"payload": "two"})
    assert first["Location"] == second["Location"]
    assert Secret.objects.filter(name="api-token").count() == 1


def test_a_value_error_is_not_echoed_back(wizard):
    w = wizard("arbitrary")
    w.post("details", DETAILS)
    w.post("expiration", {})
    response = w.post("review", {"payload": "x" * 1_000_001})
    assert response.status_code == 422
    assert "x" * 100 not in response.content.decode()


def test_stale_draft_goes_back_to_the_failing_step(wizard):
    group = create_group(name="short-lived")
    w = wizard("arbitrary")
    w.post("details", {**DETAILS, "secret_group": group.pk})
    w.post("expiration", {})
    SecretGroup.objects.filter(pk=group.pk).delete()
    response = w.post("review", {"payload": "value"})
    assert response.status_code == 302 and response["Location"] == w.url("details")
    page = w.get("details").content.decode()
    assert "check that step again" in page and "no longer exists" in page
    assert not Secret.objects.filter(name="api-token").exists()


def test_create_a_group_in_context_keeps_the_draft(wizard):
    w = wizard("arbitrary")
    response = w.post(
        "details",
        {
            **DETAILS,
            "secret_group": "",
            "wizard_action": "create-group",
            "newgroup_name": "made-here",
        },
    )
    assert response.status_code == 200
    group = SecretGroup.objects.get(name="made-here")
    html = response.content.decode()
    assert f'<option value="{group.pk}" selected>' in html and 'value="api-token"' in html
    bad = w.post(
        "details", {**DETAILS, "wizard_action": "create-group", "newgroup_name": "bad name!"}
    )
    assert bad.status_code == 422 and "is not allowed" in bad.content.decode()


def test_groups_without_writer_are_not_offered_and_forged_posts_get_403(client):
    allowed, hidden = create_group(name="allowed-group"), create_group(name="hidden-group")
    user = create_user(username="writer")
    grant(user, "Writer", group=allowed)
    # Seen (a Reader there) but not writable: a forged choice is refused with 403.
    grant(user, "Reader", group=hidden)
    client.force_login(user)
    from tests.wizards.conftest import WizardDriver

    w = WizardDriver(client, "arbitrary")
    html = w.get("details").content.decode()
    assert (
        "allowed-group" in html
        and "hidden-group" not in html
        and "Create a secret group" not in html
    )
    assert w.post("details", {**DETAILS, "secret_group": hidden.pk}).status_code == 403
    # A group outside the user's scope answers as one that does not exist: a field error.
    unseen = create_group(name="unseen-group")
    refused = w.post("details", {**DETAILS, "secret_group": unseen.pk})
    assert refused.status_code == 422 and "no longer exists" in refused.content.decode()
    assert (
        w.post(
            "details", {**DETAILS, "wizard_action": "create-group", "newgroup_name": "sneaky"}
        ).status_code
        == 403
    )


def test_someone_elses_draft_is_404(wizard, client):
    w = wizard("arbitrary")
    client.force_login(create_user(username="other"))
    assert client.get(w.url("details")).status_code == 404


def test_old_drafts_expire_and_are_cleaned_up(wizard):
    from datetime import timedelta

    from django.utils import timezone

    from console.tasks import cleanup_wizard_drafts

    w = wizard("arbitrary")
    WizardDraft.objects.filter(pk=w.draft_id).update(
        updated_at=timezone.now() - timedelta(hours=25)
    )
    assert w.get("details").status_code == 404
    assert cleanup_wizard_drafts() == "wizard drafts removed: 1"
    assert not WizardDraft.objects.filter(pk=w.draft_id).exists()
