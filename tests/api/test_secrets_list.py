"""GET /api/v2/secrets: the SDK's SecretsPager across pages with filters, the envelope's hrefs,
sorting, the filters, the scope of what a caller sees, and a constant number of queries."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from ibm_secrets_manager_sdk.secrets_manager_v2 import SecretsPager

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from tests.api.conftest import api_error
from tests.factories import create_group, create_secret

pytestmark = pytest.mark.django_db(transaction=True)

CANARY = "CANARY-5d2a8f40-api-list"


def query(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


@pytest.fixture
def fleet():
    """Two groups: 7 'svc' secrets in team-a (4 labelled prod), 3 in team-b, 2 others."""
    team_a, team_b = create_group(name="team-a"), create_group(name="team-b")
    for n in range(7):
        labels = ["prod", "eu"] if n < 4 else ["dev"]
        create_secret(name=f"svc-a-{n}", group=team_a, payload=CANARY, labels=labels)
    for n in range(3):
        create_secret(name=f"svc-b-{n}", group=team_b, payload=CANARY, labels=["prod"])
    create_secret(name="misc-1", group=team_a, payload=CANARY, description="about svc")
    create_secret(name="other-2", payload=CANARY)
    return {"a": team_a, "b": team_b}


def test_the_sdk_pager_walks_every_page_with_filters(fleet, reader):
    pager = SecretsPager(
        client=reader,
        limit=3,
        sort="name",
        search="svc-",
        groups=[fleet["a"].pk, fleet["b"].pk],
        secret_types=["arbitrary"],
    )
    pages = []
    while pager.has_next():
        pages.append([s["name"] for s in pager.get_next()])
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [n for p in pages for n in p] == sorted(
        [f"svc-a-{n}" for n in range(7)] + [f"svc-b-{n}" for n in range(3)]
    )


def test_the_envelope_links_repeat_the_filters(fleet, reader):
    groups = f"{fleet['a'].pk},{fleet['b'].pk}"
    kwargs = {
        "limit": 2,
        "sort": "-name",
        "search": "svc",
        "groups": [fleet["a"].pk, fleet["b"].pk],
        "secret_types": ["arbitrary"],
        "match_all_labels": ["prod"],
    }
    first = reader.list_secrets(**kwargs).get_result()
    assert first["total_count"] == 7 and first["limit"] == 2 and first["offset"] == 0
    assert [s["name"] for s in first["secrets"]] == ["svc-b-2", "svc-b-1"]
    assert "previous" not in first
    expected = {
        "limit": ["2"],
        "sort": ["-name"],
        "search": ["svc"],
        "groups": [groups],
        "secret_types": ["arbitrary"],
        "match_all_labels": ["prod"],
    }
    assert (
        first["first"]["href"].startswith("http://")
        and "/api/v2/secrets?" in first["first"]["href"]
    )
    assert query(first["first"]["href"]) == expected
    assert query(first["next"]["href"]) == {**expected, "offset": ["2"]}
    assert query(first["last"]["href"]) == {**expected, "offset": ["6"]}

    middle = reader.list_secrets(offset=2, **kwargs).get_result()
    assert query(middle["previous"]["href"]) == {**expected, "offset": ["0"]}
    assert query(middle["next"]["href"]) == {**expected, "offset": ["4"]}
    last = reader.list_secrets(offset=6, **kwargs).get_result()
    assert "next" not in last and len(last["secrets"]) == 1
    assert query(last["previous"]["href"]) == {**expected, "offset": ["4"]}
    beyond = reader.list_secrets(offset=50, **kwargs).get_result()
    assert beyond["secrets"] == [] and "next" not in beyond and beyond["total_count"] == 7


def test_filters_sorting_and_no_values(fleet, reader):
    every = reader.list_secrets().get_result()
    assert every["limit"] == 200 and every["total_count"] == 12
    assert "next" not in every and "previous" not in every
    assert CANARY not in json.dumps(every)
    item = every["secrets"][0]
    assert "payload" not in item and item["versions_total"] == 1 and item["locks_total"] == 0

    def names(**kwargs) -> list[str]:
        return [s["name"] for s in reader.list_secrets(**kwargs).get_result()["secrets"]]

    assert names(match_all_labels=["prod", "eu"], sort="name") == [f"svc-a-{n}" for n in range(4)]
    assert names(groups=["default"]) == ["other-2"]
    assert "misc-1" in names(search="about")  # description
    assert len(names(search="arbitrary")) == 12  # secret_type
    target = every["secrets"][3]
    assert names(search=target["id"]) == [target["name"]]  # id
    assert names(secret_types=["iam_credentials"]) == []
    ordered = names(sort="-name")
    assert ordered == sorted(ordered, reverse=True)
    created = [
        s["created_at"] for s in reader.list_secrets(sort="created_at").get_result()["secrets"]
    ]
    assert created == sorted(created)
    for sort in ("id", "-id", "updated_at", "-retrieved_at", "expiration_date", "-secret_type"):
        assert len(names(sort=sort)) == 12


def test_only_readable_groups_are_listed(fleet, sdk_as, stranger_sdk):
    team_b_reader = sdk_as("Reader", fleet["b"].pk)
    listed = team_b_reader.list_secrets().get_result()
    assert {s["name"] for s in listed["secrets"]} == {f"svc-b-{n}" for n in range(3)}
    assert listed["total_count"] == 3
    assert team_b_reader.list_secrets(groups=[fleet["a"].pk]).get_result()["total_count"] == 0
    assert stranger_sdk.list_secrets().get_result()["total_count"] == 0


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10_000_001}, "offset"),
        ({"sort": "color"}, "sort"),
        ({"search": "x"}, "search"),
        ({"search": "s" * 129}, "search"),
        ({"groups": ["not-a-group"]}, "groups"),
        ({"secret_types": ["arbitrary", "nonsense"]}, "secret_types"),
        ({"match_all_labels": ["x"]}, "match_all_labels"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(reader, params, name):
    exc = api_error(lambda: reader.list_secrets(**params))
    assert exc.status_code == 400
    assert exc.http_response.json()["errors"][0]["target"] == {"type": "parameter", "name": name}


def test_a_page_costs_the_same_queries_whatever_its_size(
    fleet, django_assert_max_num_queries, api_url
):
    setup = Actor(iam_id="IBMid-0000000999", name="q", system=True)
    sid = iam.service_id_create(actor=setup, name="list-counter")
    iam.policy_grant(actor=setup, role="Reader", secret_group_id=None, service_id=sid)
    _, key = iam.api_key_create(actor=setup, name="k", service_id=sid)
    client = Client()
    token = client.post(
        "/identity/token",
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": key},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/v2/secrets?limit=1", headers=headers)  # warm caches (token, default group)
    with django_assert_max_num_queries(12) as small:
        assert len(client.get("/api/v2/secrets?limit=1", headers=headers).json()["secrets"]) == 1
    for n in range(20):
        create_secret(name=f"more-{n}", labels=["x1", "x2"])
    with django_assert_max_num_queries(len(small.captured_queries)) as big:
        page = client.get("/api/v2/secrets?limit=1000&sort=name", headers=headers).json()
    assert len(page["secrets"]) == 32
    assert len(big.captured_queries) == len(small.captured_queries)
