"""Where a row says an action came from: the channel (console, API, worker), the client address
(REMOTE_ADDR, or a trusted proxy's header only when settings name it) and the principal type."""

from __future__ import annotations

import pytest
from django.test import Client

from console.audit import audit_record, client_address
from console.identity import SYSTEM, Actor
from console.models import AuditEvent
from tests.factories import create_secret, create_user, grant

pytestmark = pytest.mark.django_db


def _reveal(client: Client, secret, **extra) -> None:
    response = client.post(
        f"/secrets/{secret.pk}/reveal/", {"version": "current", "reason": ""}, **extra
    )
    assert response.status_code == 200, response.content[:300]


@pytest.fixture
def reader_client() -> Client:
    user = create_user(username="origin-reader")
    grant(user, "SecretsReader")
    client = Client()
    client.force_login(user)
    return client


def test_a_console_action_records_the_console_and_the_client_address(reader_client):
    secret = create_secret(name="origin-secret")
    _reveal(reader_client, secret, REMOTE_ADDR="203.0.113.9")
    event = AuditEvent.objects.get(action="secret.read_payload")
    assert (event.channel, event.source_ip, event.actor_type, event.outcome) == (
        "console",
        "203.0.113.9",
        "user",
        "allowed",
    )
    assert event.actor_name == "origin-reader"


def test_a_forwarded_for_header_is_ignored_unless_settings_trust_it(reader_client, settings):
    secret = create_secret(name="forwarded")
    forwarded = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "192.0.2.1, 198.51.100.7"}
    _reveal(reader_client, secret, **forwarded)
    assert AuditEvent.objects.filter(action="secret.read_payload").first().source_ip == "10.0.0.5"

    settings.SM_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    _reveal(reader_client, secret, **forwarded)
    # The last address is the one the trusted proxy appended; the first is the client's claim.
    assert (
        AuditEvent.objects.filter(action="secret.read_payload").first().source_ip == "198.51.100.7"
    )
    # A header that holds no address falls back to REMOTE_ADDR.
    _reveal(reader_client, secret, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert AuditEvent.objects.filter(action="secret.read_payload").first().source_ip == "10.0.0.5"


def test_client_address_normalises_and_refuses_what_is_not_an_address(rf, settings):
    assert client_address(rf.get("/", REMOTE_ADDR="2001:DB8::1")) == "2001:db8::1"
    assert client_address(rf.get("/", REMOTE_ADDR="")) is None
    settings.SM_TRUSTED_PROXY_HEADER = "X-Real-IP"
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="192.0.2.44")) == (
        "192.0.2.44"
    )


def test_an_api_call_records_the_api_and_the_service_id(api_as):
    secret = create_secret(name="api-origin", payload="v")
    headers, sid = api_as("SecretsReader")
    response = Client().get(
        f"/api/v2/secrets/{secret.pk}", headers=headers, REMOTE_ADDR="192.0.2.8"
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="secret.read_payload")
    assert (event.channel, event.source_ip, event.actor_type, event.actor_id) == (
        "api",
        "192.0.2.8",
        "service_id",
        sid.iam_id,
    )


def test_without_a_request_the_row_comes_from_the_worker(reader_client):
    # A request first: its origin must not outlive it.
    _reveal(reader_client, create_secret(name="before"))
    audit_record(actor=SYSTEM, action="test.sweep", object_type="secret", object_id="x")
    event = AuditEvent.objects.get(action="test.sweep")
    assert (event.channel, event.source_ip, event.actor_type) == ("worker", None, "system")


def test_the_principal_type_follows_the_actor():
    user = Actor(iam_id="IBMid-0000000042", name="alice")
    service = Actor(iam_id="iam-ServiceId-1234", name="deployer")
    for actor in (user, service, SYSTEM):
        audit_record(actor=actor, action="test.kind", object_type="t", object_id=actor.name)
    kinds = dict(
        AuditEvent.objects.filter(action="test.kind").values_list("object_id", "actor_type")
    )
    assert kinds == {"alice": "user", "deployer": "service_id", "system": "system"}


def test_over_long_names_are_cut_to_their_columns_not_refused():
    audit_record(
        actor=SYSTEM,
        action="test.long",
        object_type="t",
        object_id="i" * 200,
        object_name="n" * 900,
    )
    event = AuditEvent.objects.get(action="test.long")
    assert (len(event.object_id), len(event.object_name)) == (64, 256)
