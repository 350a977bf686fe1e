"""Worker liveness: the heartbeat, /healthz, and `manage.py serve` restarting a stalled cluster.

The stall these tests reproduce: an idle django-q2 worker blocks in the task queue's read while
holding the queue's read lock. `kill -9` it and the lock is never released; django-q2 reincarnates
the worker, but every new worker waits for that lock forever, so nothing is processed although the
qcluster looks alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from console.liveness import heartbeat_age, heartbeat_record
from console.management.commands.serve import PROBE, _Watchdog
from console.models import WORKER_HEARTBEAT, WorkerHeartbeat
from console.tasks import worker_heartbeat
from engines_app.schedules import SCHEDULES, ensure_schedules
from tests.cloud_fixtures import wait_until

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
STALL_ATTEMPTS = 3  # kills of the workers to stall the cluster (test_serve_restarts_...)


# --- the heartbeat and /healthz, on a controlled clock -------------------------------------------


@pytest.mark.django_db
def test_heartbeat_age_is_measured_against_the_given_clock():
    assert heartbeat_age() is None
    beat_at = timezone.now() - timedelta(hours=1)
    heartbeat_record(now=beat_at)
    heartbeat_record(now=beat_at)
    assert WorkerHeartbeat.objects.count() == 1, "one row per name"
    assert heartbeat_age(now=beat_at + timedelta(seconds=30)) == heartbeat_age(
        name=WORKER_HEARTBEAT, now=beat_at + timedelta(seconds=30)
    )
    age = heartbeat_age(now=beat_at + timedelta(seconds=30))
    assert age is not None and age.beat_at == beat_at and age.age_seconds == 30
    # A clock that lags the worker's never yields a negative age.
    lagging = heartbeat_age(now=beat_at - timedelta(seconds=5))
    assert lagging is not None and lagging.age_seconds == 0


@pytest.mark.django_db
def test_the_heartbeat_task_records_a_beat_and_is_scheduled_every_minute():
    assert worker_heartbeat().startswith("heartbeat at ")
    beat = WorkerHeartbeat.objects.get(name=WORKER_HEARTBEAT)
    assert beat.pid == os.getpid()
    spec = next(s for s in SCHEDULES if s.func == PROBE)
    assert spec.minutes == 1
    ensure_schedules()
    schedule = Schedule.objects.get(name=spec.name)
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)


@pytest.mark.django_db
def test_healthz_is_ok_with_a_fresh_beat(client, settings, django_assert_num_queries):
    settings.SM_WORKER_STALE_AFTER = 60
    beat_at = timezone.now() - timedelta(seconds=12)
    heartbeat_record(now=beat_at)
    with django_assert_num_queries(1):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    worker = body["worker"]
    assert worker["status"] == "ok" and worker["last_heartbeat"] == beat_at.isoformat()
    assert 12 <= worker["age_seconds"] <= 13 and worker["stale_after_seconds"] == 60
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_503_with_a_stale_beat(client, settings):
    settings.SM_WORKER_STALE_AFTER = 60
    heartbeat_record(now=timezone.now() - timedelta(seconds=74))
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "stale" and body["database"] == "ok"
    assert body["worker"]["status"] == "stale" and 74 <= body["worker"]["age_seconds"] <= 75


@pytest.mark.django_db
def test_healthz_is_503_before_any_beat(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["status"] == "no heartbeat yet"
    assert response.json()["worker"]["last_heartbeat"] is None


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_fails(client, monkeypatch):
    def broken(**kwargs: Any) -> None:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr("console.views.heartbeat_age", broken)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["status"] == "error" and response.json()["database"] == "error"
    assert "disk" not in response.content.decode(), "no error detail on a public endpoint"


class _FakeCluster:
    def __init__(self, uptime: float) -> None:
        self.uptime = uptime


@pytest.mark.django_db
def test_the_watchdog_sends_one_probe_at_a_time_and_flags_a_stale_cluster():
    queued = get_broker().queue_size  # the ORM broker's table, or Redis' list
    watchdog = _Watchdog(interval=1, stale_after=6)
    young = _FakeCluster(uptime=2)
    assert watchdog.check(young) is None  # type: ignore[arg-type]
    assert queued() == 1, "the first check probes"
    for _ in range(3):
        watchdog.next_check = 0
        assert watchdog.check(young) is None  # type: ignore[arg-type]
    assert queued() == 1, "no new probe while the last one is unprocessed"
    heartbeat_record()
    watchdog.next_check = 0
    assert watchdog.check(young) is None  # type: ignore[arg-type]
    assert queued() == 2, "a processed probe is followed by the next one"

    old = _FakeCluster(uptime=60)
    watchdog.next_check = 0
    assert watchdog.check(old) is None, "a fresh beat"  # type: ignore[arg-type]
    heartbeat_record(now=timezone.now() - timedelta(seconds=74))
    watchdog.next_check = 0
    assert watchdog.check(old) == "last heartbeat 74 s ago"  # type: ignore[arg-type]
    WorkerHeartbeat.objects.all().delete()
    watchdog.next_check = 0
    assert watchdog.check(old) == "no heartbeat in the 60 s since it started"  # type: ignore[arg-type]
    watchdog.next_check = 0
    assert watchdog.check(_FakeCluster(uptime=5)) is None, "too young to judge"  # type: ignore[arg-type]


# --- a real `manage.py serve` --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, command line) of every live (non-zombie) process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), cmdline)
    return table


def _qcluster_of(serve_pid: int) -> int | None:
    return next(
        (
            pid
            for pid, (ppid, _, cmd) in _processes().items()
            if ppid == serve_pid and "qcluster" in cmd
        ),
        None,
    )


def _workers_of(qcluster_pid: int, log: Path) -> list[int]:
    """The django-q2 worker processes of one cluster.

    The qcluster parent has one child, the Sentinel, whose children are the workers, the monitor
    and the pusher (django_q/cluster.py, Sentinel.spawn_cluster). Without setproctitle they all
    carry the parent's command line, so a worker is told apart by the line it logs when it starts
    (django_q/worker.py: "<name> ready for work at <pid>").
    """
    procs = _processes()
    sentinels = {pid for pid, (ppid, _, _) in procs.items() if ppid == qcluster_pid}
    ready = {int(pid) for pid in re.findall(r"ready for work at (\d+)", log.read_text())}
    return sorted(pid for pid, (ppid, _, _) in procs.items() if ppid in sentinels and pid in ready)


def _group(pgid: int) -> list[int]:
    return [pid for pid, (_, group, _) in _processes().items() if group == pgid]


def _healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def _processed(task_id: str) -> bool:
    return Task.objects.filter(id=task_id, success=True).exists()


def _queued_task_ids() -> list[str]:
    """The ids of the tasks waiting in the broker: the ORM broker's rows, or Redis' list."""
    broker = get_broker()
    if isinstance(broker, ORM):
        return [queued.task_id() for queued in OrmQ.objects.all()]
    return [
        SignedPackage.loads(raw)["id"] for raw in broker.connection.lrange(broker.list_key, 0, -1)
    ]


def _latest_beat() -> WorkerHeartbeat | None:
    return WorkerHeartbeat.objects.filter(name=WORKER_HEARTBEAT).first()


def _start_serve(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DEBUG": "1",
        "SM_DATA_DIR": str(tmp_path),
        "SM_DB_NAME": str(connection.settings_dict["NAME"]),
        "PORT": str(port),
        "Q_SYNC": "0",
        "Q_WORKERS": str(WORKERS),
        "LOG_LEVEL": "INFO",
        # /healthz turns stale sooner than serve restarts, so the test can watch it flip.
        "SM_WORKER_STALE_AFTER": "5",
    }
    # SECRET_KEY stays the test's own: django-q2 signs tasks with it, and the test enqueues some.
    with open(tmp_path / "serve.log", "w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--heartbeat-interval",
                "1",
                "--stale-after",
                "8",
                "--stop-timeout",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _first_beat(proc: subprocess.Popen[bytes], log: Path) -> WorkerHeartbeat:
    def beat() -> WorkerHeartbeat | None:
        assert proc.poll() is None, log.read_text()
        return _latest_beat()

    return wait_until(beat, timeout=60, what="a first heartbeat")


def _stop_serve(proc: subprocess.Popen[bytes], clusters: list[int]) -> None:
    """Kill serve and every cluster it started (each runs in its own process group)."""
    groups = set(clusters)
    if proc.poll() is None:
        groups |= {pid for pid, (ppid, _, _) in _processes().items() if ppid == proc.pid}
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pgid in groups | {proc.pid}:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def _ctrl_c(proc: subprocess.Popen[bytes], log: Path, clusters: list[int]) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 0, log.read_text()
    assert "Stopped the web server and the worker." in log.read_text()
    for pgid in [proc.pid, *clusters]:
        assert _group(pgid) == [], f"processes left in group {pgid}"


def test_serve_restarts_a_cluster_whose_killed_workers_stalled_it(transactional_db, tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = _start_serve(tmp_path, port)
    clusters: list[int] = []
    try:
        _first_beat(proc, log)
        wait_until(lambda: _healthz(port)[0] == 200, timeout=30, what="/healthz to answer 200")
        _, body = _healthz(port)
        assert body["status"] == "ok" and body["worker"]["status"] == "ok", body
        old = wait_until(lambda: _qcluster_of(proc.pid), what="the qcluster")
        clusters.append(old)
        workers = wait_until(
            lambda: found if len(found := _workers_of(old, log)) == WORKERS else None,
            what="the django-q2 workers",
        )

        # The stall: workers killed while one of them holds the read lock of the cluster's task
        # queue (an idle worker waits in get() holding it) leave the lock held, so the workers
        # django-q2 reincarnates wait on it for ever. Killed while none held it (one between
        # two tasks, say), they leave a cluster that still works: then the task runs, and the
        # workers are killed again.
        reincarnated: list[int] = []
        for _attempt in range(STALL_ATTEMPTS):
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            killed_at = timezone.now()
            # django-q2 reincarnates the workers ...
            reincarnated = wait_until(
                lambda killed=workers: (
                    found
                    if len(found := _workers_of(old, log)) == WORKERS
                    and not set(found) & set(killed)
                    else None
                ),
                what="django-q2 to reincarnate the workers",
            )
            # ... but they process nothing while the old cluster runs, and /healthz notices.
            stalled_task = async_task("console.tasks.cleanup_wizard_drafts", sync=False)
            healthz_seen: set[str] = set()

            def restarted(
                task: str = stalled_task, since: Any = killed_at, seen: set[str] = healthz_seen
            ) -> int | str | None:
                current = _qcluster_of(proc.pid)
                if current == old:
                    # A task or a heartbeat processed since the kill: the cluster still works.
                    if (
                        _processed(task)
                        or WorkerHeartbeat.objects.filter(beat_at__gt=since).exists()
                    ):
                        return "not stalled"
                    seen.add(_healthz(port)[1].get("status", ""))
                return current if current not in (None, old) else None

            new = wait_until(restarted, timeout=60, what="serve to restart the stalled cluster")
            if new != "not stalled":
                break
            workers = reincarnated
        else:
            pytest.fail(f"killing the workers did not stall the cluster in {STALL_ATTEMPTS} tries")
        assert isinstance(new, int)
        clusters.append(new)
        assert "stale" in healthz_seen, healthz_seen
        text = log.read_text()
        assert "The worker stopped processing tasks (last heartbeat" in text, text
        wait_until(lambda: _group(old) == [], what="every process of the stalled cluster to go")
        if isinstance(get_broker(), ORM):
            # The task the stalled cluster claimed is not lost: it runs once its claim expires.
            assert stalled_task in _queued_task_ids()
        else:
            # Redis acknowledges nothing: the stalled cluster took the task off the list, and it
            # went with the cluster (README, "Production").
            assert stalled_task not in _queued_task_ids() and not _processed(stalled_task)

        fresh_task = async_task("console.tasks.cleanup_wizard_drafts", sync=False)
        wait_until(lambda: _processed(fresh_task), timeout=60, what="a fresh task to be processed")
        wait_until(lambda: _healthz(port)[0] == 200, timeout=30, what="/healthz to recover")
        beat = _latest_beat()
        assert beat is not None and beat.beat_at > killed_at
        # The serve log may show the new cluster's worker lines a moment after they work.
        new_workers = wait_until(
            lambda: found if beat.pid in (found := _workers_of(new, log)) else None,
            timeout=30,
            what="the beat's worker to be logged as one of the new cluster's",
        )
        assert not {*workers, *reincarnated} & set(new_workers)
        assert _qcluster_of(proc.pid) == new, "restarted exactly once"

        _ctrl_c(proc, log, clusters)
    finally:
        _stop_serve(proc, clusters)


def test_serve_restarts_a_cluster_that_exited(transactional_db, tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = _start_serve(tmp_path, port)
    clusters: list[int] = []
    try:
        _first_beat(proc, log)
        old = wait_until(lambda: _qcluster_of(proc.pid), what="the qcluster")
        clusters.append(old)
        wait_until(lambda: len(_workers_of(old, log)) == WORKERS, what="the django-q2 workers")
        os.kill(old, signal.SIGKILL)  # its Sentinel and workers live on as orphans
        killed_at = timezone.now()
        new = wait_until(
            lambda: found if (found := _qcluster_of(proc.pid)) not in (None, old) else None,
            what="serve to start a new cluster",
        )
        clusters.append(new)
        assert "The worker exited unexpectedly (code -9); restarting it" in log.read_text()
        wait_until(lambda: _group(old) == [], what="the orphans of the dead cluster to be killed")

        def new_cluster_beat() -> bool:
            beat = _latest_beat()
            return bool(beat and beat.beat_at > killed_at and beat.pid in _workers_of(new, log))

        wait_until(new_cluster_beat, timeout=60, what="a worker of the new cluster to beat")
        assert proc.poll() is None, "serve kept running"
        assert _healthz(port)[0] == 200
        _ctrl_c(proc, log, clusters)
    finally:
        _stop_serve(proc, clusters)
