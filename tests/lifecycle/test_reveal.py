"""Reveal (secret_reveal): audited with its reason, marks downloaded and retrieved_at; IAM
credentials with reuse off issue a new key (a new version) on every read, with reuse on they do
not; every key Secrets Manager issues is protected (IBM's lock) in the embedded IAM."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from console.errors import AccessDeniedError, ConflictError, NotFoundError, ServiceError
from console.identity import actor_for_user
from console.models import AuditEvent
from engines_app.providers.embedded.iam import services as iam_services
from engines_app.providers.embedded.iam import tokens as iam_tokens
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from secrets_app.models import Secret, SecretState, SecretVersion
from secrets_app.services.reading import REASON_MAX, secret_reveal
from secrets_app.services.rotation import secret_rotate
from tests.factories import create_secret, create_user
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db


def test_reveal_is_audited_with_its_reason_and_marks_downloaded(group, people, clock):
    reader = people["SecretsReader"]
    secret = create_secret(group=group, payload="open sesame")
    assert not secret.downloaded and secret.retrieved_at is None
    clock.advance(minutes=5)
    revealed = secret_reveal(principal=reader, secret_id=secret.pk, reason="  incident 42  ")
    assert revealed.payload == "open sesame" and revealed.version.serial == 1
    assert revealed.version.downloaded
    event = AuditEvent.objects.get(action="secret.read_payload")
    assert (event.actor_id, event.object_id, event.object_name) == (
        reader.iam_id,
        str(secret.pk),
        secret.name,
    )
    assert event.detail == {
        "version_id": str(revealed.version.pk),
        "serial": 1,
        "reason": "incident 42",
    }
    secret.refresh_from_db()
    assert secret.downloaded and secret.retrieved_at == clock.now
    # Without a reason the event has none.
    clock.advance(minutes=5)
    secret_reveal(principal=reader, secret_id=secret.pk)
    latest = AuditEvent.objects.filter(action="secret.read_payload").first()
    assert "reason" not in latest.detail
    assert Secret.objects.get(pk=secret.pk).retrieved_at == clock.now


def test_reveal_of_previous_and_by_id(group, writer):
    secret = create_secret(group=group, payload="one")
    secret_rotate(principal=writer, secret_id=secret.pk, payload="two")
    first = SecretVersion.objects.get(secret=secret, serial=1)
    assert secret_reveal(principal=writer, secret_id=secret.pk, version="previous").payload == "one"
    assert (
        secret_reveal(principal=writer, secret_id=secret.pk, version=str(first.pk)).payload == "one"
    )
    first.refresh_from_db()
    assert first.downloaded
    assert not SecretVersion.objects.get(secret=secret, serial=2).downloaded


def test_a_version_without_payload_says_why(group, writer):
    secret = create_secret(group=group, payload="one")
    for value in ("two", "three"):
        secret_rotate(principal=writer, secret_id=secret.pk, payload=value)
    first = SecretVersion.objects.get(secret=secret, serial=1)
    with pytest.raises(NotFoundError) as exc:
        secret_reveal(principal=writer, secret_id=secret.pk, version=str(first.pk))
    assert "only the current and previous versions keep their payload" in exc.value.message
    assert not AuditEvent.objects.filter(action="secret.read_payload").exists()


@pytest.mark.parametrize("version", ["latest", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_version_is_404(group, writer, version):
    secret = create_secret(group=group)
    with pytest.raises(NotFoundError):
        secret_reveal(principal=writer, secret_id=secret.pk, version=version)


def test_reason_is_at_most_256_characters(group, writer):
    secret = create_secret(group=group)
    with pytest.raises(ValidationError) as exc:
        secret_reveal(principal=writer, secret_id=secret.pk, reason="x" * (REASON_MAX + 1))
    assert list(exc.value.message_dict) == ["reason"]
    assert not Secret.objects.get(pk=secret.pk).downloaded


def test_an_unknown_secret_is_404_and_another_groups_secret_403(group, writer):
    with pytest.raises(NotFoundError):
        secret_reveal(principal=writer, secret_id="not-a-uuid")
    elsewhere = create_secret()
    with pytest.raises(AccessDeniedError):
        secret_reveal(principal=writer, secret_id=elsewhere.pk)


def test_a_destroyed_secret_has_nothing_to_read(group, writer, clock):
    secret = create_secret(group=group, expiration_date=clock.now + timedelta(days=1))
    Secret.objects.filter(pk=secret.pk).update(state=SecretState.DESTROYED)
    with pytest.raises(ConflictError, match="destroyed"):
        secret_reveal(principal=writer, secret_id=secret.pk)


def test_iam_reuse_on_reads_return_the_same_key(group, people, iam_engine):
    reader = people["SecretsReader"]
    secret = f.iam_secret(group=group, reuse=True)
    values = {
        secret_reveal(principal=reader, secret_id=secret.pk).payload["api_key"] for _ in "abc"
    }
    assert len(values) == 1
    assert (
        secret.versions.count() == 1
        and ApiKey.objects.filter(service_id=secret.service_id).count() == 1
    )
    assert ApiKey.objects.get(service_id=secret.service_id).protected


def test_iam_reuse_off_every_read_issues_a_new_key(group, people, iam_engine, clock):
    reader = people["SecretsReader"]
    sid = f.service_id()
    secret = f.iam_secret(group=group, reuse=False, static_service_id=sid, ttl="1h")
    creation_key = f.api_key_of(secret.versions.get())
    seen = []
    for n in (2, 3, 4):
        clock.advance(minutes=1)
        revealed = secret_reveal(principal=reader, secret_id=secret.pk)
        assert revealed.version.serial == n and revealed.version.alias == "current"
        assert revealed.version.expiration_date == clock.now + timedelta(hours=1)
        seen.append(revealed.payload)
        key = ApiKey.objects.get(pk=revealed.payload["api_key_id"])
        assert key.service_id_id == sid.pk and key.protected
        assert iam_tokens.token_issue(apikey=revealed.payload["api_key"])["access_token"]
    assert len({p["api_key"] for p in seen}) == 3
    secret.refresh_from_db()
    assert secret.versions_total == 4 and secret.expiration_date == clock.now + timedelta(hours=1)
    # Only current and previous keep their key; the keys of the versions that dropped out
    # (the creation's key and the first read's) are deleted from IAM.
    live = set(ApiKey.objects.filter(service_id=sid).values_list("pk", flat=True))
    assert live == {seen[-1]["api_key_id"], seen[-2]["api_key_id"]}
    assert creation_key.pk not in live
    # Reading the previous version issues nothing new.
    assert (
        secret_reveal(principal=reader, secret_id=secret.pk, version="previous").payload == seen[-2]
    )
    assert Secret.objects.get(pk=secret.pk).versions_total == 4


def test_issued_keys_are_protected_and_cannot_be_unlocked_or_deleted_by_hand(
    group, people, iam_engine
):
    sid = f.service_id()
    secret = f.iam_secret(group=group, reuse=True, static_service_id=sid)
    key = f.api_key_of(secret.versions.get())
    assert key.protected and not key.locked, "IBM's lock: the key keeps working"
    # Not even an administrator of the account may, by hand.
    someone = actor_for_user(create_user(username="root", is_superuser=True))
    for attempt in (
        lambda: iam_services.api_key_set_locked(actor=someone, api_key_id=key.pk, locked=True),
        lambda: iam_services.api_key_delete(actor=someone, api_key_id=key.pk),
    ):
        with pytest.raises(AccessDeniedError, match="managed by Secrets Manager"):
            attempt()
    key.refresh_from_db()
    assert key.protected and not key.locked
    # A read locks again any key that lost its protection (IBM: "even if you manually unlock
    # them before retrieving the secret").
    ApiKey.objects.filter(pk=key.pk).update(protected=False)
    secret_reveal(principal=people["SecretsReader"], secret_id=secret.pk)
    key.refresh_from_db()
    assert key.protected


def test_iam_reuse_off_read_when_no_key_can_be_issued(group, people, iam_engine):
    sid = f.service_id()
    secret = f.iam_secret(group=group, reuse=False, static_service_id=sid)
    ServiceId.objects.filter(pk=sid.pk).update(locked=True)
    with pytest.raises(ServiceError) as exc:
        secret_reveal(principal=people["SecretsReader"], secret_id=secret.pk)
    assert not isinstance(exc.value, ValidationError)
    assert f"A new API key could not be issued for service ID {sid.pk}" in exc.value.message
    assert secret.versions.count() == 1
    assert not AuditEvent.objects.filter(action="secret.read_payload").exists()
