"""What every /api/v2 operation has in common, through the official SDK: authentication before
routing (401 without a token or with a bad one, on every documented operation and on unknown
paths), IBM's JSON error body for unknown paths (404) and wrong methods (405, with Allow), and an
SDK exception message that is the error's text, never HTML.

The operations come from the OpenAPI document, so a new endpoint is covered as soon as it exists;
each is called through the SDK method that bears its operationId.
"""

from __future__ import annotations

import inspect
import typing
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import BearerTokenAuthenticator, NoAuthAuthenticator
from ibm_secrets_manager_sdk.secrets_manager_v2 import SecretsManagerV2

from tests.api.conftest import api_error

pytestmark = pytest.mark.django_db(transaction=True)

UNAUTHORIZED = "Send an IAM access token: Authorization: Bearer <token>."
UNKNOWN_PATHS = (
    "/api/v2/",
    "/api/v2",
    "/api/v2/nothing_here",
    "/api/v2/secret_groups/default/nothing",
    "/api/v2/secret_groups/",
    "/api/v1/secrets",
    "/api/v2/openapi.json/x",
)


@pytest.fixture
def document(api_url) -> dict:
    return requests.get(f"{api_url}/api/v2/openapi.json", timeout=10).json()


def operations(document: dict) -> list[tuple[str, str, str]]:
    return [
        (op["operationId"], method.upper(), path)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    ]


def sdk_call(client: SecretsManagerV2, operation_id: str) -> Callable[[], Any]:
    """A call of the SDK method named operation_id, with made-up values for its required
    arguments (the request never gets past authentication, so their content does not matter)."""
    method = getattr(client, operation_id)
    hints = typing.get_type_hints(getattr(SecretsManagerV2, operation_id))
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(method).parameters.items():
        if param.default is not inspect.Parameter.empty or param.kind is param.VAR_KEYWORD:
            continue
        hint = hints.get(name)
        if hint is str:
            kwargs[name] = "arbitrary" if name == "secret_type" else str(uuid.uuid4())
        elif typing.get_origin(hint) is list:
            kwargs[name] = [{"name": "probe"}]
        else:  # a model: the SDK takes its dict form too
            kwargs[name] = {}
    return lambda: method(**kwargs)


def raw_call(client: SecretsManagerV2, method: str, path: str) -> Callable[[], Any]:
    """A request the SDK has no method for, sent through the SDK's own transport and errors."""
    return lambda: client.send(client.prepare_request(method=method, url=path))


def no_token_client(api_url: str) -> SecretsManagerV2:
    client = SecretsManagerV2(authenticator=NoAuthAuthenticator())
    client.set_service_url(api_url)
    return client


def bad_token_client(api_url: str, token: str) -> SecretsManagerV2:
    client = SecretsManagerV2(authenticator=BearerTokenAuthenticator(token))
    client.set_service_url(api_url)
    return client


def assert_ibm_error(exc: ApiException, status: int) -> dict:
    """api_error checked the message; here the rest of the body and the headers."""
    assert exc.status_code == status
    response = exc.http_response
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors", "trace", "status_code"}
    assert body["status_code"] == status and body["errors"] and body["trace"]
    uuid.UUID(body["trace"])
    for error in body["errors"]:
        assert error["code"] and error["message"]
    return body


@pytest.fixture
def clients(api_url):
    made: list[SecretsManagerV2] = []

    def track(client: SecretsManagerV2) -> SecretsManagerV2:
        made.append(client)
        return client

    yield track
    for client in made:
        client.get_http_client().close()


def test_every_operation_refuses_a_missing_or_bad_token_with_401(document, api_url, clients):
    ops = operations(document)
    assert len(ops) >= 9
    anonymous = clients(no_token_client(api_url))
    forged = clients(bad_token_client(api_url, "not-a-token"))
    expired_looking = clients(
        bad_token_client(
            api_url, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJub2JvZHkiLCJleHAiOjF9.c2lnbmF0dXJl"
        )
    )
    for operation_id, method, _path in ops:
        exc = api_error(sdk_call(anonymous, operation_id))
        body = assert_ibm_error(exc, 401)
        assert body["errors"][0]["message"] == UNAUTHORIZED, operation_id
        assert exc.http_response.request.method == method, operation_id
        for client in (forged, expired_looking):
            exc = api_error(sdk_call(client, operation_id))
            assert_ibm_error(exc, 401)
            assert "not-a-token" not in exc.http_response.text


def test_a_wrong_scheme_is_401_too(document, api_url):
    for _, method, path in operations(document):
        url = api_url + path.replace("{", "").replace("}", "")
        for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc"):
            response = requests.request(method, url, headers={"Authorization": header}, timeout=10)
            assert response.status_code == 401, (method, path, header)
            assert response.json()["errors"][0]["code"] == "unauthorized"


def test_unknown_paths_are_401_without_a_token_and_404_with_one(api_url, manager, clients):
    anonymous = clients(no_token_client(api_url))
    for path in UNKNOWN_PATHS:
        for method in ("GET", "POST", "DELETE"):
            exc = api_error(raw_call(anonymous, method, path))
            assert assert_ibm_error(exc, 401)["errors"][0]["message"] == UNAUTHORIZED, path
            exc = api_error(raw_call(manager, method, path))
            body = assert_ibm_error(exc, 404)
            assert body["errors"][0]["code"] == "not_found", (method, path)
            assert "<" not in exc.http_response.text


def test_a_wrong_method_on_a_known_path_is_405_with_allow(document, manager):
    for path, ops in document["paths"].items():
        allowed = {m.upper() for m in ops}
        concrete = path.replace("{id}", str(uuid.uuid4())).replace("{secret_id}", str(uuid.uuid4()))
        concrete = concrete.replace("{", "").replace("}", "")
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
            exc = api_error(raw_call(manager, method, concrete))
            body = assert_ibm_error(exc, 405)
            assert body["errors"][0]["code"] == "method_not_allowed"
            assert method in exc.message
            header = {m.strip() for m in exc.http_response.headers["Allow"].split(",")}
            assert header == allowed, (method, path)


def test_every_error_body_is_ibms_and_the_sdk_message_is_its_text(manager, reader, api_url):
    """One of each status the foundation produces, through the SDK."""
    cases: list[tuple[int, Callable[[], Any]]] = [
        (400, lambda: manager.create_secret_group(name="-not a name-")),
        (403, lambda: reader.create_secret_group(name="readers-may-not")),
        (404, lambda: manager.get_secret_group(id=str(uuid.uuid4()))),
        (405, raw_call(manager, "PUT", "/api/v2/secret_groups")),
        (409, lambda: manager.create_secret_group(name="default")),
    ]
    for status, call in cases:
        exc = api_error(call)
        assert_ibm_error(exc, status)
        assert exc.http_response.headers["Cache-Control"] == "no-store"
    # A body that is not JSON, and one that is not an object.
    for data in (b"{not json", b"[1, 2]"):
        response = requests.post(
            f"{api_url}/api/v2/secret_groups",
            data=data,
            headers={
                "Authorization": f"Bearer {manager.authenticator.token_manager.get_token()}",
                "Content-Type": "application/json",
            },
            timeout=10,
        )
        assert response.status_code == 400 and response.json()["errors"][0]["message"]
