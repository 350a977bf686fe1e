"""Scale-out: two real qcluster processes share one PostgreSQL and one Redis, as several worker
machines do in production (README, "Production"), and every task and every due sweep runs once.

What makes it once: the Redis broker hands each queued task to one cluster (BLPOP), and each
cluster's scheduler claims due schedules under a row lock (SELECT ... FOR UPDATE), so the second
scheduler to look finds them already moved on. The test holds those rows locked until both
schedulers wait for them, so that the two really race. The test proves it from both sides: from the
clusters' own logs (every task name is processed by exactly one cluster, and both clusters did
work) and from the effects (one django-q2 result, one job run, one version per task; each sweep's
work done once, its schedule advanced once).

It needs PostgreSQL and Redis (the PostgreSQL lane of .ci/run, `make test-postgres`); on SQLite
and the ORM broker it is skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Schedule, Success, Task

from console.models import AuditEvent
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import FINISHED_RUN_STATUSES, JobRun
from engines_app.schedules import SCHEDULES, ensure_schedules
from secrets_app.models import Secret, SecretState, SecretTask, TaskStatus, TaskTrigger
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.cloud_fixtures import ROOT, wait_for_task, wait_until
from tests.factories import create_secret

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="needs Redis (REDIS_URL): the PostgreSQL + Redis lane of .ci/run runs it",
    ),
]

CREATED = 8  # custom credentials secrets created while both clusters run
ROTATED = 3  # active secrets whose automatic rotation is due
STALE = 2  # tasks left processing past their timeout (a worker that died holding them)
RUN_FUNC = "secrets_app.tasks.secret_task_run"
# Each due schedule fires once; its next due time is an hour away, outside the test.
INTERVAL_MINUTES = 60


@pytest.fixture(autouse=True)
def _postgres_and_redis() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the PostgreSQL + Redis lane of .ci/run")
    assert settings.REDIS_URL and type(get_broker()).__name__ == "Redis", "the Redis broker"
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache"), "the Redis cache"


@dataclass
class Cluster:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        assert self.proc.poll() is None, f"qcluster {self.name} exited:\n{self.text()}"
        return "Q Cluster" in self.text() and " running." in self.text()

    def processed(self) -> list[str]:
        """Names of the tasks this cluster's monitor saved, one entry per processing."""
        return re.findall(r"Processed '[^']*' \(([^)]*)\)", self.text())


def _start(name: str, tmp_path: Path, public_url: str) -> Cluster:
    env = dict(
        os.environ,
        Q_SYNC="0",
        Q_WORKERS="2",
        LOG_LEVEL="INFO",
        SM_DB_NAME=str(connection.settings_dict["NAME"]),
        SM_PUBLIC_URL=public_url,
    )
    log = tmp_path / f"qcluster-{name}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Cluster(name=name, proc=proc, log=log)


def _stop(cluster: Cluster) -> None:
    # The parent only: it stops its sentinel and workers (SIGTERM to the group hangs shutdown).
    if cluster.proc.poll() is None:
        cluster.proc.send_signal(signal.SIGTERM)
    try:
        cluster.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.proc.pid, signal.SIGKILL)
        cluster.proc.wait()


@pytest.fixture
def clusters(cloud, tmp_path) -> Iterator[list[Cluster]]:
    started: list[Cluster] = []
    yield started
    for cluster in started:
        _stop(cluster)


@contextlib.contextmanager
def schedules_held() -> Iterator[Callable[[], int]]:
    """Lock every schedule row from a connection of its own; yield a count of the other sessions
    waiting for those locks (the clusters' schedulers: SELECT ... FOR UPDATE)."""
    table = Schedule._meta.db_table
    holder = connection.get_new_connection(connection.get_connection_params())
    try:
        holder.execute(f"SELECT id FROM {table} FOR UPDATE")
        holder_pid = holder.info.backend_pid

        def waiting() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE %s AND pid <> %s",
                    [f"%{table}%FOR UPDATE%", holder_pid],
                )
                return int(cursor.fetchone()[0])

        yield waiting
        holder.commit()
    finally:
        holder.close()


def _create(cloud: dict[str, Any], **kwargs: Any) -> Secret:
    return custom_credentials_secret_create(
        actor=cloud["actor"],
        name=f"scaleout-{uuid.uuid4().hex[:8]}",
        configuration="token-provider",
        parameters={"user_name": "demo"},
        secret_group_id=cloud["group"].pk,
        **kwargs,
    )


def test_two_clusters_run_every_task_and_every_due_sweep_once(
    cloud, clusters, tmp_path, monkeypatch
):
    actor = cloud["actor"]
    # Keep the job runs (IMMEDIATELY would remove each as it ends), so that they can be counted.
    ce.job_set_env(
        actor=actor,
        project_id=cloud["project"].pk,
        job_name="token-provider",
        env={"CE_REMOVE_COMPLETED_JOBS": "1d"},
    )

    # Before the clusters start. Secrets to rotate, activated inline (the job still runs as its
    # own process), so that they are active whenever the first scheduler looks.
    monkeypatch.setattr(Conf, "SYNC", True)
    rotating = [
        _create(cloud, rotation={"auto_rotate": True, "interval": 1, "unit": "day"})
        for _ in range(ROTATED)
    ]
    for secret in rotating:
        task = wait_for_task(secret.pk)
        assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    monkeypatch.setattr(Conf, "SYNC", False)
    # Tasks a worker claimed and then died with: processing, past the configuration's 10
    # minutes. Their queued message is still in Redis, so a cluster also receives it late.
    stale = [_create(cloud).tasks.get() for _ in range(STALE)]
    SecretTask.objects.filter(pk__in=[t.pk for t in stale]).update(
        status=TaskStatus.PROCESSING, last_update_date=timezone.now() - timedelta(minutes=11)
    )
    # An arbitrary secret whose expiration date has come.
    expiring = create_secret(
        group=cloud["group"], expiration_date=timezone.now() + timedelta(hours=1)
    )
    now = timezone.now()
    Secret.objects.filter(pk=expiring.pk).update(expiration_date=now - timedelta(minutes=1))
    Secret.objects.filter(pk__in=[s.pk for s in rotating]).update(
        next_rotation_date=now - timedelta(minutes=1)
    )
    # Every schedule is due now (manage.py setup_schedules' rows, with a wider interval).
    ensure_schedules()
    due_at = now - timedelta(seconds=1)
    Schedule.objects.update(next_run=due_at, minutes=INTERVAL_MINUTES)
    names = [spec.name for spec in SCHEDULES]
    assert Schedule.objects.filter(name__in=names).count() == len(names)

    # Two clusters. Each scheduler first looks about 30 s after its cluster starts; the schedule
    # rows are held locked until both wait for them, so that both really look at once.
    with schedules_held() as waiting:
        clusters.extend(_start(name, tmp_path, cloud["url"]) for name in ("a", "b"))
        wait_until(
            lambda: all(c.running() for c in clusters), timeout=90, what="both clusters to run"
        )
        created = [_create(cloud) for _ in range(CREATED)]
        wait_until(lambda: waiting() == 2, timeout=120, what="both schedulers to wait")

    def done() -> bool:
        for cluster in clusters:
            cluster.running()
        tasks = list(SecretTask.objects.values_list("status", flat=True))
        runs = list(JobRun.objects.values_list("status", flat=True))
        return (
            Task.objects.filter(group__in=names).count() == len(names)
            and len(tasks) == ROTATED * 2 + STALE + CREATED
            and all(
                status in {TaskStatus.CREDENTIALS_CREATED, TaskStatus.FAILED} for status in tasks
            )
            and len(runs) == ROTATED * 2 + CREATED
            and all(status in FINISHED_RUN_STATUSES for status in runs)
        )

    wait_until(done, timeout=240, what="every task, job run and due sweep to finish")
    for cluster in clusters:
        _stop(cluster)
        assert cluster.proc.returncode == 0, cluster.text()
    logs = "\n".join(f"--- qcluster {c.name}\n{c.text()}" for c in clusters)

    # The broker: every task the clusters processed, each by one cluster, once; both did work.
    processed = Counter(name for cluster in clusters for name in cluster.processed())
    assert all(count == 1 for count in processed.values()), (processed, logs)
    assert all(cluster.processed() for cluster in clusters), logs
    secret_tasks = list(SecretTask.objects.all())
    # The rotating secrets' first tasks ran inline, in this process, before the clusters started.
    inline = set(
        SecretTask.objects.filter(
            secret__in=rotating, trigger=TaskTrigger.SECRET_CREATION
        ).values_list("pk", flat=True)
    )
    assert {t.pk for t in secret_tasks} - inline <= set(processed), logs
    # One django-q2 result per secret task, and none failed.
    assert not Task.objects.filter(success=False).exists(), logs
    results = Counter(Success.objects.filter(func=RUN_FUNC).values_list("name", flat=True))
    assert results == Counter({t.pk: 1 for t in secret_tasks})
    assert all(Task.objects.get(name=t.pk).attempt_count == 1 for t in secret_tasks), (
        "no task was handed out twice"
    )

    # The tasks: the new secrets' and the rotations' ran their job once and made one version.
    for secret in [*created, *rotating]:
        secret.refresh_from_db()
        assert secret.state == SecretState.ACTIVE
        assert secret.versions.count() == (2 if secret in rotating else 1)
        for task in secret.tasks.all():
            assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
            assert JobRun.objects.filter(name=task.pk).count() == 1
            assert [e["status"] for e in task.status_history].count("processing") == 1
    for secret in created:
        assert Success.objects.get(name=secret.tasks.get().pk).result.endswith(": started")
    # The stale tasks: failed by the sweep, once; their late message found nothing to do.
    for task in stale:
        task.refresh_from_db()
        assert task.status == TaskStatus.FAILED and task.errors[0]["code"] == "task_timeout"
        assert [e["status"] for e in task.status_history].count("failed") == 1
        assert Success.objects.get(name=task.pk).result.endswith(": not queued")
        assert not JobRun.objects.filter(name=task.pk).exists()

    # The sweeps: each due schedule made one task, which succeeded, and moved on one interval.
    for name in names:
        assert Task.objects.filter(group=name).count() == 1, (name, logs)
        schedule = Schedule.objects.get(name=name)
        assert schedule.next_run == due_at + timedelta(minutes=INTERVAL_MINUTES), name
    sweep = {name: Task.objects.get(group=name).result for name in names}
    assert sweep["secret-tasks-sweep"] == f"timed-out tasks failed: {STALE}"
    assert sweep["secret-rotations"] == f"secrets rotated: {ROTATED}"
    assert sweep["secret-leases"] == "versions expired: 0, secrets expired: 1"
    assert Secret.objects.get(pk=expiring.pk).state == SecretState.DESTROYED
    assert (
        AuditEvent.objects.filter(action="secret.expire", object_id=str(expiring.pk)).count() == 1
    )
    assert AuditEvent.objects.filter(action="secret.rotate").count() == ROTATED
