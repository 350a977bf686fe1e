"""The benchmark's instances: one fresh database per size, seeded, and served by gunicorn.

Every process gets a clean environment of production settings (DEBUG off, a SECRET_KEY and a
root key made for the run, static files collected into a manifest), plus SM_BENCH_FLOOR=1 for
the floor page. Nothing of the caller's data directory or settings is read or touched.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
WORKERS = 2
READY_TIMEOUT = 120.0


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and where its log is."""


def base_env(run_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(run_dir)),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SM_ROOT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "STATIC_ROOT": str(run_dir / "static"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SM_BENCH_FLOOR": "1",
        # Tokens outlive the longest run; the default hour could end inside a 100k run.
        "SM_TOKEN_TTL": "86400",
    }


def run_step(args: list[str], env: dict[str, str], log: Path, what: str) -> str:
    """Run one command to completion; its stdout is returned, its stderr goes to `log`."""
    with log.open("ab") as err:
        proc = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err)
    if proc.returncode != 0:
        raise BenchError(f"{what} failed (exit status {proc.returncode}); see {log}")
    return proc.stdout.decode()


def manage(args: list[str], env: dict[str, str], log: Path, what: str) -> str:
    return run_step([sys.executable, str(ROOT / "manage.py"), *args], env, log, what)


@dataclass
class Database:
    """Fresh databases for one run: SQLite files in the run directory, or PostgreSQL databases
    named for the run on the server of `admin_url` (dropped at the end unless kept)."""

    run_dir: Path
    admin_url: str | None
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    created: list[str] = field(default_factory=list)

    @property
    def vendor(self) -> str:
        return "postgresql" if self.admin_url else "sqlite"

    def _pg(self, sql: str) -> None:
        import psycopg

        assert self.admin_url is not None
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def _pg_name(self, label: str) -> str:
        return f"sm_bench_{self.run_id}_{label}"

    def _pg_url(self, name: str) -> str:
        assert self.admin_url is not None
        parts = urlsplit(self.admin_url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    def env_for(self, label: str, env: dict[str, str]) -> dict[str, str]:
        """The environment that points at database `label` (and its own data directory)."""
        data_dir = self.run_dir / label
        data_dir.mkdir(mode=0o700, exist_ok=True)
        out = {**env, "SM_DATA_DIR": str(data_dir)}
        if self.admin_url:
            out["DATABASE_URL"] = self._pg_url(self._pg_name(label))
        return out

    def create_template(self, env: dict[str, str], log: Path) -> None:
        """An empty, migrated database that every size starts as a copy of."""
        if self.admin_url:
            self.create_empty("template")
        manage(["migrate", "--noinput", "-v0"], self.env_for("template", env), log, "migrate")

    def create_empty(self, label: str) -> str:
        """A new, empty PostgreSQL database of the run (dropped with the others); its URL."""
        name = self._pg_name(label)
        self._pg(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self._pg_url(name)

    def clone_template(self, label: str, env: dict[str, str]) -> dict[str, str]:
        target = self.env_for(label, env)
        if self.admin_url:
            name = self._pg_name(label)
            self._pg(f'CREATE DATABASE "{name}" TEMPLATE "{self._pg_name("template")}"')
            self.created.append(name)
        else:
            source = self.run_dir / "template" / "console.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{source}{suffix}").exists():
                    shutil.copyfile(
                        f"{source}{suffix}",
                        Path(target["SM_DATA_DIR"]) / f"console.sqlite3{suffix}",
                    )
        return target

    def drop_all(self) -> None:
        for name in reversed(self.created):
            with contextlib.suppress(Exception):
                self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def seed(size: int, env: dict[str, str], pages: dict[str, str], log: Path) -> dict[str, object]:
    out = run_step(
        [
            sys.executable,
            str(BENCH / "seeding.py"),
            "--count",
            str(size),
            "--pages",
            json.dumps(pages),
        ],
        env,
        log,
        f"seeding {size} secrets",
    )
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """gunicorn serving one database, as README "Production" says: 2 sync workers."""

    label: str
    env: dict[str, str]
    log: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.port = free_port()
        args = [
            sys.executable, "-m", "gunicorn", "console.wsgi:application",
            "--workers", str(WORKERS), "--worker-class", "sync",
            "--bind", f"127.0.0.1:{self.port}",
            # Generous: on a loaded 2-core machine a slow page must be measured, not killed.
            "--timeout", "300", "--log-level", "warning",
        ]  # fmt: skip
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=err, stderr=err, start_new_session=True
            )

    def wait_ready(self, probe: object) -> None:
        """Until `probe()` (a request to the floor) answers 200; the server must stay up."""
        deadline = time.monotonic() + READY_TIMEOUT
        assert self.proc is not None and callable(probe)
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn for {self.label} exited; see {self.log}")
            with contextlib.suppress(OSError):
                if probe() == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn for {self.label} did not answer; see {self.log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
