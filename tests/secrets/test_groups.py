"""Secret groups in the console: list, create, edit, delete (the per-endpoint checklist)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console import validation
from console.errors import LimitExceededError
from console.models import AuditEvent
from secrets_app import services
from secrets_app.models import SecretGroup
from tests.factories import create_group, create_secret, factory_actor

pytestmark = pytest.mark.django_db


def test_list_shows_groups_with_secret_counts(owner_client):
    group = create_group(name="payments", description="Card processing")
    create_secret(group=group)
    create_secret(group=group)
    response = owner_client.get(reverse("secrets:groups"))
    assert response.status_code == 200
    row = response.content.decode().split(f'data-group-id="{group.pk}"')[1].split("</tr>")[0]
    assert "payments" in row and "Card processing" in row and "<td>2</td>" in row
    assert 'data-group-id="default"' in response.content.decode()


def test_create_group(owner_client):
    response = owner_client.post(
        reverse("secrets:group-create"), {"name": "platform", "description": "Infra"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("secrets:groups")
    group = SecretGroup.objects.get(name="platform")
    assert group.description == "Infra"
    assert group.created_by.startswith("IBMid-")
    event = AuditEvent.objects.get(action="secret_group.create")
    assert event.object_id == group.pk and event.actor_name == "owner"


def test_create_group_with_htmx_redirects_the_client(owner_client, hx):
    response = owner_client.post(reverse("secrets:group-create"), {"name": "platform"}, headers=hx)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("secrets:groups")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "x"}, "2 to 64 characters"),
        ({"name": "bad name!"}, "is not allowed"),
        ({"name": "ok-name", "description": "d" * 1025}, "at most 1024 characters"),
    ],
)
def test_create_group_invalid_input_is_422_with_the_message(owner_client, hx, data, message):
    response = owner_client.post(reverse("secrets:group-create"), data, headers=hx)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert "<html" not in response.content.decode(), "htmx gets the form fragment"
    assert SecretGroup.objects.count() == 1


def test_create_group_invalid_without_htmx_renders_full_page(owner_client):
    response = owner_client.post(reverse("secrets:group-create"), {"name": "x"})
    assert response.status_code == 422
    assert "<html" in response.content.decode()


def test_duplicate_group_name_is_a_field_error(owner_client):
    create_group(name="payments")
    response = owner_client.post(reverse("secrets:group-create"), {"name": "payments"})
    assert response.status_code == 422
    assert "A secret group named &#x27;payments&#x27; already exists." in response.content.decode()
    assert SecretGroup.objects.filter(name="payments").count() == 1


def test_group_limit_of_200(owner_client):
    SecretGroup.objects.bulk_create(
        SecretGroup(name=f"bulk-{i:03d}", created_by="test")
        for i in range(validation.SECRET_GROUPS_MAX - 1)
    )
    assert SecretGroup.objects.count() == 200
    response = owner_client.post(reverse("secrets:group-create"), {"name": "one-too-many"})
    assert response.status_code == 422
    assert "already has 200 secret groups" in response.content.decode()
    with pytest.raises(LimitExceededError):
        services.group_create(actor=factory_actor(), name="again")
    assert SecretGroup.objects.count() == 200


def test_edit_group(owner_client):
    group = create_group(name="old-name")
    url = reverse("secrets:group-edit", args=[group.pk])
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, {"name": "new-name", "description": "Renamed"})
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.name, group.description) == ("new-name", "Renamed")
    assert AuditEvent.objects.get(action="secret_group.update").detail == {
        "changed": ["name", "description"]
    }


def test_edit_group_invalid_is_422(owner_client, hx):
    group = create_group(name="keep-me")
    response = owner_client.post(
        reverse("secrets:group-edit", args=[group.pk]), {"name": "-bad"}, headers=hx
    )
    assert response.status_code == 422
    assert "is not allowed" in response.content.decode()
    group.refresh_from_db()
    assert group.name == "keep-me"


def test_default_group_keeps_its_name_but_description_can_change(owner_client):
    url = reverse("secrets:group-edit", args=["default"])
    response = owner_client.post(url, {"name": "renamed", "description": "Everything else"})
    assert response.status_code == 302
    group = SecretGroup.objects.get(pk="default")
    assert (group.name, group.description) == ("default", "Everything else")


def test_delete_empty_group(owner_client, hx):
    group = create_group(name="temp")
    url = reverse("secrets:group-delete", args=[group.pk])
    assert "Delete the empty secret group" in owner_client.get(url).content.decode()
    response = owner_client.post(url, headers=hx)
    assert response["HX-Redirect"] == reverse("secrets:groups")
    assert not SecretGroup.objects.filter(pk=group.pk).exists()
    assert AuditEvent.objects.filter(action="secret_group.delete", object_id=group.pk).exists()


def test_delete_group_with_secrets_is_refused_and_the_group_kept(owner_client):
    group = create_group(name="busy")
    create_secret(group=group)
    url = reverse("secrets:group-delete", args=[group.pk])
    page = owner_client.get(url).content.decode()
    assert "holds 1 secret, so it cannot be deleted yet" in page
    response = owner_client.post(url)
    assert response.status_code == 422
    assert "still holds 1 secret" in response.content.decode()
    assert SecretGroup.objects.filter(pk=group.pk).exists()


def test_default_group_cannot_be_deleted(owner_client):
    response = owner_client.post(reverse("secrets:group-delete", args=["default"]))
    assert response.status_code == 422
    assert "default secret group cannot be deleted" in response.content.decode()
    assert SecretGroup.objects.filter(pk="default").exists()


@pytest.mark.parametrize("name", ["secrets:group-create"])
def test_read_only_user_cannot_create(ro_client, name):
    assert ro_client.get(reverse(name)).status_code == 403
    assert ro_client.post(reverse(name), {"name": "sneaky"}).status_code == 403
    assert not SecretGroup.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize("view", ["secrets:group-edit", "secrets:group-delete"])
def test_read_only_user_cannot_edit_or_delete(ro_client, view):
    group = create_group(name="guarded")
    assert ro_client.post(reverse(view, args=[group.pk]), {"name": "changed"}).status_code == 403
    group.refresh_from_db()
    assert group.name == "guarded"


def test_read_only_user_sees_no_write_controls(ro_client):
    create_group(name="visible")
    page = ro_client.get(reverse("secrets:groups")).content.decode()
    assert "visible" in page
    assert (
        reverse("secrets:group-create") not in page
        and "/edit/" not in page
        and "/delete/" not in page
    )


@pytest.mark.parametrize("view", ["secrets:group-edit", "secrets:group-delete"])
def test_unknown_group_is_404(owner_client, view):
    assert owner_client.get(reverse(view, args=["no-such-group"])).status_code == 404


@pytest.mark.parametrize(
    ("view", "args"),
    [("secrets:groups", []), ("secrets:group-create", []), ("secrets:group-delete", ["default"])],
)
def test_wrong_method_is_405(owner_client, view, args):
    assert owner_client.put(reverse(view, args=args)).status_code == 405


def test_finished_configuration_test_secrets_do_not_keep_a_group(owner_client):
    from secrets_app.models import Secret, SecretState

    group = create_group(name="tested-here")
    probe = create_secret(group=group)
    Secret.objects.filter(pk=probe.pk).update(probe=True, state=SecretState.PRE_ACTIVATION)
    response = owner_client.post(reverse("secrets:group-delete", args=[group.pk]))
    assert (
        response.status_code == 422
        and "configuration test is still running" in response.content.decode()
    )
    Secret.objects.filter(pk=probe.pk).update(state=SecretState.DESTROYED)
    assert owner_client.post(reverse("secrets:group-delete", args=[group.pk])).status_code == 302
    assert (
        not SecretGroup.objects.filter(pk=group.pk).exists()
        and not Secret.objects.filter(pk=probe.pk).exists()
    )
