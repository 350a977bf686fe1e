"""The Secrets table: search, filters, sort, pagination, htmx partial vs full page, query count."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from secrets_app.forms import PAGE_SIZE
from secrets_app.models import Secret, SecretState
from tests.factories import create_group, create_secret

pytestmark = pytest.mark.django_db
URL = reverse("secrets:list")


def names(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<td class="name"><a href="/secrets/[0-9a-f-]+/">([^<]+)</a>', html)


@pytest.fixture
def catalogue():
    payments = create_group(name="payments")
    platform = create_group(name="platform")
    create_secret(
        name="stripe-prod", group=payments, labels=["prod", "us-south"], description="Card API key"
    )
    create_secret(name="stripe-dev", group=payments, labels=["dev", "us-south"])
    create_secret(
        name="db-password",
        group=platform,
        labels=["prod", "eu-de"],
        description="Postgres superuser",
    )
    create_secret(name="legacy-token", labels=["prod"])
    Secret.objects.filter(name="legacy-token").update(state=SecretState.DEACTIVATED)
    return {"payments": payments, "platform": platform}


def test_table_lists_every_column(owner_client, catalogue):
    response = owner_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for header in ["Name", "Type", "Group", "State", "Labels", "Created", "Updated"]:
        assert f">{header}" in html
    row = html.split('">stripe-prod</a>')[1].split("</tr>")[0]
    assert "Arbitrary" in row and "payments" in row and "Active" in row
    assert '<span class="chip">prod</span>' in row and '<span class="chip">us-south</span>' in row


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("stripe", {"stripe-prod", "stripe-dev"}),  # name
        ("postgres", {"db-password"}),  # description
        ("eu-de", {"db-password"}),  # label
        ("ARBITRARY", {"stripe-prod", "stripe-dev", "db-password", "legacy-token"}),  # type
    ],
)
def test_search(owner_client, catalogue, q, expected):
    assert set(names(owner_client.get(URL, {"q": q}))) == expected


def test_search_by_id_with_or_without_dashes(owner_client, catalogue):
    secret = Secret.objects.get(name="legacy-token")
    full = str(secret.pk)
    assert names(owner_client.get(URL, {"q": full})) == ["legacy-token"]
    assert names(owner_client.get(URL, {"q": full[4:20]})) == ["legacy-token"]
    assert names(owner_client.get(URL, {"q": full.replace("-", "")[:12]})) == ["legacy-token"]


def test_filters_combine(owner_client, catalogue):
    by_group = names(owner_client.get(URL, {"group": catalogue["payments"].pk}))
    assert set(by_group) == {"stripe-prod", "stripe-dev"}
    by_state = names(owner_client.get(URL, {"state": SecretState.DEACTIVATED}))
    assert by_state == ["legacy-token"]
    by_type = names(owner_client.get(URL, {"type": "iam_credentials"}))
    assert by_type == []
    combined = names(owner_client.get(URL, {"group": catalogue["payments"].pk, "labels": "prod"}))
    assert combined == ["stripe-prod"]


def test_labels_must_all_match(owner_client, catalogue):
    assert set(names(owner_client.get(URL, {"labels": "prod"}))) == {
        "stripe-prod",
        "db-password",
        "legacy-token",
    }
    assert names(owner_client.get(URL, {"labels": "prod, us-south"})) == ["stripe-prod"]
    assert names(owner_client.get(URL, {"labels": "prod,us-south,eu-de"})) == []


def test_no_match_explains_and_offers_to_clear(owner_client, catalogue):
    html = owner_client.get(URL, {"q": "nothing-like-this"}).content.decode()
    assert "No secrets match these filters" in html and "clear every filter" in html


def test_empty_instance_says_what_to_do_next(owner_client):
    html = owner_client.get(URL).content.decode()
    assert "No secrets yet" in html
    assert reverse("secrets:groups") in html and "seed_demo" in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["db-password", "legacy-token", "stripe-dev", "stripe-prod"]),
        ("-name", ["stripe-prod", "stripe-dev", "legacy-token", "db-password"]),
        ("group", ["legacy-token", "stripe-dev", "stripe-prod", "db-password"]),
        ("-state", ["legacy-token", "db-password", "stripe-dev", "stripe-prod"]),
        ("created_at", ["stripe-prod", "stripe-dev", "db-password", "legacy-token"]),
    ],
)
def test_sort(owner_client, catalogue, sort, expected):
    assert names(owner_client.get(URL, {"sort": sort})) == expected


def test_sort_header_links_keep_filters_and_flip_direction(owner_client, catalogue):
    html = owner_client.get(URL, {"labels": "prod", "sort": "name"}).content.decode()
    assert 'href="?labels=prod&amp;sort=-name"' in html
    assert 'aria-sort="ascending"' in html
    assert 'href="?labels=prod&amp;sort=created_at"' in html


def test_invalid_filters_are_422_with_a_message(owner_client, catalogue):
    response = owner_client.get(URL, {"sort": "password", "state": "9"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Some filters could not be used" in html and "sort" in html and "state" in html
    assert names(response) == []


def test_pagination_keeps_filters_in_the_links(owner_client):
    group = create_group(name="many")
    for i in range(PAGE_SIZE + 5):
        create_secret(name=f"bulk-{i:03d}", group=group, labels=["bulk"])
    create_secret(name="outsider")
    first = owner_client.get(URL, {"labels": "bulk", "sort": "name"})
    assert names(first) == [f"bulk-{i:03d}" for i in range(PAGE_SIZE)]
    html = first.content.decode()
    assert "Page 1 of 2" in html and "30 secrets match these filters" in html
    assert 'href="?labels=bulk&amp;sort=name&amp;page=2"' in html
    second = owner_client.get(URL, {"labels": "bulk", "sort": "name", "page": 2})
    assert names(second) == [f"bulk-{i:03d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    # A page past the end shows the last page rather than an error.
    assert names(owner_client.get(URL, {"labels": "bulk", "sort": "name", "page": 99})) == names(
        second
    )


def test_htmx_gets_only_the_table_and_plain_gets_the_page(owner_client, catalogue, hx):
    partial = owner_client.get(URL, {"q": "stripe"}, headers=hx)
    html = partial.content.decode()
    assert partial.status_code == 200
    assert html.lstrip().startswith('<section id="secret-table"')
    assert "<html" not in html and 'id="secret-filters"' not in html
    assert set(names(partial)) == {"stripe-prod", "stripe-dev"}
    assert "HX-Request" in partial["Vary"]
    page = owner_client.get(URL, {"q": "stripe"}).content.decode()
    assert "<html" in page and 'id="secret-filters"' in page and 'value="stripe"' in page


def test_query_count_does_not_grow_with_the_number_of_secrets(
    owner_client, django_assert_num_queries
):
    group = create_group(name="counted")
    create_secret(group=group, labels=["aa", "bb"])
    owner_client.get(URL)  # warm the session and content types

    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(URL, {"labels": "aa"}).status_code == 200
        return len(ctx.captured_queries)

    with_one = count_queries()
    for i in range(PAGE_SIZE * 2):
        create_secret(
            name=f"more-{i}",
            group=create_group() if i % 5 == 0 else group,
            labels=["aa", f"l{i:02d}"],
        )
    with django_assert_num_queries(with_one):
        assert owner_client.get(URL, {"labels": "aa"}).status_code == 200
    print(
        f"secrets table: {with_one} queries with 1 secret and with {Secret.objects.count()} secrets"
    )


def test_the_table_shows_only_groups_the_viewer_may_read(client, catalogue):
    from tests.factories import create_user, grant

    stranger = create_user(username="nobody")
    client.force_login(stranger)
    html = client.get(URL).content.decode()
    assert names(client.get(URL)) == [] and "No secrets yet" in html
    scoped = create_user(username="payments-reader")
    grant(scoped, "Reader", group=catalogue["payments"])
    client.force_login(scoped)
    response = client.get(URL)
    assert set(names(response)) == {"stripe-prod", "stripe-dev"}
    assert (
        "platform" not in response.content.decode().split('id="id_group"')[1].split("</select>")[0]
    )


def test_secret_detail_needs_reader_on_its_group(client, catalogue):
    from tests.factories import create_user, grant

    secret = Secret.objects.get(name="db-password")
    url = reverse("secrets:detail", args=[secret.pk])
    viewer = create_user(username="viewer")
    client.force_login(viewer)
    assert client.get(url).status_code == 404
    grant(viewer, "Reader", group=catalogue["platform"])
    page = client.get(url)
    assert page.status_code == 200 and "Postgres superuser" in page.content.decode()
    assert "value-" not in page.content.decode(), "the detail page never shows the payload"


def test_each_viewer_gets_their_own_group_choices_request_after_request(
    client, owner_client, catalogue
):
    """The filter form's fields share their choices between copies (forms/secrets.py), so a
    viewer's groups must never reach the next viewer's form, nor its validation."""
    from tests.factories import create_user, grant

    def group_options(response) -> str:
        return response.content.decode().split('id="id_group"')[1].split("</select>")[0]

    scoped = create_user(username="platform-reader")
    grant(scoped, "Reader", group=catalogue["platform"])
    client.force_login(scoped)
    assert "payments" in group_options(owner_client.get(URL))
    options = group_options(client.get(URL))
    assert "platform" in options and "payments" not in options
    response = client.get(URL, {"group": str(catalogue["payments"].id)})
    assert response.status_code == 422 and names(response) == []
    assert "payments" in group_options(owner_client.get(URL))
    response = owner_client.get(URL, {"group": str(catalogue["payments"].id), "type": "arbitrary"})
    assert response.status_code == 200
    options = group_options(client.get(URL, {"sort": "name"}))
    assert "payments" not in options and ">Any group</option>" in options
