"""Fixtures of the fault tests: gates for the misbehaving jobs, a lossy proxy, restartable workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.faults.jobs import Gate, new_gate
from tests.faults.proxy import LossyProxy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gate(settings) -> Gate:
    return new_gate()


@pytest.fixture
def lossy_proxy(
    cloud, settings
) -> Iterator[Callable[[Callable[[str, str, int], bool]], LossyProxy]]:
    """Start a LossyProxy in front of the live server; jobs dispatched afterwards report through it."""
    started: list[LossyProxy] = []

    def start(drop: Callable[[str, str, int], bool]) -> LossyProxy:
        proxy = LossyProxy(target=cloud["url"], drop=drop).start()
        started.append(proxy)
        settings.SM_PUBLIC_URL = proxy.url
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


class Workers:
    """Real `manage.py qcluster` processes on the test database, each in its own process group."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.url = url
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        env = dict(
            os.environ,
            Q_SYNC="0",
            SM_DB_NAME=str(connection.settings_dict["NAME"]),
            SM_PUBLIC_URL=self.url,
        )
        with open(self.log_dir / f"qcluster-{len(self.procs) + 1}.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole cluster at once: its parent, sentinel, workers, monitor, pusher."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def workers(cloud, tmp_path) -> Iterator[Workers]:
    pool = Workers(cloud["url"], tmp_path)
    yield pool
    pool.stop_all()
