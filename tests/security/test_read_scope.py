"""Findings 8, 9 and 14: what a signed-in user may read outside their secret groups.

8. `/groups/` listed every group (names, descriptions, counts) to anyone signed in, and the edit
   and delete pages of a group outside the user's scope answered 403, which confirms it exists.
9. Strangers read the Secrets engines page, a configuration's details (with the name of an IAM
   credentials secret in a group they cannot see), and every service instance's CRN and keys.
14. Pages that show credentials-adjacent data must not be stored by a browser or proxy cache.
"""

from __future__ import annotations

import html

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.identity import Actor
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ResourceKey, ServiceInstance
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from secrets_app.services.service_credentials import (
    authorize_service_instance,
    service_credentials_secret_create,
)
from tests.factories import create_group, create_secret, create_user, grant

pytestmark = pytest.mark.django_db
SETUP = Actor(iam_id="IBMid-0000000999", name="admin", system=True)


def text(response) -> str:
    return html.unescape(response.content.decode())


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_with(role: str, *, group: SecretGroup | None = None, username: str | None = None):
    user = create_user(username=username)
    grant(user, role, group=group)
    return user


# ---------------------------------------------------------------------------------------------
# Finding 8: secret groups


@pytest.fixture
def two_groups() -> dict[str, SecretGroup]:
    mine = create_group(name="team-mine", description="Our own services")
    theirs = create_group(name="team-theirs", description="Payroll, top secret")
    create_secret(group=mine)
    create_secret(group=mine)
    for _ in range(3):
        create_secret(group=theirs)
    return {"mine": mine, "theirs": theirs}


def test_group_list_shows_only_the_groups_the_user_may_read(two_groups):
    reader = client_for(user_with("Reader", group=two_groups["mine"]))
    response = reader.get(reverse("secrets:groups"))
    page = text(response)
    assert response.status_code == 200
    row = page.split(f'data-group-id="{two_groups["mine"].pk}"')[1].split("</tr>")[0]
    assert "team-mine" in row and "Our own services" in row and "<td>2</td>" in row
    assert "team-theirs" not in page and "Payroll, top secret" not in page
    assert two_groups["theirs"].pk not in page
    assert 'data-group-id="default"' not in page
    assert page.count("data-group-id=") == 1


def test_group_list_is_empty_for_a_stranger(stranger, two_groups):
    page = text(client_for(stranger).get(reverse("secrets:groups")))
    assert "data-group-id=" not in page
    assert "team-mine" not in page and "team-theirs" not in page
    assert "No secret group you can see" in page


def test_group_list_shows_every_group_to_an_instance_wide_reader(ro_client, two_groups):
    page = text(ro_client.get(reverse("secrets:groups")))
    assert page.count("data-group-id=") == SecretGroup.objects.count() == 3
    row = page.split(f'data-group-id="{two_groups["theirs"].pk}"')[1].split("</tr>")[0]
    assert "<td>3</td>" in row


@pytest.mark.parametrize("view", ["secrets:group-edit", "secrets:group-delete"])
def test_group_pages_outside_the_users_scope_are_404(two_groups, stranger, view):
    scoped = client_for(user_with("Writer", group=two_groups["mine"]))
    outsider = client_for(stranger)
    theirs = reverse(view, args=[two_groups["theirs"].pk])
    for client in (scoped, outsider):
        assert client.get(theirs).status_code == 404
        assert client.post(theirs, {"name": "renamed"}).status_code == 404
    # In scope but not a Manager on the instance: refused with the reason, as before.
    mine = scoped.get(reverse(view, args=[two_groups["mine"].pk]))
    assert mine.status_code == 403 and "Manager role on this instance" in text(mine)
    assert SecretGroup.objects.filter(name="team-theirs").exists()


def test_group_managers_still_manage_every_group(owner_client, two_groups):
    theirs = two_groups["theirs"]
    assert owner_client.get(reverse("secrets:group-edit", args=[theirs.pk])).status_code == 200
    assert owner_client.get(reverse("secrets:group-delete", args=[theirs.pk])).status_code == 200


# ---------------------------------------------------------------------------------------------
# Finding 9: Secrets engines and configurations


@pytest.fixture
def world() -> dict[str, object]:
    project = seed.seed_code_engine(actor=SETUP)
    seed.seed_iam_engine(actor=SETUP)
    key = seed.seed_provider_access(actor=SETUP)
    seed.seed_configurations(actor=SETUP, project=project, api_key_secret=key)
    return {"key": key, "group": SecretGroup.objects.get(name=seed.PROVIDER_GROUP)}


def config_url(name: str = "token-provider") -> str:
    return reverse("engines:config-detail", args=[name])


@pytest.mark.parametrize("url", ["/engines/", "/engines/?tab=custom", "/engines/?tab=iam"])
def test_engines_page_is_403_for_a_stranger(stranger, world, url):
    response = client_for(stranger).get(url)
    page = text(response)
    assert response.status_code == 403
    assert "Reader" in page and "secret group" in page
    assert "token-provider" not in page and "certificate-provider" not in page


def test_configuration_detail_is_403_for_a_stranger_known_or_not(stranger, world):
    client = client_for(stranger)
    for name in ("token-provider", "no-such-config"):
        response = client.get(config_url(name))
        page = text(response)
        assert response.status_code == 403, name
        assert "Reader" in page
        assert seed.JOB_KEY_SECRET not in page and "credentials-providers" not in page


def test_a_refused_configuration_test_does_not_show_the_page_to_a_stranger(stranger, world):
    """Starting a test re-renders the configuration page on an error: not for a stranger."""
    response = client_for(stranger).post(
        reverse("config_test:start", args=["token-provider"]), {"secret_group": "no-such-group"}
    )
    page = text(response)
    assert response.status_code == 403
    assert seed.JOB_KEY_SECRET not in page and "credentials-providers" not in page


def test_a_role_on_one_group_is_enough_to_see_configurations(world):
    writer = client_for(user_with("Writer", group=SecretGroup.objects.get(pk="default")))
    index = writer.get("/engines/?tab=custom")
    assert index.status_code == 200 and config_url() in text(index)
    assert writer.get(config_url()).status_code == 200
    assert writer.get(config_url("no-such-config")).status_code == 404


def test_the_api_key_secret_is_named_only_to_who_may_read_its_group(world):
    key: Secret = world["key"]  # type: ignore[assignment]
    secret_link = reverse("secrets:detail", args=[key.pk])
    # A Writer elsewhere sees the configuration, and its test form, but not the secret.
    elsewhere = client_for(user_with("Writer", group=SecretGroup.objects.get(pk="default")))
    page = text(elsewhere.get(config_url()))
    assert ">Test configuration</button>" in page
    assert seed.JOB_KEY_SECRET not in page and secret_link not in page
    assert key.service_id not in page
    assert "in a secret group you cannot see" in page
    # A Reader on the key's group sees its name and link.
    reader = client_for(user_with("Reader", group=world["group"]))  # type: ignore[arg-type]
    page = text(reader.get(config_url()))
    assert f'<a href="{secret_link}">{seed.JOB_KEY_SECRET}</a>' in page
    assert "in a secret group you cannot see" not in page


def test_configuration_users_in_other_groups_are_only_counted(
    world, django_capture_on_commit_callbacks
):
    custom_credentials_secret_create(
        actor=SETUP,
        name="alice-token",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=world["group"].pk,  # type: ignore[attr-defined]
    )
    reader = client_for(user_with("Reader", group=SecretGroup.objects.get(pk="default")))
    page = text(reader.get(config_url()))
    assert "alice-token" not in page and "and 1 more in secret groups you cannot see" in page


# ---------------------------------------------------------------------------------------------
# Finding 9: service instances and their resource keys


@pytest.fixture
def keyed_instance() -> dict[str, object]:
    """postgres-orders with a key of a secret in `mine`, one in `theirs` and one of no secret."""
    rc_services.seed_service_instances(actor=SETUP)
    instance = ServiceInstance.objects.get(name="postgres-orders")
    authorize_service_instance(actor=SETUP, instance_crn=instance.crn)
    mine, theirs = create_group(name="team-mine"), create_group(name="team-theirs")
    keys = {}
    for name, group in (("mine-db", mine), ("theirs-db", theirs)):
        service_credentials_secret_create(
            actor=SETUP,
            name=name,
            instance_crn=instance.crn,
            role="Reader",
            serviceid_crn=None,
            hmac=False,
            secret_group_id=group.pk,
        )
        keys[name] = ResourceKey.objects.get(name=name)
    get_resource_controller().create_resource_key(
        instance_crn=instance.crn,
        name="loose-key",
        role="Reader",
        hmac=False,
        serviceid_crn=None,
        actor=SETUP,
    )
    keys["loose-key"] = ResourceKey.objects.get(name="loose-key")
    return {"instance": instance, "mine": mine, "theirs": theirs, "keys": keys}


def instance_url(instance: ServiceInstance) -> str:
    return reverse("resource_controller:instance-detail", args=[instance.guid])


def test_service_instance_pages_are_403_for_a_stranger(stranger, keyed_instance):
    client = client_for(stranger)
    instance: ServiceInstance = keyed_instance["instance"]  # type: ignore[assignment]
    for url in (reverse("resource_controller:instance-list"), instance_url(instance)):
        response = client.get(url)
        page = text(response)
        assert response.status_code == 403, url
        assert "Reader" in page and instance.crn not in page


def test_a_role_on_one_group_is_enough_to_list_service_instances(keyed_instance):
    client = client_for(user_with("Writer", group=keyed_instance["mine"]))  # type: ignore[arg-type]
    response = client.get(reverse("resource_controller:instance-list"))
    assert response.status_code == 200
    assert text(response).count("data-instance-guid=") == ServiceInstance.objects.count()


def key_rows(page: str) -> set[str]:
    return {
        row.split('"', 1)[0] for row in page.split('data-key-guid="')[1:] if row.split('"', 1)[0]
    }


def guid_of(key: ResourceKey) -> str:
    return str(key.guid)


def test_a_group_reader_sees_only_the_keys_of_secrets_they_may_read(keyed_instance):
    keys: dict[str, ResourceKey] = keyed_instance["keys"]  # type: ignore[assignment]
    client = client_for(user_with("Reader", group=keyed_instance["mine"]))  # type: ignore[arg-type]
    response = client.get(instance_url(keyed_instance["instance"]))  # type: ignore[arg-type]
    page = text(response)
    assert response.status_code == 200
    assert key_rows(page) == {guid_of(keys["mine-db"])}
    assert "theirs-db" not in page and "loose-key" not in page
    assert keys["theirs-db"].crn not in page and keys["loose-key"].serviceid_crn not in page
    assert "2 other resource keys on this instance are not shown" in page


def test_an_instance_wide_reader_sees_every_key(ro_client, keyed_instance):
    keys: dict[str, ResourceKey] = keyed_instance["keys"]  # type: ignore[assignment]
    page = text(ro_client.get(instance_url(keyed_instance["instance"])))  # type: ignore[arg-type]
    assert key_rows(page) == {guid_of(k) for k in keys.values()}
    assert "not shown" not in page


def test_instance_detail_query_count_does_not_grow_with_keys_for_a_group_reader(
    keyed_instance, django_assert_num_queries
):
    instance: ServiceInstance = keyed_instance["instance"]  # type: ignore[assignment]
    client = client_for(user_with("Reader", group=keyed_instance["mine"]))  # type: ignore[arg-type]
    url = instance_url(instance)
    client.get(url)  # warm the session and any per-process caches
    with CaptureQueriesContext(connection) as before:
        assert client.get(url).status_code == 200
    for n in range(4):
        service_credentials_secret_create(
            actor=SETUP,
            name=f"more-{n}",
            instance_crn=instance.crn,
            role="Reader",
            serviceid_crn=None,
            hmac=False,
            secret_group_id=keyed_instance["mine"].pk,  # type: ignore[attr-defined]
        )
    with django_assert_num_queries(len(before.captured_queries)):
        page = text(client.get(url))
    assert len(key_rows(page)) == 5


# ---------------------------------------------------------------------------------------------
# Finding 14: no caching of pages with credentials-adjacent data


def test_secret_detail_and_its_status_partial_are_not_stored(owner_client, hx):
    secret = create_secret()
    for url, headers in (
        (reverse("secrets:detail", args=[secret.pk]), {}),
        (reverse("secrets:status", args=[secret.pk]), hx),
    ):
        response = owner_client.get(url, headers=headers)
        assert response.status_code in (200, 286), url
        assert "no-store" in response["Cache-Control"], url


def test_configuration_detail_is_not_stored(owner_client, world):
    response = owner_client.get(config_url())
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_service_instance_detail_is_not_stored(owner_client, keyed_instance):
    response = owner_client.get(instance_url(keyed_instance["instance"]))  # type: ignore[arg-type]
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_the_nav_offers_engines_and_instances_only_to_those_with_a_role(stranger, teammate_ro):
    from django.test import Client

    for user, shown in ((stranger, False), (teammate_ro, True)):
        client = Client()
        client.force_login(user)
        html = client.get(reverse("secrets:list")).content.decode()
        assert (reverse("engines:index") in html) is shown
        assert (reverse("resource_controller:instance-list") in html) is shown
        assert ("Embedded cloud" in html) is shown
