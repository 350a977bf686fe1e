"""A secret's page after Add: who sees which button and may use it, Reveal (a POST, never cached,
the value in no GET), and Rotate for each type. Edit, version metadata, Delete and the table's
expiry filter are in test_lifecycle_edit_pages.py. Fixtures: tests/secrets/conftest.py."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from console.models import AuditEvent
from secrets_app.models import Secret, SecretTask, SecretVersion, TaskTrigger, TaskType
from tests.factories import create_secret
from tests.lifecycle import factories as f
from tests.secrets.conftest import CANARY

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def page(response) -> str:
    return html.unescape(response.content.decode())


def detail(secret: Secret) -> str:
    return reverse("secrets:detail", args=[secret.pk])


def url(name: str, secret: Secret) -> str:
    return reverse(f"secrets:{name}", args=[secret.pk])


def reveal(client, secret: Secret, version: str = "current", reason: str = "", **kw):
    return client.post(url("reveal", secret), {"version": version, "reason": reason}, **kw)


def revealed_values(response) -> dict[str, str]:
    """The revealed parts on a page, by the label shown beside each."""
    found = re.findall(
        r"<dt>([^<]+)</dt>\s*<dd>(?:<pre|<code) class=\"secret-value\" id=\"[^\"]+\">(.*?)</(?:pre|code)>",
        page(response),
        re.S,
    )
    return dict(found)


# ---------------------------------------------------------------------------------------------
# Who sees what, and who may do it


def test_each_role_sees_only_the_buttons_it_may_use(clients, arbitrary):
    seen = {}
    for role in ("Reader", "SecretsReader", "Writer", "Manager", "owner"):
        body = page(clients[role].get(detail(arbitrary)))
        seen[role] = {
            "reveal": 'id="reveal-form"' in body,
            "rotate": f'href="{url("rotate", arbitrary)}"' in body,
            "edit": f'href="{url("edit", arbitrary)}"' in body,
            "metadata": "the metadata of version 1" in body,
            "delete": f'href="{url("delete", arbitrary)}"' in body,
        }
    nothing = dict.fromkeys(seen["Reader"], False)
    assert seen["Reader"] == nothing
    assert seen["SecretsReader"] == {**nothing, "reveal": True}
    writer = {**nothing, "reveal": True, "rotate": True, "edit": True, "metadata": True}
    assert seen["Writer"] == writer
    assert seen["Manager"] == seen["owner"] == {**writer, "delete": True}
    assert clients["stranger"].get(detail(arbitrary)).status_code == 404


@pytest.mark.parametrize(
    ("action", "method", "allowed"),
    [
        ("reveal", "post", {"SecretsReader", "Writer", "Manager"}),
        ("rotate", "get", {"Writer", "Manager"}),
        ("rotate", "post", {"Writer", "Manager"}),
        ("edit", "get", {"Writer", "Manager"}),
        ("edit", "post", {"Writer", "Manager"}),
        ("delete", "get", {"Manager"}),
        ("delete", "post", {"Manager"}),
    ],
)
def test_each_action_checks_the_role_on_the_group(clients, group, action, method, allowed):
    for role in ("Reader", "SecretsReader", "Writer", "Manager", "stranger"):
        secret = create_secret(group=group, payload="v1")
        data = {
            "version": "current",
            "payload": "v2",
            "confirm_name": secret.name,
            "name": secret.name,
            "secret_group": group.pk,
        }
        response = getattr(clients[role], method)(url(action, secret), data)
        expected = {200, 302} if role in allowed else {404} if role == "stranger" else {403}
        assert response.status_code in expected, (role, response.status_code)
        if role not in allowed:
            assert secret.versions.count() == 1 and Secret.objects.filter(pk=secret.pk).exists()
    refused = page(clients["Reader"].post(url("reveal", secret), {"version": "current"}))
    assert "You need the SecretsReader role on secret group pages to reveal its value." in refused


def test_version_metadata_needs_writer(clients, arbitrary):
    version = arbitrary.versions.get()
    target = reverse("secrets:version-metadata", args=[arbitrary.pk, version.pk])
    data = {"version_custom_metadata": '{"by": "someone"}'}
    assert clients["SecretsReader"].post(target, data).status_code == 403
    assert clients["stranger"].post(target, data).status_code == 404
    assert clients["Writer"].get(target).status_code == 405
    version.refresh_from_db()
    assert version.version_custom_metadata == {}


# ---------------------------------------------------------------------------------------------
# Reveal


def test_reveal_without_javascript_shows_the_whole_page_with_the_value(clients, arbitrary):
    response = reveal(clients["SecretsReader"], arbitrary, reason="incident 42")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = page(response)
    assert "<html" in body and 'id="secret-details"' in body
    assert revealed_values(response) == {"Value": CANARY}
    assert 'data-copy="revealed-value"' in body and "Hide the value" in body
    assert 'http-equiv="refresh"' not in body
    event = AuditEvent.objects.get(action="secret.read_payload", object_id=str(arbitrary.pk))
    assert event.detail["reason"] == "incident 42" and event.actor_name
    arbitrary.refresh_from_db()
    assert arbitrary.downloaded and arbitrary.retrieved_at is not None
    assert CANARY not in page(clients["SecretsReader"].get(detail(arbitrary)))


def test_reveal_with_htmx_answers_the_live_part_only(clients, arbitrary):
    response = reveal(clients["Writer"], arbitrary, headers=HX)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    body = page(response)
    assert body.lstrip().startswith('<div id="secret-live"') and "<html" not in body
    assert revealed_values(response) == {"Value": CANARY}
    # This answer replaces the kept region; the ones a GET brings leave it as the browser has it.
    assert '<div id="revealed">' in body
    polled = page(clients["Writer"].get(url("status", arbitrary), headers=HX))
    assert '<div id="revealed" hx-preserve>' in polled and CANARY not in polled
    assert 'id="revealed-title" tabindex="-1" autofocus' in body


def test_the_previous_value_and_a_version_without_one(clients, arbitrary):
    for value in ("second", "third"):
        clients["Writer"].post(url("rotate", arbitrary), {"payload": value})
    assert revealed_values(reveal(clients["Writer"], arbitrary, "previous")) == {"Value": "second"}
    body = page(clients["Writer"].get(detail(arbitrary)))
    assert (
        "Reveal current value (version 3)" in body and "Reveal previous value (version 2)" in body
    )
    row = body.split('<tr id="version-1">', 1)[1].split("</tr>", 1)[0]
    assert "no: only the current and previous versions keep their payload." in row


def test_reveal_refusals_are_422_and_say_why(clients, arbitrary):
    assert (response := reveal(clients["Writer"], arbitrary, "previous")).status_code == 422
    assert "has no version previous" in page(response)
    too_long = reveal(clients["Writer"], arbitrary, reason="x" * 300, headers=HX)
    assert too_long.status_code == 422 and "no-store" in too_long["Cache-Control"]
    assert "at most 256 characters" in page(too_long) and CANARY not in page(too_long)
    Secret.objects.filter(pk=arbitrary.pk).update(state=5)
    destroyed = reveal(clients["Writer"], arbitrary)
    assert destroyed.status_code == 422 and "it has no value to read" in page(destroyed)
    assert clients["Writer"].get(url("reveal", arbitrary)).status_code == 405


def test_reveal_iam_credentials_shows_the_key_and_its_ids(clients, iam):
    response = reveal(clients["SecretsReader"], iam)
    values = revealed_values(response)
    current = iam.versions.get(alias="current")
    assert set(values) == {"API key", "API key ID", "Service ID"}
    assert values["API key ID"] == current.credentials_id and values["Service ID"] == iam.service_id
    assert iam.versions.count() == 1, "reuse on: a read issues no new key"
    body = page(response)
    assert 'data-copy="revealed-api-key"' in body and "A new API key was issued" not in body


def test_reveal_with_reuse_off_issues_a_new_key_each_time(clients, iam_reuse_off):
    first = revealed_values(reveal(clients["SecretsReader"], iam_reuse_off))["API key"]
    second_response = reveal(clients["SecretsReader"], iam_reuse_off, headers=HX)
    assert revealed_values(second_response)["API key"] != first
    assert iam_reuse_off.versions.count() == 3
    body = page(second_response)
    assert "A new API key was issued for this read: version 3." in body
    # The live part it answers shows the new version.
    assert '<tr id="version-3">' in body
    detail_page = page(clients["SecretsReader"].get(detail(iam_reuse_off)))
    assert (
        "Reveal a new API key" in detail_page and "each reveal issues a new API key" in detail_page
    )


def test_reveal_service_credentials_shows_the_json_object(clients, service):
    values = revealed_values(reveal(clients["SecretsReader"], service))
    credentials = json.loads(values["Credentials (JSON)"])
    assert isinstance(credentials, dict) and credentials


def test_reveal_custom_credentials_shows_each_field_with_a_copy_button(clients, custom):
    response = reveal(clients["SecretsReader"], custom)
    assert revealed_values(response) == {"token": "token-one"}
    assert 'data-copy="revealed-field-1" data-copy-name="token"' in page(response)


# ---------------------------------------------------------------------------------------------
# The canary: a value is in no page a GET fetches, before or after a Reveal


def get_pages(client, secret: Secret) -> dict[str, str]:
    return {
        "detail": page(client.get(detail(secret))),
        "table": page(client.get(reverse("secrets:list"))),
        "table partial": page(client.get(reverse("secrets:list") + "?q=app", headers=HX)),
        "status partial": page(client.get(url("status", secret), headers=HX)),
        "edit": page(client.get(url("edit", secret))),
        "rotate": page(client.get(url("rotate", secret))),
    }


def test_the_canary_is_in_no_get_response_before_or_after_a_reveal(clients, arbitrary):
    owner = clients["owner"]
    before = get_pages(owner, arbitrary)
    assert "app-password" in before["table"], "the pages show the secret"
    for name, body in before.items():
        assert CANARY not in body, name
    response = reveal(owner, arbitrary, reason="canary")
    assert CANARY in page(response) and "no-store" in response["Cache-Control"]
    assert CANARY in page(reveal(owner, arbitrary, headers=HX))
    for name, body in get_pages(owner, arbitrary).items():
        assert CANARY not in body, name
    # A failed rotation's page does not echo the value typed either.
    rejected = owner.post(
        url("rotate", arbitrary), {"payload": CANARY, "version_custom_metadata": "{"}
    )
    assert rejected.status_code == 422 and CANARY not in page(rejected)


# ---------------------------------------------------------------------------------------------
# Rotate


def test_rotate_an_arbitrary_secret_with_a_typed_value(clients, arbitrary):
    target = url("rotate", arbitrary)
    form = page(clients["Writer"].get(target))
    assert 'enctype="multipart/form-data"' in form and 'name="payload_file"' in form
    response = clients["Writer"].post(
        target, {"payload": "new-value", "version_custom_metadata": '{"why": "leak"}'}
    )
    assert response.status_code == 302 and response["Location"] == detail(arbitrary)
    current = arbitrary.versions.get(alias="current")
    assert (current.serial, current.version_custom_metadata) == (2, {"why": "leak"})
    assert arbitrary.versions.get(alias="previous").payload_available
    body = page(clients["Writer"].get(detail(arbitrary)))
    assert "Secret app-password rotated: version 2 is now current." in body
    assert AuditEvent.objects.filter(action="secret.rotate", object_id=str(arbitrary.pk)).exists()


def test_rotate_with_an_uploaded_file_and_htmx(clients, arbitrary):
    upload = SimpleUploadedFile("value.txt", "from a file ✓".encode())
    response = clients["Writer"].post(
        url("rotate", arbitrary), {"payload_file": upload}, headers=HX
    )
    assert response.status_code == 200 and response["HX-Redirect"] == detail(arbitrary)
    assert revealed_values(reveal(clients["Writer"], arbitrary)) == {"Value": "from a file ✓"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "payload", "Enter or upload the new value."),
        ({"payload": "x" * 1_000_001}, "payload", "at most 1 MB"),
        (
            {"payload_file": SimpleUploadedFile("big.bin", b"\xff\xfe" * 10)},
            "payload_file",
            "not UTF-8 text",
        ),
        (
            {"payload": "v", "version_custom_metadata": "[1]"},
            "version_custom_metadata",
            "JSON object",
        ),
        (
            {"payload": "v", "version_custom_metadata": "{"},
            "version_custom_metadata",
            "Not valid JSON",
        ),
    ],
)
def test_rotate_input_errors_are_422_beside_their_field(clients, arbitrary, data, field, message):
    response = clients["Writer"].post(url("rotate", arbitrary), data, headers=HX)
    assert response.status_code == 422
    body = page(response)
    assert body.lstrip().startswith('<form id="rotate-form"')
    errors = body.split(f'id="id_{field}_error"', 1)[1].split("</div>", 1)[0]
    assert message in errors
    assert 'data-testid="error-summary"' in body and "on this page" in body
    assert arbitrary.versions.count() == 1


def test_rotate_a_file_over_the_limit(clients, arbitrary):
    upload = SimpleUploadedFile("big.txt", b"a" * 1_000_001)
    response = clients["Writer"].post(url("rotate", arbitrary), {"payload_file": upload})
    assert response.status_code == 422 and "at most 1 MB" in page(response)


def test_rotate_iam_credentials_with_reuse_on(clients, iam):
    old = iam.versions.get().credentials_id
    page_ = page(clients["Writer"].get(url("rotate", iam)))
    assert 'name="payload"' not in page_ and f"service ID <code>{iam.service_id}</code>" in page_
    assert clients["Writer"].post(url("rotate", iam), {}).status_code == 302
    current = iam.versions.get(alias="current")
    assert current.serial == 2 and current.credentials_id != old


def test_rotate_is_unavailable_with_reuse_off_and_says_why(clients, iam_reuse_off):
    body = page(clients["Writer"].get(detail(iam_reuse_off)))
    assert (
        '<button type="button" class="unavailable" disabled aria-describedby="rotate-blocker">Rotate</button>'
        in body
    )
    assert "Manual rotation isn't supported when Reuse IAM credentials is off" in body
    form = page(clients["Writer"].get(url("rotate", iam_reuse_off)))
    assert 'disabled aria-describedby="rotate-blocker">Rotate</button>' in form
    refused = clients["Writer"].post(url("rotate", iam_reuse_off), {})
    assert refused.status_code == 422 and "Manual rotation isn't supported" in page(refused)
    assert iam_reuse_off.versions.count() == 1


def test_rotate_service_credentials(clients, service):
    assert (
        clients["Manager"].post(url("rotate", service), {"version_custom_metadata": ""}).status_code
        == 302
    )
    assert service.versions.get(alias="current").serial == 2


def test_rotate_custom_credentials_queues_a_task_and_the_page_follows_it(clients, custom):
    client = clients["Writer"]
    response = client.post(url("rotate", custom), {"version_custom_metadata": '{"n": 2}'})
    assert response.status_code == 302
    task = SecretTask.objects.get(secret=custom, trigger=TaskTrigger.MANUAL_SECRET_ROTATION)
    assert task.type == TaskType.CREATE_CREDENTIALS and task.version_custom_metadata == {"n": 2}
    body = page(client.get(detail(custom)))
    assert f"Rotation of partner-token started: task {task.pk}" in body
    assert "a rotation is running" in body
    # The live part polls while the rotation runs on an active secret, and refreshes without JS.
    status_url = url("status", custom)
    assert f'hx-get="{status_url}" hx-trigger="every 1s"' in body
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in body
    assert "A rotation is already in progress" in body  # Rotate is disabled meanwhile
    polled = client.get(status_url, headers=HX)
    assert polled.status_code == 200 and '<tr id="version-2">' not in page(polled)

    f.report_created(task, credentials_id="tok-2", token="token-two")
    done = client.get(status_url, headers=HX)
    assert done.status_code == 286
    body = page(done)
    assert '<tr id="version-2">' in body and "<code>tok-2</code>" in body
    assert "token-two" not in body and "hx-get" not in body
    assert revealed_values(reveal(client, custom)) == {"token": "token-two"}


def test_a_failed_rotation_shows_on_the_page(clients, custom):
    clients["Writer"].post(url("rotate", custom), {})
    rotation = SecretTask.objects.get(secret=custom, trigger=TaskTrigger.MANUAL_SECRET_ROTATION)
    f.report_failed(rotation, code="ERR-PROVIDER")
    assert Secret.objects.get(pk=custom.pk).last_rotation_failed
    body = page(clients["Reader"].get(detail(custom)))
    assert 'data-testid="rotation-failed"' in body and "The last rotation failed." in body
    assert "ERR-PROVIDER" in body
    assert SecretVersion.objects.filter(secret=custom).count() == 1
