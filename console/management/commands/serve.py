"""Serve the console and run the django-q2 cluster in one foreground command, as its watchdog.

- Ctrl-C (or SIGTERM) stops both. If the web server exits on its own, the cluster is stopped too
  and the command fails: with nothing left to serve, whoever started it must know.
- The cluster is watched, not trusted. django-q2 reincarnates killed workers, but an idle worker
  blocks in the task queue's read while holding the queue's read lock; killed there, it takes the
  lock with it, and every reincarnated worker waits for that lock forever while the qcluster looks
  alive. So every --heartbeat-interval seconds serve enqueues a heartbeat probe, one at a time (a
  new one only once a beat newer than the last probe was recorded, so probes do not pile up in a
  stalled queue). When no beat has been processed for --stale-after seconds while the cluster has
  been up at least that long, serve restarts it: SIGTERM to the qcluster parent, and after
  --stop-timeout seconds SIGKILL to its whole process group (qcluster runs in its own session for
  that: a stalled cluster never finishes its own shutdown), then a fresh qcluster.
- A cluster that exits on its own is restarted too, rather than taking the web server down: the
  console stays up and /healthz reports the gap. One that keeps exiting within QUICK_EXIT seconds
  of its start is restarted after a delay that doubles up to MAX_BACKOFF, so that a broken
  configuration does not spin.
- Tasks the stalled cluster had already claimed run once their claim expires (Q_CLUSTER "retry");
  tasks enqueued after the restart run at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone
from django_q.tasks import async_task

from console.liveness import heartbeat_age

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
PROBE = "console.tasks.worker_heartbeat"
POLL = 0.2
QUICK_EXIT = 30.0
MAX_BACKOFF = 60.0
SHUTDOWN_TIMEOUT = 15.0

logger = logging.getLogger(__name__)


class _Cluster:
    """One `manage.py qcluster`, in its own session, so that its whole process group can go."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, MANAGE, "qcluster"], start_new_session=True)
        self.started = time.monotonic()

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started

    def terminate(self) -> None:
        # The parent only: it stops its own children, while SIGTERM to the group hangs the shutdown.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def finish(self, *, timeout: float) -> None:
        """Wait for the parent to stop, then kill whatever is left of the group (a hung sentinel
        and its workers, or the orphans of a parent that died)."""
        try:
            self.proc.wait(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            logger.warning(
                "The worker (pid %s) did not stop within %.0f s; killing its process group.",
                self.proc.pid,
                timeout,
            )
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, *, timeout: float) -> None:
        self.terminate()
        self.finish(timeout=timeout)


class _Watchdog:
    """Sends heartbeat probes, one at a time, and decides when the cluster has stalled."""

    def __init__(self, *, interval: float, stale_after: float) -> None:
        self.interval = interval
        self.stale_after = stale_after
        self.next_check = 0.0
        self.probe_sent_at: datetime | None = None

    def reset(self) -> None:
        """A new cluster: forget the probe the old one may have swallowed, and probe at once."""
        self.next_check = 0.0
        self.probe_sent_at = None

    def check(self, cluster: _Cluster) -> str | None:
        """Probe when due; return why the cluster must be restarted, or None."""
        if time.monotonic() < self.next_check:
            return None
        self.next_check = time.monotonic() + self.interval
        try:
            if transaction.get_autocommit():  # as django-q2's ORM broker: never inside atomic()
                close_old_connections()  # a long-running process: drop a broken or aged link
            beat = heartbeat_age()
            if self.probe_sent_at is None or (beat and beat.beat_at >= self.probe_sent_at):
                # Taken before enqueueing: a quick worker may beat before async_task returns.
                sent_at = timezone.now()
                async_task(PROBE, sync=False, save=False)
                self.probe_sent_at = sent_at
        except DatabaseError as exc:
            # Not the cluster's fault, and restarting it would not help.
            logger.warning("Could not check the worker's heartbeat: %s", exc)
            return None
        if cluster.uptime <= self.stale_after:
            return None
        if beat is None:
            return f"no heartbeat in the {cluster.uptime:.0f} s since it started"
        if beat.age_seconds > self.stale_after:
            return f"last heartbeat {beat.age_seconds:.0f} s ago"
        return None


class Command(BaseCommand):
    help = (
        "Run the web server and the background worker together (used by `make run`), and restart "
        "the worker when it stops processing tasks."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        parser.add_argument(
            "--heartbeat-interval",
            type=float,
            default=float(settings.SM_WORKER_HEARTBEAT_INTERVAL),
            help="Seconds between heartbeat probes (default %(default)g, SM_WORKER_HEARTBEAT_INTERVAL).",
        )
        parser.add_argument(
            "--stale-after",
            type=float,
            default=float(settings.SM_WORKER_STALE_AFTER),
            help="Restart the worker after this many seconds without a processed heartbeat "
            "(default %(default)g, SM_WORKER_STALE_AFTER).",
        )
        parser.add_argument(
            "--stop-timeout",
            type=float,
            default=SHUTDOWN_TIMEOUT,
            help="Seconds a worker being restarted gets to stop before its processes are killed "
            "(default %(default)g).",
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        heartbeat_interval: float,
        stale_after: float,
        stop_timeout: float,
        **options: Any,
    ) -> None:
        if heartbeat_interval <= 0 or stop_timeout <= 0:
            raise CommandError("--heartbeat-interval and --stop-timeout must be positive.")
        if stale_after <= heartbeat_interval:
            raise CommandError(
                "--stale-after (SM_WORKER_STALE_AFTER) must be longer than --heartbeat-interval "
                f"(SM_WORKER_HEARTBEAT_INTERVAL); got {stale_after:g} and {heartbeat_interval:g}."
            )
        web = subprocess.Popen(
            [sys.executable, MANAGE, "runserver", f"{host}:{port}", "--noreload"]
        )
        started = _Cluster()
        cluster: _Cluster | None = started
        watchdog = _Watchdog(interval=heartbeat_interval, stale_after=stale_after)
        self.stdout.write(
            f"Console: http://{host}:{port}/  (worker pid {started.proc.pid}; Ctrl-C stops both)"
        )
        self.stdout.flush()
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        web_exited = False
        quick_exits = 0
        restart_at = 0.0
        while not stopping:
            if web.poll() is not None:
                web_exited = not stopping
                break
            if cluster is None:
                if time.monotonic() >= restart_at:
                    cluster = _Cluster()
                    watchdog.reset()
                    logger.info("Started a new worker (pid %s).", cluster.proc.pid)
            elif (code := cluster.proc.poll()) is not None:
                quick_exits = quick_exits + 1 if cluster.uptime < QUICK_EXIT else 0
                delay = min(MAX_BACKOFF, 2.0 ** (quick_exits - 1)) if quick_exits else 0.0
                logger.error(
                    "The worker exited unexpectedly (code %s); restarting it%s.",
                    code,
                    f" in {delay:.0f} s" if delay else "",
                )
                cluster.finish(timeout=0.1)
                cluster, restart_at = None, time.monotonic() + delay
            elif reason := watchdog.check(cluster):
                logger.error("The worker stopped processing tasks (%s); restarting it.", reason)
                cluster.stop(timeout=stop_timeout)
                cluster, restart_at, quick_exits = None, 0.0, 0
            time.sleep(POLL)
        if web.poll() is None:
            web.send_signal(signal.SIGTERM)
        if cluster is not None:
            cluster.terminate()
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        try:
            web.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()
        if cluster is not None:
            cluster.finish(timeout=deadline - time.monotonic())
        if web_exited:
            raise CommandError(
                f"The web server exited unexpectedly (code {web.returncode}); stopped the worker."
            )
        self.stdout.write("Stopped the web server and the worker.")
