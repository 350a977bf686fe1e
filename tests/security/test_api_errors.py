"""Finding 7: every /api/v2 and /identity/token response is IBM's JSON error body, even a 500,
a 413 or an unknown route, and none of them echoes the request (or the bearer token)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from secrets_app.services import custom_credentials

pytestmark = pytest.mark.django_db
SETUP = Actor(iam_id="IBMid-0000000999", name="setup", system=True)
GRANT = "urn:ibm:params:oauth:grant-type:apikey"


@pytest.fixture
def token(client) -> str:
    sid = iam.service_id_create(actor=SETUP, name="caller")
    _, value = iam.api_key_create(actor=SETUP, name="k", service_id=sid)
    return client.post(reverse("iam-token"), {"grant_type": GRANT, "apikey": value}).json()[
        "access_token"
    ]


def assert_ibm_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"errors", "trace", "status_code"} and body["status_code"] == status
    assert body["errors"] and {"code", "message"} <= set(body["errors"][0])
    uuid.UUID(body["trace"])
    return body


def _task_url() -> str:
    return reverse(
        "api-v2:replace_secret_task", args=[str(uuid.uuid4()), f"sm-task-{uuid.uuid4()}"]
    )


def test_a_deeply_nested_body_is_a_400_not_a_crash(client, token):
    body = "[" * 100_000 + "]" * 100_000
    response = client.put(
        _task_url(),
        '{"status": "failed", "errors": ' + body + "}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    body = assert_ibm_error(response, 400)
    assert "nested more than" in body["errors"][0]["message"]


def test_nesting_beyond_the_limit_is_refused(token, settings, monkeypatch):
    from django.test import RequestFactory

    from console.api import parse_json_object

    settings.SM_API_MAX_JSON_DEPTH = 5
    deep = json.dumps({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}})
    request = RequestFactory().put("/api/v2/x", deep, content_type="application/json")
    with pytest.raises(Exception, match="nested more than 5 levels"):
        parse_json_object(request)


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_a_json_500_with_only_a_trace_id(
    token, settings, monkeypatch, debug
):
    settings.DEBUG = debug

    def explode(**kwargs):
        raise RuntimeError(f"internal detail with the token {token[:20]}")

    monkeypatch.setattr(custom_credentials, "secret_tasks_for", explode)
    client = Client(raise_request_exception=False)
    response = client.get(
        reverse("api-v2:list_secret_tasks", args=[str(uuid.uuid4())]),
        headers={"Authorization": f"Bearer {token}"},
    )
    body = assert_ibm_error(response, 500)
    text = response.content.decode()
    assert token[:20] not in text and "internal detail" not in text and "<html" not in text
    assert body["trace"] in body["errors"][0]["message"]


def test_an_oversized_body_is_a_json_413(client, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    big = json.dumps(
        {"status": "failed", "errors": [{"code": "x", "description": "y" * 5_000_000}]}
    )
    response = client.put(
        _task_url(),
        big,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_ibm_error(response, 413)
    token_response = client.post(
        reverse("iam-token"), {"grant_type": GRANT, "apikey": "x" * 2_000_000}
    )
    assert_ibm_error(token_response, 413)


def test_unknown_routes_and_methods_answer_json(client, token):
    auth = {"Authorization": f"Bearer {token}"}
    assert_ibm_error(client.get("/api/v2/no-such-thing", headers=auth), 404)
    assert_ibm_error(client.get("/api/v2/no-such-thing"), 401)  # nothing is said without a token
    assert_ibm_error(client.get(reverse("iam-token")), 405)
    wrong = client.post(reverse("api-v2:list_secret_tasks", args=[str(uuid.uuid4())]), headers=auth)
    assert_ibm_error(wrong, 405)


def test_console_pages_keep_their_html_errors(owner_client):
    response = owner_client.get("/no-such-console-page/")
    assert response.status_code == 404 and "application/json" not in response["Content-Type"]


@pytest.mark.parametrize(
    ("body", "target", "problem"),
    [
        ('{"name": "ok-name", "description": "a\\u0000b"}', "description", "NUL"),
        ('{"name": "ok-name", "description": "\\ud800"}', "description", "surrogate"),
        ('{"name": "ok\\u0000name"}', "name", "NUL"),
    ],
)
def test_text_no_database_can_store_is_a_400_naming_the_field(client, token, body, target, problem):
    """PostgreSQL refuses NUL characters (and nothing stores an unpaired surrogate): refused
    before any write, with the field named, on SQLite and PostgreSQL alike."""
    response = client.post(
        reverse("api-v2:create_secret_group"),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    error = assert_ibm_error(response, 400)["errors"][0]
    assert problem in error["message"] and error["target"]["name"] == target


def test_a_nul_in_the_query_or_the_path_is_a_400(client, token):
    auth = {"Authorization": f"Bearer {token}"}
    query = client.get("/api/v2/secrets", {"search": "ab\x00cd"}, headers=auth)
    error = assert_ibm_error(query, 400)["errors"][0]
    assert "NUL" in error["message"] and error["target"] == {"type": "parameter", "name": "search"}
    path = client.get("/api/v2/secret_groups/%00", headers=auth)
    assert "NUL" in assert_ibm_error(path, 400)["errors"][0]["message"]
