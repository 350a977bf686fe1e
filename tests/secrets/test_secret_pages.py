"""Add a secret (one radio group, one Next) and a secret's page (metadata as JSON; the part that
its tasks change is served live and stops polling once the task has ended)."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from console.identity import Actor
from console.models import WizardDraft
from engines_app.providers.embedded.iam.models import ServiceId
from engines_app.providers.embedded.iam.services import Principal
from engines_app.providers.embedded.resource_controller import services as rc_services
from secrets_app import seed
from secrets_app.models import SecretGroup
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_update,
)
from tests.factories import create_secret, create_user, grant

pytestmark = pytest.mark.django_db
ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
ADD = "/secrets/new/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def radios(page: str) -> dict[str, str]:
    """value -> the radio's attributes, for the tiles' radio group."""
    return dict(
        re.findall(r'<input type="radio" name="secret_type" value="([a-z_]+)"([^>]*)>', page, re.S)
    )


# ---------------------------------------------------------------------------------------------
# Add a secret


def test_the_tiles_are_one_radio_group_with_one_next(owner_client):
    page = text(owner_client.get(reverse("secrets:add")))
    assert page.count("<form") == 2  # the tiles, and Sign out in the navigation
    assert page.count(">Next</button>") == 1
    options = radios(page)
    assert list(options) == [
        "custom_credentials",
        "iam_credentials",
        "service_credentials",
        "arbitrary",
    ]
    # Nothing is configured yet: three types are unavailable, each with its reason and a link.
    for kind in ("custom_credentials", "iam_credentials", "service_credentials"):
        assert "disabled" in options[kind], kind
        assert f'aria-describedby="tile-{kind}-about tile-{kind}-problem"' in options[kind]
    assert "disabled" not in options["arbitrary"]
    assert "Unavailable: there is no custom credentials configuration yet." in page
    assert "the IAM credentials engine is not configured" in page
    assert '<a href="/engines/?tab=iam">Configure the IAM credentials engine</a>' in page
    # Each whole card is the label of its radio.
    assert re.search(r'<label class="tile-choice" for="id_secret_type_3">', page)
    assert 'id="id_secret_type_3"' in page


def test_next_starts_the_chosen_wizard_without_javascript(owner_client):
    response = owner_client.post(ADD, {"secret_type": "arbitrary"})
    assert response.status_code == 302
    draft = WizardDraft.objects.get(kind="arbitrary")
    assert response["Location"] == reverse("wizard-step", args=["arbitrary", draft.pk, "details"])


def test_next_with_htmx_redirects_the_browser(owner_client, hx):
    response = owner_client.post(ADD, {"secret_type": "arbitrary"}, headers=hx)
    draft = WizardDraft.objects.get(kind="arbitrary")
    assert response["HX-Redirect"] == reverse(
        "wizard-step", args=["arbitrary", draft.pk, "details"]
    )


def test_next_without_a_choice_or_with_an_unavailable_one_is_422(owner_client):
    nothing = owner_client.post(ADD, {})
    assert nothing.status_code == 422
    page = text(nothing)
    assert 'role="alert"' in page and "Choose the type of secret to add, then click Next." in page
    assert 'href="#id_secret_type_0"' in page and 'aria-invalid="true"' in page
    assert 'id="id_secret_type_error"' in page
    unavailable = owner_client.post(ADD, {"secret_type": "iam_credentials"})
    assert unavailable.status_code == 422
    assert "IAM credentials secrets are unavailable: the IAM credentials engine" in text(
        unavailable
    )
    # The choice made is kept on the page shown again.
    assert 'value="arbitrary"' in text(nothing)
    assert not WizardDraft.objects.exists()


def test_the_tiles_follow_what_is_configured(owner_client):
    seed.seed_iam_engine(actor=ADMIN)
    rc_services.seed_service_instances(actor=ADMIN)
    options = radios(text(owner_client.get(ADD)))
    assert "disabled" not in options["iam_credentials"]
    assert "disabled" not in options["service_credentials"]
    assert owner_client.post(ADD, {"secret_type": "service_credentials"}).status_code == 302


def test_someone_without_a_writable_group_cannot_start(client):
    reader = create_user(username="reader")
    grant(reader, "Reader")
    client.force_login(reader)
    page = text(client.get(ADD))
    assert "you need the Writer role on a group" in page
    assert all("disabled" in attrs for attrs in radios(page).values())
    assert client.post(ADD, {"secret_type": "arbitrary"}).status_code == 403
    assert not WizardDraft.objects.exists()


# ---------------------------------------------------------------------------------------------
# A secret's page


def test_metadata_is_shown_as_escaped_json(owner_client):
    secret = create_secret(
        name="with-metadata",
        custom_metadata={"owner": "x", "demo": True, "note": "<script>alert(1)</script>"},
        version_custom_metadata={"reason": "initial"},
    )
    page = owner_client.get(reverse("secrets:detail", args=[secret.pk])).content.decode()
    block = page.split('data-testid="secret-metadata">', 1)[1].split("</pre>", 1)[0]
    assert block == (
        "{\n  &quot;demo&quot;: true,\n  &quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script"
        "&gt;&quot;,\n  &quot;owner&quot;: &quot;x&quot;\n}"
    )
    assert "{'owner'" not in page and "True" not in block and "<script>alert" not in page
    assert "<code>{&quot;reason&quot;: &quot;initial&quot;}</code>" in page


@pytest.fixture
def pending_secret():
    """A custom credentials secret whose create task is queued (no worker runs here)."""
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key)
    return custom_credentials_secret_create(
        actor=ADMIN,
        name="live-token",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )


def test_the_live_part_covers_versions_and_tasks_and_stops_when_done(
    owner_client, hx, pending_secret
):
    status_url = reverse("secrets:status", args=[pending_secret.pk])
    detail_url = reverse("secrets:detail", args=[pending_secret.pk])
    page = owner_client.get(detail_url).content.decode()
    # The page polls one part, which holds everything a task changes, and refreshes without JS.
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    live = page.split('<div id="secret-live"', 1)[1]
    assert f'hx-get="{status_url}" hx-trigger="every 1s" hx-swap="outerHTML"' in live
    assert all(
        part in live for part in ('id="secret-status"', 'id="version-table"', 'id="task-table"')
    )
    assert '<div id="live-status"' in page.split('<div id="secret-live"', 1)[0]

    polled = owner_client.get(status_url, headers=hx)
    assert polled.status_code == 200
    body = text(polled)
    assert body.lstrip().startswith('<div id="secret-live"') and "<html" not in body
    assert "No version yet." in body and "<td>Queued</td>" in body
    assert 'data-announce="State: Pre-activation. Latest task: Queued."' in body

    task = pending_secret.tasks.get()
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    canary = "CANARY-live-partial-token"
    secret_task_update(
        principal=Principal(iam_id=job.iam_id, name=job.name, kind="service_id"),
        secret_id=pending_secret.pk,
        task_id=task.pk,
        body={
            "status": "credentials_created",
            "credentials": {"id": "tok-live", "payload": {"token": canary}},
        },
    )
    done = owner_client.get(status_url, headers=hx)
    assert done.status_code == 286  # htmx stops polling
    body = text(done)
    assert "No version yet." not in body and "<td>Credentials created</td>" in body
    assert "<code>tok-live</code>" in body and "hx-get" not in body
    assert 'data-announce="State: Active. Latest task: Credentials created."' in body
    assert canary not in body, "the live part never holds a secret value"
    page = owner_client.get(detail_url).content.decode()
    assert 'http-equiv="refresh"' not in page and canary not in page
    assert "no-store" in done["Cache-Control"]
