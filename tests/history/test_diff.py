"""The redacted diff: per-field marks from keyed hashes made at write time, with and without a
kept payload, and never a value."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.urls import reverse

from console import crypto
from secrets_app.models import Secret, SecretVersion
from secrets_app.services.history import version_diff
from secrets_app.services.rotation import SYSTEM_PRINCIPAL, secret_rotate
from secrets_app.services.versions import version_add
from tests.history.conftest import CANARY
from tests.lifecycle.factories import ADMIN

pytestmark = pytest.mark.django_db


def _add(secret: Secret, payload: object) -> SecretVersion:
    with transaction.atomic():
        locked = Secret.objects.select_for_update().get(pk=secret.pk)
        return version_add(actor=ADMIN, secret=locked, payload=payload)  # type: ignore[arg-type]


def _marks(secret: Secret, a: SecretVersion, b: SecretVersion) -> dict[str, str]:
    diff = version_diff(secret=secret, a=a, b=b)
    assert diff.comparable, diff.why_not
    return {row.path: row.mark for row in diff.fields}


def test_digests_are_keyed_hashes_of_each_field_and_hold_no_value(arbitrary):
    version = arbitrary.versions.get()
    digests = version.payload_digests
    assert digests["key_id"] == crypto.current_keyring().active_id
    assert set(digests["fields"]) == {"payload"}
    assert len(digests["fields"]["payload"]) == 64
    assert CANARY not in json.dumps(digests)


def test_string_payload_changed_and_unchanged(arbitrary):
    v1 = arbitrary.versions.get()
    v2 = secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload=CANARY).version
    v3 = secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload="other").version
    assert v2 is not None and v3 is not None
    assert _marks(arbitrary, v1, v2) == {"payload": "unchanged"}
    assert _marks(arbitrary, v2, v3) == {"payload": "changed"}


def test_dict_payload_changed_unchanged_added_removed_with_and_without_kept_payload(arbitrary):
    old = _add(arbitrary, {"user": "alice", "token": CANARY, "db": {"host": "h1", "port": 5432}})
    new = _add(arbitrary, {"user": "alice", "token": "t2", "db": {"host": "h1"}, "scope": "x"})
    expected = {
        "user": "unchanged",
        "token": "changed",
        "db.host": "unchanged",
        "db.port": "removed",
        "scope": "added",
    }
    assert _marks(arbitrary, old, new) == expected
    # Two more versions: `old` loses its payload (only current and previous keep one).
    _add(arbitrary, "x")
    _add(arbitrary, "y")
    old.refresh_from_db()
    new.refresh_from_db()
    assert not old.payload_available and not new.payload_available
    assert _marks(arbitrary, new, old) == expected  # the older one is always "from"


def test_hashes_differ_between_secrets_for_the_same_value(group):
    from tests.factories import create_secret

    one = create_secret(group=group, payload="same").versions.get()
    two = create_secret(group=group, payload="same").versions.get()
    assert one.payload_digests["fields"] != two.payload_digests["fields"]


def test_a_changed_root_key_is_not_comparable(arbitrary):
    v1 = arbitrary.versions.get()
    v2 = _add(arbitrary, "next")
    SecretVersion.objects.filter(pk=v1.pk).update(
        payload_digests={**v1.payload_digests, "key_id": "rk-0000000000000000"}
    )
    v1.refresh_from_db()
    diff = version_diff(secret=arbitrary, a=v1, b=v2)
    assert not diff.comparable and diff.fields == []
    assert "the root key changed" in diff.why_not


def test_versions_without_digests_are_not_comparable(arbitrary):
    v1 = arbitrary.versions.get()
    v2 = _add(arbitrary, "next")
    SecretVersion.objects.filter(pk=v1.pk).update(payload_digests={})
    v1.refresh_from_db()
    diff = version_diff(secret=arbitrary, a=v1, b=v2)
    assert not diff.comparable
    assert "version 1 was written before" in diff.why_not


def test_metadata_differences_are_shown_in_full(arbitrary):
    v1 = arbitrary.versions.get()
    with transaction.atomic():
        locked = Secret.objects.select_for_update().get(pk=arbitrary.pk)
        v2 = version_add(
            actor=ADMIN, secret=locked, payload="n", version_custom_metadata={"ticket": "OPS-7"}
        )
    diff = version_diff(secret=arbitrary, a=v1, b=v2)
    assert [(m.name, m.mark, m.new) for m in diff.metadata] == [("ticket", "added", "OPS-7")]
    assert {f.name: f.mark for f in diff.facts}["Created"] == "changed"


def test_diff_page_marks_fields_and_never_sends_a_value(clients, arbitrary):
    old = _add(arbitrary, {"user": "alice", "token": CANARY, "gone": "1"})
    new = _add(arbitrary, {"user": "alice", "token": "second-token-Qz7", "fresh": "2"})
    url = reverse("secrets:versions-diff", args=[arbitrary.pk])
    for hx in ({}, {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "tab-panel"}):
        response = clients["Reader"].get(url, {"a": str(old.pk), "b": str(new.pk)}, **hx)
        assert response.status_code == 200
        html = response.content.decode()
        assert CANARY not in html and "second-token-Qz7" not in html
        for field, mark in (
            ("user", "unchanged"),
            ("token", "changed"),
            ("gone", "removed"),
            ("fresh", "added"),
        ):
            assert f'data-field="{field}" data-mark="{mark}"' in html
        assert "1 changed, 1 unchanged, 1 added, 1 removed." in html
        assert ("<html" in html) is (not hx)


def test_diff_page_defaults_to_previous_and_current_and_refuses_bad_choices(clients, arbitrary):
    _add(arbitrary, "second")
    url = reverse("secrets:versions-diff", args=[arbitrary.pk])
    response = clients["Reader"].get(url)
    assert response.status_code == 200
    assert "Version 1 → version 2" in response.content.decode()
    response = clients["Reader"].get(url, {"a": "nope", "b": ""})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Choose a version of this secret to compare from." in html
    v1 = arbitrary.versions.get(serial=1)
    response = clients["Reader"].get(url, {"a": str(v1.pk), "b": str(v1.pk)})
    assert response.status_code == 422
    assert "Choose two different versions." in response.content.decode()


def test_diff_of_another_secrets_version_is_refused(clients, arbitrary, group):
    from tests.factories import create_secret

    other = create_secret(group=group, payload="p").versions.get()
    mine = arbitrary.versions.get()
    url = reverse("secrets:versions-diff", args=[arbitrary.pk])
    response = clients["Reader"].get(url, {"a": str(other.pk), "b": str(mine.pk)})
    assert response.status_code == 422


def test_diff_needs_read_access(clients, arbitrary):
    url = reverse("secrets:versions-diff", args=[arbitrary.pk])
    assert clients["stranger"].get(url).status_code == 404
