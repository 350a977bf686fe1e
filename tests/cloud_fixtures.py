"""Fixtures for tests that need the embedded cloud: a live console, the seeded cloud, SDK clients.

Loaded for every test through `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
from ibm_secrets_manager_sdk.secrets_manager_v2 import SecretsManagerV2

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import ServiceId
from secrets_app import seed
from secrets_app.models import SecretGroup, SecretTask

ROOT = Path(__file__).resolve().parents[1]


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 30, what: str = "condition"
) -> Any:
    """Poll a condition (job runs are separate processes: there is no event to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for_task(secret_id: Any, *, timeout: float = 30) -> SecretTask:
    def finished() -> SecretTask | None:
        task = SecretTask.objects.filter(secret_id=secret_id).order_by("-creation_date").first()
        return task if task and task.is_terminal else None

    return wait_until(finished, timeout=timeout, what=f"the task of secret {secret_id} to finish")


@pytest.fixture(autouse=True)
def _supervisors_finish():
    """Every job run a test started ends before the next test touches the database (its
    supervising threads use the test's database)."""
    from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
    from engines_app.providers.embedded.code_engine.supervisor import pool

    yield
    if not pool.wait_idle(timeout=30):
        for pid in JobRun.objects.filter(status=RunStatus.RUNNING, pid__isnull=False).values_list(
            "pid", flat=True
        ):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        assert pool.wait_idle(timeout=30), "job runs were still supervised after the test"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """On PostgreSQL, let the live server's request threads drop their database connections
    before the test database is dropped: DROP DATABASE fails while any other session is connected
    ("database ... is being accessed by other users"); SQLite just deletes the file.

    Such a thread serves one kept-alive client socket and keeps its connection (CONN_MAX_AGE)
    until that socket closes. An SDK client left in a garbage cycle (an ApiException's response
    holds its connection pool, and requests' Session.close() does not close urllib3 2's pools)
    keeps its socket open until the cycle is collected.
    """
    yield
    if connection.vendor != "postgresql":
        return
    gc.collect()
    with django_db_blocker.unblock():
        wait_until(
            lambda: _other_sessions() == 0,
            timeout=10,
            what="the other sessions on the test database to end",
        )
        connection.close()


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.fixture
def q_sync(monkeypatch):
    """Run django-q2 tasks inline (the job itself still runs as its own process)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def cloud(live_server, settings) -> dict[str, Any]:
    """The seeded embedded cloud, with jobs calling back to the live server."""
    settings.SM_PUBLIC_URL = live_server.url
    actor = Actor(iam_id="IBMid-0000000999", name="test-admin", system=True)
    project = seed.seed_code_engine(actor=actor)
    seed.seed_iam_engine(actor=actor)
    key_secret = seed.seed_provider_access(actor=actor)
    seed.seed_configurations(actor=actor, project=project, api_key_secret=key_secret)
    return {
        "actor": actor,
        "project": project,
        "group": SecretGroup.objects.get(name=seed.PROVIDER_GROUP),
        "job_service_id": ServiceId.objects.get(name=seed.JOB_SERVICE_ID),
        "url": live_server.url,
    }


def sdk_for(service_id: ServiceId, url: str) -> SecretsManagerV2:
    _, value = iam.api_key_create(
        actor=Actor(iam_id="IBMid-0000000999", name="test", system=True),
        name="sdk",
        service_id=service_id,
    )
    client = SecretsManagerV2(authenticator=IAMAuthenticator(value, url=url))
    client.set_service_url(url)
    return client


@pytest.fixture
def qcluster(cloud, tmp_path):
    """A real `manage.py qcluster` on the test database, dispatching jobs to the live server."""
    env = dict(
        os.environ,
        Q_SYNC="0",
        SM_DB_NAME=str(connection.settings_dict["NAME"]),
        SM_PUBLIC_URL=cloud["url"],
    )
    with open(tmp_path / "qcluster.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
