"""Every API operation with a body, a query or a header (api_table.py), sent bad input as a
Manager: each answers a 4xx with IBM's error body and nothing changes.

Bad bodies are derived from the valid one: every leaf (and every object and list) replaced by a
value of the wrong type, a NUL, an unpaired surrogate, text longer than every limit, and, for
identifiers, a right-to-left override and combining marks; then bodies that are not JSON, not an
object, nested too deep, too large, or of another content type. The token endpoint
(/identity/token) is checked at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from secrets_app.api.app import api
from tests.badinput.api_table import OPS, Op
from tests.badinput.conftest import World
from tests.badinput.kit import COMBINING, NUL, OVERLONG, RTL, snapshot, unchanged

SETUP = Actor(iam_id="IBMid-0000000999", name="bad-input-api", system=True)
GRANT = "urn:ibm:params:oauth:grant-type:apikey"
SURROGATE = "\ud800"  # json.dumps writes it as the escape \ud800


@pytest.fixture
def manager(world: World) -> dict[str, str]:
    """The bearer header of a service ID with the Manager role on the instance."""
    sid = iam.service_id_create(actor=SETUP, name="bad-input-api-manager")
    iam.policy_grant(actor=SETUP, role="Manager", secret_group_id=None, service_id=sid)
    _, key = iam.api_key_create(actor=SETUP, name="k", service_id=sid)
    token = Client().post("/identity/token", {"grant_type": GRANT, "apikey": key}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def assert_ibm_error(response: Any, where: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (where, response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", where
    body = response.json()
    assert set(body) == {"errors", "trace", "status_code"}, where
    assert body["status_code"] == response.status_code and body["errors"][0]["message"], where
    uuid.UUID(body["trace"])
    return body


def _send(
    client: Client, op: Op, url: str, body: bytes | None, headers: dict[str, str], **extra: Any
) -> Any:
    content_type = extra.pop("content_type", op.content_type)
    if body is None:
        return client.generic(op.method, url, headers=headers, **extra)
    return client.generic(op.method, url, body, content_type=content_type, headers=headers, **extra)


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes-or-no"
    if isinstance(value, int):
        return "twelve"
    if isinstance(value, str):
        return 12345
    return "not-a-container"


def mutations(
    value: Any, *, op: Op, key: str = "", free: bool = False
) -> Iterator[tuple[str, Any]]:
    """(where, bad value) for `value` and everything inside it, as the API must refuse."""
    yield key or "body", NUL
    yield key or "body", SURROGATE
    if isinstance(value, str):
        yield key, OVERLONG
        if not free and key.rsplit(".", 1)[-1] in op.names:
            yield key, RTL
            yield key, COMBINING
    if not free:
        yield key or "body", _wrong_type(value)
    if isinstance(value, dict):
        for name, child in value.items():
            inner = f"{key}.{name}" if key else name
            for where, bad in mutations(child, op=op, key=inner, free=free or name in op.free_form):
                yield where, {**value, name: bad}
        yield f"{key}.{{NUL key}}", {**value, "a\x00b": "x"}
    elif isinstance(value, list) and value:
        for where, bad in mutations(value[0], op=op, key=f"{key}.0", free=free):
            yield where, [bad, *value[1:]]


def _bad_bodies(op: Op, valid: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    for where, body in mutations(valid, op=op):
        if isinstance(body, dict):
            yield where, json.dumps(body).encode()
    yield "unknown field", json.dumps({**valid, "no_such_field": 1}).encode()
    yield "malformed", b'{"name": '
    yield "not an object", b"[1, 2]"
    yield "null", b"null"
    yield "empty", b""
    yield "not UTF-8", b'{"name": "\xff\xfe"}'
    yield "nested too deep", b'{"a": ' * 40 + b"1" + b"}" * 40
    yield "too large", json.dumps({**valid, "description": "x" * 4_200_000}).encode()


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.operation_id)
def test_a_valid_request_is_accepted(world, manager, op):
    if op.prepare is not None:
        op.prepare(world)
    data = json.dumps(op.body(world)).encode() if op.body else None
    response = _send(world.client, op, op.path(world), data, manager)
    assert response.status_code < 300, (response.status_code, response.content[:500])


@pytest.mark.parametrize("op", [op for op in OPS if op.body], ids=lambda op: op.operation_id)
def test_bad_bodies_are_refused_and_change_nothing(world, manager, op):
    valid = op.body(world)
    url = op.path(world)
    if op.expected_on_refusal is not None:
        op.expected_on_refusal(world)
    before = snapshot()
    count = 0
    for where, body in _bad_bodies(op, valid):
        response = _send(world.client, op, url, body, manager)
        error = assert_ibm_error(response, f"{op.operation_id} {where}")
        if where == "too large":
            assert response.status_code == 413
        count += 1
    wrong_type = _send(
        world.client, op, url, json.dumps(valid).encode(), manager, content_type="text/plain"
    )
    assert_ibm_error(wrong_type, "text/plain")
    assert not unchanged(before, snapshot())
    assert count > 10 and error


@pytest.mark.parametrize(
    "op", [op for op in OPS if op.query or op.headers], ids=lambda op: op.operation_id
)
def test_bad_query_and_header_values_are_refused_and_change_nothing(world, manager, op):
    if op.prepare is not None:
        op.prepare(world)
    url = op.path(world)
    body = json.dumps(op.body(world)).encode() if op.body else None
    before = snapshot()
    for name, values in op.query.items():
        for value in values:
            response = _send(world.client, op, url, body, manager, QUERY_STRING=_query(name, value))
            assert_ibm_error(response, f"{op.operation_id} ?{name}={value[:20]!r}")
    for name, values in op.headers.items():
        for value in values:
            response = _send(world.client, op, url, body, {**manager, name: value})
            assert_ibm_error(response, f"{op.operation_id} {name}: {value[:20]!r}")
    assert not unchanged(before, snapshot())


def _query(name: str, value: str) -> str:
    from urllib.parse import urlencode

    return urlencode({name: value})


def test_every_operation_with_a_body_query_or_header_has_a_row():
    document = api.get_openapi_schema()
    wanted = set()
    for ops in document["paths"].values():
        for op in ops.values():
            kinds = {p["in"] for p in op.get("parameters", [])}
            if "requestBody" in op or kinds & {"query", "header"}:
                wanted.add(op["operationId"])
    rows = {op.operation_id.split("#")[0] for op in OPS}
    assert wanted - rows == set(), "operations without a row"
    for op in OPS:
        spec = next(
            o
            for ops in document["paths"].values()
            for o in ops.values()
            if o["operationId"] == op.operation_id.split("#")[0]
        )
        declared = {p["name"] for p in spec.get("parameters", []) if p["in"] == "query"}
        assert set(op.query) == declared, (op.operation_id, declared)


# ---------------------------------------------------------------------------------------------
# POST /identity/token: a form body, IAM's error body


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"grant_type": GRANT, "apikey": NUL}, 400),
        ({"grant_type": GRANT, "apikey": RTL}, 400),
        ({"grant_type": GRANT, "apikey": "a" * 100_000}, 400),
        ({"grant_type": NUL, "apikey": "x"}, 400),
        ({"grant_type": GRANT}, 400),
        ({"grant_type": GRANT, "apikey": "x" * 4_200_000}, 413),
    ],
    ids=["nul", "rtl", "long", "nul-grant", "no-key", "too-large"],
)
def test_the_token_endpoint_refuses_bad_forms(world, data, status):
    """A key that is no key is a refused sign-in, audited as one: that is the only change."""
    from console.models import AuditEvent

    before, audited = snapshot(), AuditEvent.objects.count()
    response = Client().post("/identity/token", data)
    assert response.status_code == status and response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["message"]
    added = AuditEvent.objects.order_by("pk")[audited:]
    assert {(e.action, e.outcome) for e in added} <= {("iam.token.issue", "denied")}
    changed = unchanged(before, snapshot())
    assert [c for c in changed if not c.startswith("console.AuditEvent:")] == []
