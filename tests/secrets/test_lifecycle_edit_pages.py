"""Edit (metadata, group, rotation settings and ttl, expiration, parameters), a version's metadata,
Delete (typed name, force, a secret in use), and what the page and the table show of leases and
rotation. Fixtures: tests/secrets/conftest.py."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.models import AuditEvent
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from secrets_app.models import Secret, SecretLock, SecretState, SecretTask, TaskType
from tests.factories import create_group, create_secret, grant
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def page(response) -> str:
    return html.unescape(response.content.decode())


def url(name: str, secret: Secret) -> str:
    return reverse(f"secrets:{name}", args=[secret.pk])


def field_errors(body: str, field: str) -> str:
    return body.split(f'id="id_{field}_error"', 1)[1].split("</div>", 1)[0]


def edit_data(secret: Secret, **changes: object) -> dict[str, object]:
    """The edit form as the page fills it, with `changes` typed over it."""
    data: dict[str, object] = {
        "name": secret.name,
        "description": secret.description,
        "secret_group": secret.secret_group_id,
        "labels": ", ".join(secret.labels),
        "custom_metadata": "",
    }
    return {**data, **changes}


# ---------------------------------------------------------------------------------------------
# Edit


def test_edit_details_and_move_the_secret(clients, group, arbitrary):
    other = create_group(name="elsewhere")
    writer = clients["Writer"]
    form = page(writer.get(url("edit", arbitrary)))
    assert 'value="app-password"' in form and "Expiration date (UTC)" in form
    assert "elsewhere" not in form, "only the groups the Writer may write to are offered"
    response = writer.post(
        url("edit", arbitrary),
        edit_data(
            arbitrary,
            name="app-password-2",
            description="rotated by hand",
            labels="prod, eu-de",
            custom_metadata='{"owner": "team-a"}',
        ),
    )
    assert response.status_code == 302 and response["Location"] == url("detail", arbitrary)
    arbitrary.refresh_from_db()
    assert (arbitrary.name, arbitrary.description) == ("app-password-2", "rotated by hand")
    assert arbitrary.labels == ["prod", "eu-de"] and arbitrary.custom_metadata == {
        "owner": "team-a"
    }
    event = AuditEvent.objects.get(action="secret.update", object_id=str(arbitrary.pk))
    assert set(event.detail["changed"]) == {"name", "description", "labels", "custom_metadata"}
    assert "Secret app-password-2 saved." in page(writer.get(url("detail", arbitrary)))

    # Moving needs Writer on the target: a forged choice is refused, a granted one works.
    unseen = writer.post(url("edit", arbitrary), edit_data(arbitrary, secret_group=other.pk))
    assert unseen.status_code == 422, "a group outside the Writer's scope does not exist for them"
    user = writer.get(url("detail", arbitrary)).wsgi_request.user
    grant(user, "Reader", group=other)
    refused = writer.post(url("edit", arbitrary), edit_data(arbitrary, secret_group=other.pk))
    assert refused.status_code == 403
    grant(user, "Writer", group=other)
    moved = writer.post(url("edit", arbitrary), edit_data(arbitrary, secret_group=other.pk))
    assert moved.status_code == 302
    assert Secret.objects.get(pk=arbitrary.pk).secret_group_id == other.pk


def test_nothing_changed_is_said_and_audits_nothing(clients, arbitrary):
    response = clients["Writer"].post(url("edit", arbitrary), edit_data(arbitrary), follow=True)
    assert "Nothing changed: secret app-password is as it was." in page(response)
    assert not AuditEvent.objects.filter(action="secret.update").exists()


def test_edit_errors_are_422_beside_their_fields(clients, group, arbitrary):
    create_secret(group=group, name="taken")
    response = clients["Writer"].post(
        url("edit", arbitrary),
        edit_data(arbitrary, name="taken", custom_metadata="{oops", labels="a," + "b" * 70),
        headers=HX,
    )
    assert response.status_code == 422
    body = page(response)
    assert body.lstrip().startswith('<form id="edit-form"')
    assert "Not valid JSON" in field_errors(body, "custom_metadata")
    # The form's own checks first; the service's (the name is taken) once those pass.
    assert 'data-testid="error-summary"' in body and "on this page" in body
    response = clients["Writer"].post(url("edit", arbitrary), edit_data(arbitrary, name="taken"))
    assert response.status_code == 422
    assert "named 'taken' already exists" in field_errors(page(response), "name")
    bad_label = clients["Writer"].post(
        url("edit", arbitrary), edit_data(arbitrary, labels="x" * 70)
    )
    assert bad_label.status_code == 422 and "characters long" in field_errors(
        page(bad_label), "labels"
    )
    assert Secret.objects.get(pk=arbitrary.pk).name == "app-password"


def test_edit_the_expiration_date_of_an_arbitrary_secret(clients, arbitrary):
    when = (timezone.now() + timedelta(days=3)).astimezone(UTC).replace(second=0, microsecond=0)
    typed = when.strftime("%Y-%m-%dT%H:%M")
    response = clients["Writer"].post(
        url("edit", arbitrary), edit_data(arbitrary, expiration_date=typed)
    )
    assert response.status_code == 302
    assert Secret.objects.get(pk=arbitrary.pk).expiration_date == when
    form = page(clients["Writer"].get(url("edit", arbitrary)))
    assert f'value="{typed}"' in form
    past = clients["Writer"].post(
        url("edit", arbitrary), edit_data(arbitrary, expiration_date="2001-01-01T00:00")
    )
    assert past.status_code == 422
    assert "must be in the future" in field_errors(page(past), "expiration_date")


def test_edit_rotation_settings_and_ttl_of_service_credentials(clients, service):
    form = page(clients["Writer"].get(url("edit", service)))
    assert 'value="30d"' in form and "applies at the next rotation" in form
    too_short = clients["Writer"].post(
        url("edit", service),
        edit_data(service, ttl="30d", auto_rotate="on", interval="6", unit="hour"),
    )
    assert too_short.status_code == 422
    assert "between 1 day and 3 months" in field_errors(page(too_short), "interval")
    longer_than_ttl = clients["Writer"].post(
        url("edit", service),
        edit_data(service, ttl="2d", auto_rotate="on", interval="5", unit="day"),
    )
    assert longer_than_ttl.status_code == 422
    assert "cannot be longer than the lease" in field_errors(page(longer_than_ttl), "interval")
    missing = clients["Writer"].post(url("edit", service), edit_data(service, auto_rotate="on"))
    assert "Enter how often to rotate." in field_errors(page(missing), "interval")

    saved = clients["Writer"].post(
        url("edit", service),
        edit_data(service, ttl="60d", auto_rotate="on", interval="30", unit="day"),
        follow=True,
    )
    service.refresh_from_db()
    assert service.rotation == {"auto_rotate": True, "interval": 30, "unit": "day"}
    assert service.ttl_seconds == 60 * 86400 and service.next_rotation_date is not None
    body = page(saved)
    assert "the new lease duration applies at the next rotation" in body
    assert service.next_rotation_date.strftime("%Y-%m-%d %H:%M") in body


def test_rotation_cannot_be_set_with_reuse_off(clients, iam_reuse_off):
    form = page(clients["Writer"].get(url("edit", iam_reuse_off)))
    fieldset = form.split('<fieldset class="choice" id="rotation"', 1)[1].split(">", 1)[0]
    assert "disabled" in fieldset and 'aria-describedby="rotation-reason"' in fieldset
    assert "only if the reuse IAM credentials option is selected" in form
    # A forged "on" is ignored: the fields are disabled.
    clients["Writer"].post(
        url("edit", iam_reuse_off),
        edit_data(iam_reuse_off, ttl="2d", auto_rotate="on", interval="30", unit="day"),
    )
    assert not (Secret.objects.get(pk=iam_reuse_off.pk).rotation or {}).get("auto_rotate")


def test_edit_custom_credentials_parameters(clients, custom):
    form = page(clients["Writer"].get(url("edit", custom)))
    assert "Changes take effect at the next version" in form
    assert "none can be added or removed here" in form
    assert 'name="param_user_name"' in form and 'value="alice"' in form
    data = edit_data(custom, param_user_name="bob", param_scope="admin", param_expires="")
    saved = clients["Writer"].post(url("edit", custom), data, follow=True)
    custom.refresh_from_db()
    assert custom.parameters == {"user_name": "bob", "scope": "admin"}
    assert "the new parameters apply from the next version" in page(saved)
    # The next rotation's job gets them.
    clients["Writer"].post(url("rotate", custom), {})
    task = SecretTask.objects.filter(secret=custom, type=TaskType.CREATE_CREDENTIALS).latest(
        "creation_date"
    )
    assert f.dispatch(task)["SM_USER_NAME_VALUE"] == "bob"

    cleared = clients["Writer"].post(
        url("edit", custom), edit_data(custom, param_user_name="bob", param_scope="")
    )
    assert cleared.status_code == 422
    assert "cannot be removed" in field_errors(page(cleared), "param_scope")
    wrong = clients["Writer"].post(
        url("edit", custom), edit_data(custom, param_user_name="bob", param_scope="root")
    )
    assert wrong.status_code == 422 and "root" in field_errors(page(wrong), "param_scope")


# ---------------------------------------------------------------------------------------------
# A version's metadata


def test_version_metadata_from_the_versions_table(clients, arbitrary):
    version = arbitrary.versions.get()
    target = reverse("secrets:version-metadata", args=[arbitrary.pk, version.pk])
    body = page(clients["Writer"].get(url("detail", arbitrary)))
    assert f'action="{target}"' in body and 'id="id_v1_version_custom_metadata"' in body
    saved = clients["Writer"].post(target, {"version_custom_metadata": '{"ticket": "OPS-1"}'})
    assert saved.status_code == 302
    version.refresh_from_db()
    assert version.version_custom_metadata == {"ticket": "OPS-1"}
    assert AuditEvent.objects.filter(action="secret_version.update").count() == 1

    bad = clients["Writer"].post(target, {"version_custom_metadata": "[1, 2]"}, headers=HX)
    assert bad.status_code == 422
    body = page(bad)
    assert body.lstrip().startswith('<div id="secret-live"')
    assert '<details class="inline-edit" open>' in body and "[1, 2]</textarea>" in body
    assert "must be a JSON object" in body.split('id="id_v1_version_custom_metadata_error"')[1]
    full = clients["Writer"].post(target, {"version_custom_metadata": "{"})
    assert full.status_code == 422 and "<html" in page(full) and "Not valid JSON" in page(full)
    missing = reverse("secrets:version-metadata", args=[arbitrary.pk, arbitrary.pk])
    assert clients["Writer"].post(missing, {}).status_code == 404


# ---------------------------------------------------------------------------------------------
# Delete


def test_delete_needs_the_name_typed(clients, arbitrary):
    manager = clients["Manager"]
    form = page(manager.get(url("delete", arbitrary)))
    assert "Type the name of the secret to confirm" in form and ">Delete</button>" in form
    wrong = manager.post(url("delete", arbitrary), {"confirm_name": "app-passwor"}, headers=HX)
    assert wrong.status_code == 422
    assert "Type the name exactly as shown: app-password." in field_errors(
        page(wrong), "confirm_name"
    )
    assert Secret.objects.filter(pk=arbitrary.pk).exists()
    done = manager.post(url("delete", arbitrary), {"confirm_name": "app-password"}, headers=HX)
    assert done["HX-Redirect"] == reverse("secrets:list")
    assert not Secret.objects.filter(pk=arbitrary.pk).exists()
    assert "Secret app-password deleted." in page(manager.get(reverse("secrets:list")))


def test_delete_iam_credentials_removes_its_key(clients, iam):
    key = f.api_key_of(iam.versions.get())
    assert key is not None
    form = page(clients["Manager"].get(url("delete", iam)))
    assert "and so is the service ID" in form
    assert (
        clients["Manager"].post(url("delete", iam), {"confirm_name": iam.name}).status_code == 302
    )
    assert not ApiKey.objects.filter(pk=key.pk).exists()
    assert not ServiceId.objects.filter(pk=iam.service_id).exists(), "the generated one goes too"


def test_custom_credentials_need_force_while_credentials_may_exist(clients, custom):
    manager = clients["Manager"]
    refused = manager.post(url("delete", custom), {"confirm_name": custom.name})
    assert refused.status_code == 422
    body = page(refused)
    assert "the credentials of version 1 may still exist at the credentials provider" in body
    assert 'data-testid="force-delete"' in body and 'name="force" value="on"' in body
    assert 'value="partner-token"' in body, "the typed name is kept for the second step"
    unticked = manager.post(url("delete", custom), {"confirm_name": custom.name, "force": "on"})
    assert unticked.status_code == 422
    assert "Tick this box" in field_errors(page(unticked), "force_confirmed")
    assert Secret.objects.filter(pk=custom.pk).exists()

    forced = manager.post(
        url("delete", custom),
        {"confirm_name": custom.name, "force": "on", "force_confirmed": "on"},
        follow=True,
    )
    assert "Its credentials are deleted in the background." in page(forced)
    assert not Secret.objects.filter(pk=custom.pk).exists()
    assert SecretTask.objects.filter(secret_id=custom.pk, type=TaskType.DELETE_CREDENTIALS).exists()
    assert manager.get(url("detail", custom)).status_code == 404


def test_an_iam_secret_a_configuration_uses_cannot_be_deleted(clients, custom_world):
    key_secret = custom_world["key_secret"]
    owner = clients["owner"]
    form = page(owner.get(url("delete", key_secret)))
    assert 'data-testid="delete-in-use"' in form
    assert "certificate-provider, token-provider use its API key" in form
    assert ">Delete</button>" not in form
    refused = owner.post(url("delete", key_secret), {"confirm_name": key_secret.name})
    assert refused.status_code == 422 and "Point them at another" in page(refused)
    assert Secret.objects.filter(pk=key_secret.pk).exists()


def test_a_locked_secret_cannot_be_deleted_and_the_page_says_where_to_unlock_it(clients, group):
    secret = create_secret(group=group, payload="held")
    SecretLock.objects.create(
        secret=secret, version=secret.versions.get(), name="legal-hold", created_by="IBMid-1"
    )
    owner = clients["owner"]
    form = page(owner.get(url("delete", secret)))
    assert 'data-testid="delete-locked"' in form and "legal-hold (version 1)" in form
    assert ">Delete</button>" not in form
    assert reverse("secrets:versions", args=[secret.pk]) in form
    refused = owner.post(url("delete", secret), {"confirm_name": secret.name, "force": "on"})
    assert refused.status_code == 422 and "Remove it first" in page(refused)
    assert Secret.objects.filter(pk=secret.pk).exists()


# ---------------------------------------------------------------------------------------------
# Leases and rotation on the page, and the table's Expires column and filter


def test_the_page_shows_expiry_next_rotation_and_the_state_reason(clients, group, service):
    Secret.objects.filter(pk=service.pk).update(
        rotation={"auto_rotate": True, "interval": 1, "unit": "day"},
        next_rotation_date=datetime(2031, 1, 2, 3, 4, tzinfo=UTC),
    )
    body = page(clients["Reader"].get(url("detail", service)))
    assert "2031-01-02 03:04 UTC" in body.split('data-testid="next-rotation"')[1]
    expires = service.expiration_date.strftime("%Y-%m-%d %H:%M")
    assert expires in body.split('data-testid="expires"')[1].split("</dd>")[0]
    ended = create_secret(group=group, name="ended")
    Secret.objects.filter(pk=ended.pk).update(
        state=SecretState.DESTROYED, state_reason="The lease ended on 2030-05-06 07:08 UTC."
    )
    body = page(clients["Reader"].get(url("detail", ended)))
    assert "The lease ended on 2030-05-06 07:08 UTC." in body
    assert "it has no value to reveal" not in body, "a Reader sees no Value card"


def table_names(response) -> list[str]:
    return re.findall(
        r'<td class="name"><a href="/secrets/[0-9a-f-]+/">([^<]+)</a>', page(response)
    )


def test_the_table_shows_what_expires_soon(clients, group):
    now = timezone.now()
    for name, delta in (("in-12h", timedelta(hours=12)), ("in-3d", timedelta(days=3))):
        create_secret(group=group, name=name, expiration_date=now + delta)
    create_secret(group=group, name="in-20d", expiration_date=now + timedelta(days=20))
    create_secret(group=group, name="never")
    gone = create_secret(group=group, name="gone", expiration_date=now + timedelta(hours=1))
    Secret.objects.filter(pk=gone.pk).update(
        expiration_date=now - timedelta(hours=1), state=SecretState.DESTROYED
    )
    client, base = clients["Reader"], reverse("secrets:list")
    body = page(client.get(base))
    assert ">Expires" in body and '<label for="id_expires">Expires within</label>' in body
    row = body.split('">gone</a>')[1].split("</tr>")[0]
    assert "Destroyed" in row and "expired" in row
    assert "never" in body.split('">never</a>')[1].split("</tr>")[0]
    for window, expected in (
        ("1d", {"in-12h"}),
        ("7d", {"in-12h", "in-3d"}),
        ("30d", {"in-12h", "in-3d", "in-20d"}),
    ):
        assert set(table_names(client.get(base, {"expires": window}))) == expected, window
    partial = client.get(base, {"expires": "7d", "sort": "expiration_date"}, headers=HX)
    assert table_names(partial) == ["in-12h", "in-3d"]
    # The filter stays in the sort links; never-expiring secrets sort last either way.
    assert "expires=7d&sort=" in page(partial)
    assert table_names(client.get(base, {"sort": "-expiration_date"}))[-1] == "never"
    assert table_names(client.get(base, {"sort": "expiration_date"}))[-1] == "never"
    assert client.get(base, {"expires": "1y"}).status_code == 422
