"""The database locked while a job reports: the report gets a clear, retryable 503, and the job's
retry (the sample jobs' bounded retries with backoff) succeeds once the lock is gone.

Another connection holds the lock for longer than the console waits for one: on SQLite a write
transaction (BEGIN IMMEDIATE) against the busy timeout, on PostgreSQL an ACCESS EXCLUSIVE lock on
the task table against a lock_timeout. The first test shortens the console's waits to 2 seconds;
the second keeps them as shipped (20 s on SQLite; on PostgreSQL as long as the lock lasts, so
there the job's own request timeout, 30 s, ends its first attempt instead).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator

from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
from engines_app.providers.embedded.iam import services as iam
from secrets_app.models import Secret, SecretState, SecretTask, TaskStatus
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.cloud_fixtures import wait_for_task, wait_until
from tests.faults.consistency import assert_consistent
from tests.faults.jobs import GATED, job_configuration, raw_output, token_is_live

pytestmark = pytest.mark.django_db(transaction=True)

CONSOLE_LOCK_WAIT_SECONDS = 2


def db_options() -> dict[str, Any]:
    """The OPTIONS of the connections that threads of this process open from now on (the live
    server's request threads, the job supervisors): the very dict they are made from."""
    shared = connections.settings["default"]
    assert shared is connection.settings_dict, "connections are not made from one dict"
    options: dict[str, Any] = shared.setdefault("OPTIONS", {})
    return options


@pytest.fixture
def short_lock_waits(monkeypatch) -> None:
    """Connections opened from now on by this process's threads (the live server's) give up
    waiting for a lock after CONSOLE_LOCK_WAIT_SECONDS."""
    options = db_options()
    if connection.vendor == "sqlite":
        monkeypatch.setitem(options, "timeout", CONSOLE_LOCK_WAIT_SECONDS)
    else:
        monkeypatch.setitem(
            options, "options", f"-c lock_timeout={CONSOLE_LOCK_WAIT_SECONDS * 1000}"
        )


@contextlib.contextmanager
def database_locked() -> Iterator[None]:
    """Hold a lock that blocks every report, from a connection of the test's own."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        raw = sqlite3.connect(settings["NAME"], isolation_level=None, timeout=30)
        try:
            raw.execute("BEGIN IMMEDIATE")
            yield
            raw.execute("ROLLBACK")
        finally:
            raw.close()
        return
    import psycopg

    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    ) as raw:
        # psycopg opens a transaction for the statement; the lock lasts until the rollback.
        raw.execute(f'LOCK TABLE "{SecretTask._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
        yield
        raw.rollback()


def _report(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())


def _waiting_at_the_gate(cloud, gate) -> tuple[Secret, SecretTask]:
    """A secret whose GATED job runs and waits to create its token."""
    job_configuration(cloud, name="gated", script=GATED, gate=gate)
    secret = custom_credentials_secret_create(
        actor=cloud["actor"],
        name=f"locked-{uuid.uuid4().hex[:8]}",
        configuration="gated",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    task = secret.tasks.get()
    wait_until(lambda: "waiting at the gate" in raw_output(task.pk), what="the job to start")
    return secret, task


def _assert_reported_once(secret: Secret, task: SecretTask) -> None:
    task = wait_for_task(secret.pk, timeout=120)
    run = wait_until(
        lambda: JobRun.objects.filter(name=task.pk, ended_at__isnull=False).first(),
        timeout=60,
        what="the run to end",
    )
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    assert run.status == RunStatus.SUCCEEDED and run.exit_code == 0, run.stderr
    assert "task updated: credentials_created" in run.stdout and "undoing" not in run.stderr
    state = assert_consistent(secret)
    assert state.secret.state == SecretState.ACTIVE and len(state.versions) == 1
    assert state.current is not None and token_is_live(state.current)


def test_a_report_during_a_database_lock_gets_503_and_the_jobs_retry_succeeds(
    cloud, q_sync, gate, short_lock_waits
):
    secret, task = _waiting_at_the_gate(cloud, gate)
    _, key = iam.api_key_create(
        actor=cloud["actor"], name="probe", service_id=cloud["job_service_id"]
    )
    token = IAMAuthenticator(key, url=cloud["url"]).token_manager.get_token()

    with database_locked():
        # What any report meets now (this one names no task, so it could change nothing).
        status, headers, error = _report(
            f"{cloud['url']}/api/v2/secrets/{secret.pk}/tasks/sm-task-{uuid.uuid4()}",
            token,
            {"status": "failed", "errors": [{"code": "E1", "description": "probe"}]},
        )
        assert status == 503, error
        assert error["errors"][0]["code"] == "service_unavailable"
        assert "retry" in error["errors"][0]["message"] and error["trace"]
        assert headers.get("Retry-After") == "1"

        gate.open(task.pk)  # the job creates its token and reports: into the lock
        wait_until(
            lambda: "credentials_created): HTTP 503, retrying" in raw_output(task.pk, "stderr"),
            timeout=60,
            what="the job to be told 503 and retry",
        )

    _assert_reported_once(secret, task)


def test_with_the_lock_waits_as_shipped_the_report_lands_once(cloud, q_sync, gate):
    """SQLite gives up on the lock after 20 s and answers 503, which the job hears (its request
    waits 30 s) and retries. PostgreSQL waits as long as the lock lasts: the job's first request
    times out and its retry queues behind it; once the lock goes, one of the two stores the
    credentials and the other is answered as the repeat it is, so the job keeps its token."""
    secret, task = _waiting_at_the_gate(cloud, gate)
    told = (
        "credentials_created): HTTP 503, retrying"
        if connection.vendor == "sqlite"
        else "credentials_created): connection error (TimeoutError), retrying"
    )
    with database_locked():
        gate.open(task.pk)
        wait_until(
            lambda: told in raw_output(task.pk, "stderr"),
            timeout=120,
            what="the job's first report to fail and be retried",
        )
    _assert_reported_once(secret, task)
