"""Every refused attempt is in the audit log, in the console and in the API: who, which action,
on which object, denied. Once per refused request, and also when the refusal rolled back the
transaction it happened in."""

from __future__ import annotations

import contextlib

import pytest
from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import convert_exception_to_response
from django.db import transaction
from django.http import HttpResponse
from django.test import Client

from console.audit import audit_record
from console.audit_middleware import AuditMiddleware
from console.errors import AccessDeniedError
from console.identity import SYSTEM
from console.models import AuditEvent
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.iam import get_iam
from tests.factories import create_group, create_secret, create_user, grant

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def denied() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(outcome="denied").order_by("id"))


# --- The console ---------------------------------------------------------------------------


def test_a_reader_revealing_a_value_is_recorded_once_naming_the_secret():
    reader = create_user(username="meta-reader")
    grant(reader, "Reader")
    secret = create_secret(name="db-password", payload="never-shown")
    response = _client(reader).post(
        f"/secrets/{secret.pk}/reveal/", {"version": "current"}, REMOTE_ADDR="198.51.100.20"
    )
    assert response.status_code == 403
    [event] = denied()
    assert (event.actor_name, event.actor_type, event.action) == (
        "meta-reader",
        "user",
        "secret.read",
    )
    assert (event.object_type, event.object_id, event.object_name) == (
        "secret",
        str(secret.pk),
        "db-password",
    )
    assert (event.channel, event.source_ip) == ("console", "198.51.100.20")
    assert event.detail == {
        "needed_role": "SecretsReader",
        "method": "POST",
        "path": f"/secrets/{secret.pk}/reveal/",
        "status": 403,
    }
    assert not AuditEvent.objects.filter(action="secret.read_payload").exists()


def test_a_secret_outside_the_users_scope_is_404_and_still_recorded(stranger):
    secret = create_secret(name="elsewhere")
    response = _client(stranger).get(f"/secrets/{secret.pk}/")
    assert response.status_code == 404
    [event] = denied()
    assert (event.actor_name, event.action, event.object_id) == (
        "stranger",
        "secret.metadata.read",
        str(secret.pk),
    )
    assert event.detail["status"] == 404 and "outside" in event.detail["reason"]


def test_a_secret_that_does_not_exist_records_nothing(stranger):
    response = _client(stranger).get("/secrets/00000000-0000-4000-8000-000000000000/")
    assert response.status_code == 404
    assert denied() == []


def test_the_iam_pages_and_group_management_record_their_refusals(teammate_ro):
    client = _client(teammate_ro)
    assert client.get("/cloud/iam/service-ids/").status_code == 403
    assert client.post("/groups/new/", {"name": "mine", "description": ""}).status_code == 403
    assert [(e.action, e.object_type) for e in denied()] == [
        ("iam.manage", "instance"),
        ("secret_group.manage", "instance"),
    ]
    assert {e.actor_name for e in denied()} == {"reader"}


def test_a_403_that_no_check_recorded_is_recorded_on_its_url(teammate_ro):
    """A CSRF failure is refused by a middleware, before any access check runs."""
    secret = create_secret(name="csrf")
    client = Client(enforce_csrf_checks=True)
    client.force_login(teammate_ro)
    response = client.post(f"/secrets/{secret.pk}/reveal/", {"version": "current"})
    assert response.status_code == 403
    [event] = denied()
    assert (event.action, event.object_type, event.object_id, event.object_name) == (
        "http.forbidden",
        "url",
        "secrets:reveal",
        f"/secrets/{secret.pk}/reveal/",
    )
    assert event.actor_name == "reader" and event.detail["method"] == "POST"


def test_a_refusal_inside_a_rolled_back_transaction_is_kept(rf):
    """The refusal raises inside the view's transaction, which rolls back: its row is written
    by the middleware afterwards, while the allowed row of the rolled-back work is gone."""
    stranger = create_user(username="tx-stranger")
    principal = get_iam().principal_for_user(stranger)

    def view(request):
        try:
            with transaction.atomic():
                audit_record(
                    actor=SYSTEM, action="test.rolled_back", object_type="t", object_id="1"
                )
                iam.authorize(principal, "secret.delete", secret_group_id=None)
        except AccessDeniedError as exc:  # as the console's views present it
            raise PermissionDenied(exc.message) from None
        return HttpResponse("unreachable")

    handler = AuditMiddleware(convert_exception_to_response(view))
    request = rf.post("/test/", REMOTE_ADDR="192.0.2.99")
    request.user = stranger
    response = handler(request)
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="test.rolled_back").exists()
    [event] = denied()
    assert (event.action, event.object_type, event.actor_name, event.source_ip) == (
        "secret.delete",
        "instance",
        "tx-stranger",
        "192.0.2.99",
    )


def test_the_same_refusal_met_twice_in_a_request_is_one_row(rf):
    user = create_user(username="twice")
    principal = get_iam().principal_for_user(user)

    def view(request):
        for _ in range(2):
            with contextlib.suppress(AccessDeniedError):
                iam.authorize(principal, "secret.delete", secret_group_id=None)
        raise PermissionDenied("no")

    request = rf.get("/twice/")
    request.user = user
    assert AuditMiddleware(convert_exception_to_response(view))(request).status_code == 403
    assert len(denied()) == 1


# --- The API -------------------------------------------------------------------------------


def test_an_api_reader_getting_a_value_is_recorded_naming_the_secret(api_as):
    secret = create_secret(name="api-value", payload="never-shown")
    headers, sid = api_as("Reader")
    response = Client().get(f"/api/v2/secrets/{secret.pk}", headers=headers)
    assert response.status_code == 403
    [event] = denied()
    assert (event.actor_id, event.actor_type, event.channel) == (sid.iam_id, "service_id", "api")
    assert (event.action, event.object_type, event.object_id) == (
        "secret.read",
        "secret",
        str(secret.pk),
    )
    assert event.detail["needed_role"] == "SecretsReader" and event.detail["status"] == 403


def test_api_refusals_of_versions_deletes_and_other_groups(api_as):
    mine, theirs = create_group(name="mine"), create_group(name="theirs")
    secret = create_secret(name="in-mine", group=mine)
    other = create_secret(name="in-theirs", group=theirs)
    headers, _ = api_as("Writer", mine.pk)
    client = Client()
    assert client.delete(f"/api/v2/secrets/{secret.pk}", headers=headers).status_code == 403
    assert client.get(f"/api/v2/secrets/{other.pk}", headers=headers).status_code == 404
    rows = [(e.action, e.object_name, e.detail["status"]) for e in denied()]
    assert rows == [("secret.delete", "in-mine", 403), ("secret.read", "in-theirs", 404)]


def test_the_jobs_service_id_reading_a_value_is_recorded(api_as):
    group = create_group(name="provider-tasks")
    secret = create_secret(name="not-for-jobs", group=group)
    headers, sid = api_as("SecretTaskUpdater", group.pk)
    assert Client().get(f"/api/v2/secrets/{secret.pk}", headers=headers).status_code == 403
    [event] = denied()
    assert (event.actor_id, event.action, event.object_id) == (
        sid.iam_id,
        "secret.read",
        str(secret.pk),
    )


def test_a_refused_token_exchange_is_recorded_without_the_key():
    client = Client()
    grant_type = "urn:ibm:params:oauth:grant-type:apikey"
    wrong = "wrong-key-value-that-must-not-be-recorded"
    assert (
        client.post("/identity/token", {"grant_type": grant_type, "apikey": wrong}).status_code
        == 400
    )
    sid = iam.service_id_create(actor=SYSTEM, name="locked-one")
    key, value = iam.api_key_create(actor=SYSTEM, name="k", service_id=sid)
    iam.api_key_set_locked(actor=SYSTEM, api_key_id=key.pk, locked=True)
    assert (
        client.post("/identity/token", {"grant_type": grant_type, "apikey": value}).status_code
        == 400
    )
    unknown, locked = denied()
    assert (unknown.action, unknown.actor_type, unknown.object_id) == (
        "iam.token.issue",
        "anonymous",
        "",
    )
    assert unknown.detail["reason"] == "unknown API key"
    assert (locked.actor_id, locked.object_id, locked.detail["reason"]) == (
        sid.iam_id,
        key.pk,
        "API key locked",
    )
    for event in AuditEvent.objects.all():
        text = str(event.__dict__)
        assert wrong not in text and value not in text


def test_a_refusal_outside_any_request_is_written_at_once():
    """A background task or a command has no request whose end could write the row."""
    user = create_user(username="no-request")
    principal = get_iam().principal_for_user(user)
    with pytest.raises(Exception, match="not allowed to perform code_engine.manage"):
        iam.authorize(principal, "code_engine.manage", secret_group_id=None)
    [event] = denied()
    assert (event.action, event.channel, event.actor_name, event.source_ip) == (
        "code_engine.manage",
        "worker",
        "no-request",
        None,
    )
