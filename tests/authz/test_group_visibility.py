"""A user sees only the secret groups they hold a role on, and the same ones everywhere.

Each surface has a test of its own already: the Groups page (tests/security/test_read_scope.py,
test_group_list_shows_only_the_groups_the_user_may_read), the Secrets table's group filter
(tests/secrets/test_table.py, test_the_table_shows_only_groups_the_viewer_may_read), the wizards'
group selects (tests/wizards/test_*.py, test_groups_without_writer_are_not_offered_...), the
Test configuration form (tests/engines/test_config_tests.py) and the API's secrets list
(tests/api/test_secrets_list.py, test_only_readable_groups_are_listed). This one asks every
surface, the API's list of groups included, for one set of users and compares the answers:
where a role allows reading, each shows exactly the groups the user holds a role on; where it
offers a group to write in, exactly those the user may write in.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from console.identity import actor_for_user
from engines_app.providers.embedded.iam import services as iam
from secrets_app import seed
from secrets_app.models import SecretGroup
from tests.authz.world import ADMIN
from tests.factories import create_group, create_user, grant

pytestmark = pytest.mark.django_db


def _select(html: str, field_id: str) -> set[str]:
    """The non-empty option values of the select with this id."""
    found = re.search(rf'<select[^>]*id="{field_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no select #{field_id}"
    return {v for v in re.findall(r'<option value="([^"]*)"', found.group(1)) if v}


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api_groups(user: User) -> set[str]:
    _, key = iam.api_key_create(actor=actor_for_user(user), name="k", user=iam.iam_user_for(user))
    token = Client().post(
        reverse("iam-token"),
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": key},
    )
    listed = Client().get(
        reverse("api-v2:list_secret_groups"),
        HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}",
    )
    assert listed.status_code == 200
    return {g["id"] for g in listed.json()["secret_groups"]}


def _wizard_groups(client: Client) -> set[str]:
    started = client.post(reverse("wizard-start", args=["arbitrary"]))
    assert started.status_code == 302, started.status_code
    return _select(_page(client, started["Location"]), "id_secret_group")


@pytest.fixture
def users() -> dict[str, User]:
    a, b = create_group(name="vis-a"), create_group(name="vis-b")
    people = {
        "reader": create_user(username="vis-reader"),
        "writer": create_user(username="vis-writer"),
        "b-manager": create_user(username="vis-b-manager"),
        "manager": create_user(username="vis-manager", manage_groups=True),
        "stranger": create_user(username="vis-stranger"),
    }
    grant(people["reader"], "Reader", group=a)
    grant(people["writer"], "Writer", group=a)
    grant(people["writer"], "Reader", group=b)
    grant(people["b-manager"], "Manager", group=b)
    # The configurations' page offers Test configuration in the groups one may write in.
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key_secret = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key_secret)
    return people


def _ids(*names: str) -> set[str]:
    return {g.pk for g in SecretGroup.objects.filter(name__in=names)}


@pytest.mark.parametrize(
    ("who", "readable", "writable"),
    [
        ("reader", ("vis-a",), ()),
        ("writer", ("vis-a", "vis-b"), ("vis-a",)),
        ("b-manager", ("vis-b",), ("vis-b",)),
        ("stranger", (), ()),
    ],
)
def test_every_surface_shows_the_groups_of_the_users_roles(users, who, readable, writable):
    user, client = users[who], _client(users[who])
    seen = _ids(*readable)
    groups_page = set(re.findall(r'data-group-id="([^"]+)"', _page(client, "/groups/")))
    assert groups_page == seen, "Groups page"
    assert _select(_page(client, "/secrets/"), "id_group") == seen, "Secrets table filter"
    assert _select(_page(client, "/tasks/"), "id_group") == seen, "Tasks page filter"
    assert _api_groups(user) == seen, "API list of groups"
    if writable:
        assert _wizard_groups(client) == _ids(*writable), "the add-secret wizard's select"
        config = _page(client, reverse("engines:config-detail", args=["token-provider"]))
        assert _select(config, "id_secret_group") == _ids(*writable), "Test configuration"
    else:
        assert client.post(reverse("wizard-start", args=["arbitrary"])).status_code == 403


def test_an_instance_manager_sees_every_group(users):
    client, every = _client(users["manager"]), set(SecretGroup.objects.values_list("pk", flat=True))
    assert set(re.findall(r'data-group-id="([^"]+)"', _page(client, "/groups/"))) == every
    assert _select(_page(client, "/secrets/"), "id_group") == every
    assert _api_groups(users["manager"]) == every
    assert _wizard_groups(client) == every
