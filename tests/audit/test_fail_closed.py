"""Fail closed: when the audit row of a value read cannot be written, the read fails. The value
is not returned, and the read's other effects (downloaded, retrieved_at, a key minted for it)
roll back with it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError
from django.test import Client

from console.models import AuditEvent
from engines_app.providers.embedded.iam.models import ApiKey
from secrets_app.models import Secret, SecretVersion
from tests.factories import create_secret, create_user, grant
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db

CANARY = "CANARY-fail-closed-7b1f0c"


@pytest.fixture
def audit_down(monkeypatch):
    """The audit log refuses every value-read row (as a full disk or a revoked grant would)."""
    save = AuditEvent.save
    refused: list[str] = []

    def failing_save(self, *args, **kwargs):
        if self.action == "secret.read_payload":
            refused.append(self.object_id)
            raise DatabaseError("the audit log is unavailable")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(AuditEvent, "save", failing_save)
    return refused


def _untouched(secret: Secret) -> None:
    secret.refresh_from_db()
    assert not secret.downloaded and secret.retrieved_at is None
    assert not SecretVersion.objects.filter(secret=secret, downloaded=True).exists()
    assert not AuditEvent.objects.filter(action="secret.read_payload").exists()


def test_console_reveal_fails_without_the_value(audit_down):
    user = create_user(username="closed-reader")
    grant(user, "SecretsReader")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    secret = create_secret(name="closed", payload=CANARY)
    response = client.post(f"/secrets/{secret.pk}/reveal/", {"version": "current"})
    assert audit_down == [str(secret.pk)]  # the read did try to write its row
    assert response.status_code == 500
    assert CANARY.encode() not in response.content
    _untouched(secret)


@pytest.mark.parametrize("version", [False, True])
def test_api_get_fails_without_the_value(audit_down, api_as, version):
    secret = create_secret(name="closed-api", payload=CANARY)
    headers, _ = api_as("SecretsReader")
    url = f"/api/v2/secrets/{secret.pk}"
    if version:
        url += f"/versions/{secret.versions.get().pk}"
    response = Client(raise_request_exception=False).get(url, headers=headers)
    assert audit_down == [str(secret.pk)]
    assert response.status_code == 500
    assert response.json()["errors"][0]["code"] == "internal_error"
    assert CANARY.encode() not in response.content
    _untouched(secret)


def test_a_key_minted_for_a_read_that_fails_is_rolled_back(audit_down, group, iam_engine):
    secret = f.iam_secret(group=group, reuse=False, static_service_id=f.service_id(), ttl="1h")
    keys = ApiKey.objects.count()
    user = create_user(username="iam-closed")
    grant(user, "SecretsReader", group=group)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    response = client.post(f"/secrets/{secret.pk}/reveal/", {"version": "current"})
    assert response.status_code == 500 and audit_down == [str(secret.pk)]
    assert ApiKey.objects.count() == keys
    assert Secret.objects.get(pk=secret.pk).versions_total == 1
    _untouched(secret)


def test_when_the_audit_log_works_the_same_read_succeeds(api_as):
    """The control: the fixture, not the read, made the reads above fail."""
    secret = create_secret(name="open-api", payload=CANARY)
    headers, _ = api_as("SecretsReader")
    response = Client().get(f"/api/v2/secrets/{secret.pk}", headers=headers)
    assert response.status_code == 200 and CANARY in response.content.decode()
