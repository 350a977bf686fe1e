"""Concurrent writers: 50 rotations of one secret from several threads lose and double nothing,
and two workers running the same sweep at once never do the same work twice. Real transactions
(transaction=True); each thread closes its own database connection. On SQLite every transaction
begins IMMEDIATE (one writer at a time); on PostgreSQL the secret's row is locked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from console.models import AuditEvent
from engines_app.providers.embedded.iam.models import ApiKey
from secrets_app.models import Secret, SecretState, SecretVersion
from secrets_app.services.leases import leases_expire
from secrets_app.services.reading import secret_reveal
from secrets_app.services.rotation import rotations_due, secret_rotate
from tests.factories import create_secret
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10
ROTATIONS = 50


def run_in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Start `count` threads together; return what each returned, in thread order. A thread's
    exception fails the test."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[n] = work(n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert not errors, errors
    return results


def test_fifty_concurrent_rotations_of_one_secret(group, writer):
    secret = create_secret(group=group, payload="v1")
    per_thread = ROTATIONS // THREADS

    def rotate(n: int) -> list[tuple[int, str]]:
        made = []
        for i in range(per_thread):
            value = f"thread-{n}-rotation-{i}"
            version = secret_rotate(principal=writer, secret_id=secret.pk, payload=value).version
            assert version is not None
            made.append((version.serial, value))
        return made

    made = [pair for chunk in run_in_threads(THREADS, rotate) for pair in chunk]
    serials = sorted(serial for serial, _ in made)
    assert serials == list(range(2, ROTATIONS + 2)), "consecutive, none lost, none doubled"
    value_of = dict(made)

    rows = list(
        SecretVersion.objects.filter(secret=secret)
        .order_by("serial")
        .values_list("serial", "alias", "payload_available")
    )
    # 51 versions were made; metadata is kept for the newest 50, so version 1's row is gone.
    assert [r[0] for r in rows] == list(range(2, ROTATIONS + 2))
    assert [r for r in rows if r[1]] == [(50, "previous", True), (51, "current", True)]
    assert [r for r in rows if r[2]] == [(50, "previous", True), (51, "current", True)]
    assert secret_reveal(principal=writer, secret_id=secret.pk).payload == value_of[51]
    assert (
        secret_reveal(principal=writer, secret_id=secret.pk, version="previous").payload
        == value_of[50]
    )
    stored = Secret.objects.get(pk=secret.pk)
    assert stored.versions_total == 50
    audited = AuditEvent.objects.filter(action="secret.rotate", object_id=str(secret.pk))
    assert sorted(e.detail["serial"] for e in audited) == serials


def test_concurrent_reads_of_a_reuse_off_iam_secret(group, people, iam_engine):
    """Each read issues its own key as a new version: none lost, none doubled."""
    reader = people["SecretsReader"]
    secret = f.iam_secret(group=group, reuse=False, static_service_id=f.service_id())

    def read(_: int) -> tuple[int, str]:
        revealed = secret_reveal(principal=reader, secret_id=secret.pk)
        return revealed.version.serial, revealed.payload["api_key_id"]

    reads = run_in_threads(THREADS, read)
    assert sorted(serial for serial, _ in reads) == list(range(2, THREADS + 2))
    assert len({key for _, key in reads}) == THREADS
    live = set(ApiKey.objects.filter(service_id_id=secret.service_id).values_list("pk", flat=True))
    newest = dict(reads)
    assert live == {newest[THREADS + 1], newest[THREADS]}, "only current and previous keep a key"
    assert all(ApiKey.objects.get(pk=pk).protected for pk in live)


def test_two_workers_rotate_each_due_secret_once(group, iam_engine, clock):
    daily = {"auto_rotate": True, "interval": 1, "unit": "day"}
    secrets = [f.iam_secret(group=group, ttl="2d", rotation=daily) for _ in range(6)]
    clock.advance(days=1)
    rotated = run_in_threads(2, lambda _: rotations_due())
    assert sum(rotated) == 6
    for secret in secrets:
        assert SecretVersion.objects.filter(secret=secret).count() == 2
    assert AuditEvent.objects.filter(action="secret.rotate").count() == 6


def test_two_workers_expire_each_secret_once(group, clock):
    secrets = [
        create_secret(group=group, expiration_date=clock.now + timedelta(hours=1)) for _ in range(8)
    ]
    clock.advance(hours=1)
    expired = run_in_threads(2, lambda _: leases_expire())
    assert sum(r["secrets"] for r in expired) == 8
    assert all(Secret.objects.get(pk=s.pk).state == SecretState.DESTROYED for s in secrets)
    assert AuditEvent.objects.filter(action="secret.expire").count() == 8
