"""Secret locks in the console: the Versions tab shows them, the rotate and restore previews say
which locks block or stay, and the refusals hold for a forced POST and for the scheduled
rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.models import AuditEvent
from secrets_app.models import Secret, SecretVersion
from secrets_app.services.locks import locks_create
from secrets_app.services.rotation import SYSTEM_PRINCIPAL, rotations_due, secret_rotate
from tests.history.conftest import CANARY
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db

PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "tab-panel"}


def _lock(secret: Secret, *names: str, version: str = "current", **extra: object) -> None:
    locks_create(
        principal=SYSTEM_PRINCIPAL,
        secret_id=secret.pk,
        version=version,
        locks=[{"name": n, **extra} for n in names],
    )


def test_the_versions_tab_shows_each_versions_locks_in_one_query(clients, arbitrary):
    _lock(arbitrary, "billing-app", description="Billing reads it", attributes={"crn": "crn:v1:b"})
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload="second")
    _lock(arbitrary, "audit-job")
    url = reverse("secrets:versions", args=[arbitrary.pk])
    for headers in ({}, PANEL):
        with CaptureQueriesContext(connection) as queries:
            page = clients["Reader"].get(url, **headers)
        assert page.status_code == 200
        lock_queries = [q for q in queries.captured_queries if "secretlock" in q["sql"]]
        assert len(lock_queries) == 1
        html = page.content.decode()
        v2 = html[html.index('id="history-version-2"') : html.index('id="history-version-1"')]
        v1 = html[html.index('id="history-version-1"') :]
        assert "audit-job" in v2 and "billing-app" not in v2
        assert "billing-app" in v1 and "Billing reads it" in v1
        assert "{&quot;crn&quot;: &quot;crn:v1:b&quot;}" in v1
        assert CANARY not in html


def test_the_rotate_preview_names_the_blocking_locks_and_a_forced_post_is_refused(
    clients, arbitrary
):
    _lock(arbitrary, "legacy-app", description="Still on v1")
    url = reverse("secrets:rotate", args=[arbitrary.pk])
    # The lock is on the current version: a rotation keeps it, on the version that becomes previous.
    preview = clients["Writer"].get(url).content.decode()
    assert 'data-testid="locks-staying"' in preview and "legacy-app" in preview
    assert 'data-testid="rotate-blocker"' not in preview
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=arbitrary.pk, payload="second")

    blocked = clients["Writer"].get(url).content.decode()
    assert 'data-testid="rotate-blocker"' in blocked and 'data-testid="locks-blocking"' in blocked
    assert "legacy-app" in blocked and "version 1 (previous)" in blocked
    assert 'disabled aria-describedby="rotate-blocker"' in blocked
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        forced = clients["Writer"].post(url, {"payload": "third"}, **headers)
        assert forced.status_code == 422
        body = forced.content.decode()
        assert "locked" in body and "legacy-app" in body
    assert SecretVersion.objects.filter(secret=arbitrary).count() == 2


def test_the_restore_preview_is_blocked_by_locks_on_the_version_it_replaces(clients, iam):
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=iam.pk)
    previous = iam.versions.get(alias="previous")
    url = reverse("secrets:version-restore", args=[iam.pk, previous.pk])
    _lock(iam, "rollback-guard", version="previous")
    _lock(iam, "deployer")
    page = clients["Writer"].get(url).content.decode()
    assert 'data-testid="restore-lock-blocker"' in page
    assert "rollback-guard" in page and 'data-testid="locks-staying"' in page
    assert 'disabled aria-describedby="restore-blocker"' in page
    forced = clients["Writer"].post(url)
    assert forced.status_code == 422
    assert "rollback-guard" in forced.content.decode()
    assert iam.versions.count() == 2
    assert not AuditEvent.objects.filter(action="secret.restore").exists()


def test_a_scheduled_rotation_fails_cleanly_on_a_locked_previous_version(iam):
    iam.rotation = {"auto_rotate": True, "interval": 1, "unit": "day"}
    iam.next_rotation_date = timezone.now() - timedelta(minutes=1)
    iam.save(update_fields=["rotation", "next_rotation_date"])
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=iam.pk)
    _lock(iam, "batch-reader", version="previous")
    Secret.objects.filter(pk=iam.pk).update(
        next_rotation_date=timezone.now() - timedelta(minutes=1)
    )
    keys_before = {v.credentials_id for v in iam.versions.all()}

    assert rotations_due() == 0
    iam.refresh_from_db()
    assert iam.last_rotation_failed
    assert {v.credentials_id for v in iam.versions.all()} == keys_before
    failed = AuditEvent.objects.get(action="secret.rotate_failed", object_id=str(iam.pk))
    assert "batch-reader" in failed.detail["reason"]
    # No API key was left behind by the refused rotation.
    assert all(f.api_key_of(v) is not None for v in iam.versions.all())
