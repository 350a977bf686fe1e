"""The README's "Production" walk-through, run as written on PostgreSQL + Redis.

Its shell blocks (those whose skip marker names this file; tests/test_readme_commands.py runs the
others against `make run`) run in README order, each in a clean shell like an operator's: the
settings file and keys, the schema, gunicorn, two qclusters ("two worker machines"), the health
check, a backup, and a restore drill. Only the places a real deployment differs are rewritten:
its paths into a temporary directory, its database and Redis into a fresh database (owned by a
role of its own, as the README asks) and a Redis database of their own on the test servers, and
its public address into gunicorn's. The nginx block is not run (no nginx here): gunicorn is
asked directly, with the header nginx would set.

The restore drill is the README's reason for backing up the database and the root key
together: after a disaster that takes both the data and the settings file, a backup's dump with
its own settings file gives every value back, and the dump under another root key does not.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.cloud_fixtures import ROOT, wait_until
from tests.test_readme_commands import README, Block, shell_blocks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="needs Redis (REDIS_URL): the PostgreSQL + Redis lane of .ci/run runs it",
    ),
]

THIS = "tests/scaleout/test_production_readme.py"
# What the README's blocks do, found by what they contain, in README order.
STEPS = ["settings", "schema", "web", "worker", "health", "backup", "restore"]
VALUE = "restore-drill-value-0123456789"
PROBE = (
    "from console.identity import Actor\n"
    "from secrets_app.models import Secret\n"
    "from secrets_app.services import secret_version_payload_read\n"
    "actor = Actor(iam_id='iam-ServiceId-restore-drill', name='restore drill', system=True)\n"
    "secret = Secret.objects.get(name='restore-drill')\n"
    "version = secret.versions.get(alias='current')\n"
    "print(secret_version_payload_read(actor=actor, version_id=version.pk))\n"
)
CREATE = (
    "from console.identity import Actor\n"
    "from secrets_app.models import DEFAULT_GROUP_ID\n"
    "from secrets_app.services import arbitrary_secret_create\n"
    "actor = Actor(iam_id='iam-ServiceId-restore-drill', name='restore drill', system=True)\n"
    f"arbitrary_secret_create(actor=actor, name='restore-drill', payload='{VALUE}',\n"
    "    secret_group_id=DEFAULT_GROUP_ID)\n"
)


@pytest.fixture(autouse=True)
def _postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the PostgreSQL + Redis lane of .ci/run")


def _step(block: Block) -> str:
    for word, step in [
        ("cat >", "settings"),
        ("manage.py migrate", "schema"),
        ("gunicorn", "web"),
        ("qcluster", "worker"),
        ("curl", "health"),
        ("pg_dump", "backup"),
        ("pg_restore", "restore"),
    ]:
        if word in block.code:
            return step
    raise AssertionError(f"README line {block.line}: a block this test does not know")


def production_blocks() -> dict[str, Block]:
    text = README.read_text()
    start = text.index("### Production\n")
    end = text.index("\n## ", start)
    offset = text[:start].count("\n")
    blocks = [
        Block(b.line + offset, b.lang, b.code, b.skip)
        for b in shell_blocks(text[start:end])
        if b.skip and THIS in b.skip
    ]
    steps = [_step(b) for b in blocks]
    assert steps == STEPS, f"the README's Production blocks changed: {steps}"
    return dict(zip(steps, blocks, strict=True))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """Where the README's deployment lands in this test."""

    tmp: Path
    database_url: str
    redis_url: str
    port: int

    @property
    def etc(self) -> Path:
        return self.tmp / "etc"

    def rewrite(self, code: str) -> str:
        for old, new in [
            ("/etc/secrets-console", str(self.etc)),
            ("/var/lib/secrets-console", str(self.tmp / "data")),
            ("/var/backups/secrets-console", str(self.tmp / "backups")),
            ("postgres://secrets:CHANGE-ME@db.internal:5432/secrets", self.database_url),
            ("redis://redis.internal:6379/0", self.redis_url),
            ("https://secrets.example.com", f"http://127.0.0.1:{self.port}"),
            ("secrets.example.com", "127.0.0.1"),
            ("127.0.0.1:8000", f"127.0.0.1:{self.port}"),
        ]:
            code = code.replace(old, new)
        return code

    def shell(self) -> dict[str, str]:
        """An operator's clean shell: nothing of the test's own settings."""
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
        }

    def run(self, block: Block, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.rewrite(block.code)],
            cwd=ROOT,
            env=self.shell(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert result.returncode == 0, (
                f"README line {block.line} failed (exit {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, block: Block, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "w") as out:
            return subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", self.rewrite(block.code)],
                cwd=ROOT,
                env=self.shell(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def manage_py(self, code: str) -> subprocess.CompletedProcess[str]:
        """Python in manage.py's shell, with the settings file loaded as the README loads it."""
        script = f'set -a; . {self.etc}/env; set +a\n.venv/bin/python manage.py shell --no-imports -c "$CODE"'
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env={**self.shell(), "CODE": code},
            capture_output=True,
            text=True,
            timeout=120,
        )


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server the block's shell started (gunicorn's or qcluster's main process,
    which stops its own workers: systemd's KillMode=mixed), then whatever is left."""
    for child in _children(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    """A fresh database owned by a role of its own, and a Redis database no test uses."""
    name = f"sm_readme_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" LOGIN')
        cursor.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
    server = connection.settings_dict
    redis = urlsplit(str(settings.REDIS_URL))
    yield Site(
        tmp=tmp_path,
        database_url=f"postgres://{name}@{server['HOST']}:{server['PORT']}/{name}",
        # The suite's own tests clear database 0; this deployment keeps to database 1.
        redis_url=f"{redis.scheme}://{redis.netloc}/1",
        port=_free_port(),
    )
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'DROP ROLE IF EXISTS "{name}"')
    subprocess.run(
        ["redis-cli", "-u", f"{redis.scheme}://{redis.netloc}/1", "flushdb"],
        capture_output=True,
        check=False,
    )


def test_the_production_walkthrough_works_as_written(site, tmp_path):
    blocks = production_blocks()

    # The settings: a key file and a settings file, both readable by their owner only.
    site.run(blocks["settings"])
    for path in (site.etc / "env", site.etc / "secret_key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(site.etc.stat().st_mode) == 0o700
    env = dict(line.split("=", 1) for line in (site.etc / "env").read_text().splitlines() if line)
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", env["SM_ROOT_KEY"]), "base64 of 32 bytes"
    assert "DEBUG" not in env and env["REDIS_URL"] == site.redis_url

    schema = site.run(blocks["schema"])
    assert "Admin login: admin / " in schema.stdout, schema.stdout

    processes: list[subprocess.Popen[bytes]] = []
    try:
        web = site.start(blocks["web"], tmp_path / "web.log")
        processes.append(web)
        # Two worker machines sharing the database and Redis.
        for machine in ("a", "b"):
            processes.append(site.start(blocks["worker"], tmp_path / f"worker-{machine}.log"))

        def healthy() -> bool:
            for proc in processes:
                assert proc.poll() is None, "\n".join(
                    p.read_text() for p in sorted(tmp_path.glob("*.log"))
                )
            try:
                status, _, body = _get(f"http://127.0.0.1:{site.port}/healthz")
            except OSError:
                return False
            return status == 200 and json.loads(body)["status"] == "ok"

        # The first beat comes with the schedulers' first look, about 30 s after start.
        wait_until(healthy, timeout=180, what="/healthz to answer 200 (a worker's heartbeat)")
        health = site.run(blocks["health"])
        body = json.loads(health.stdout)
        assert body["database"] == "ok" and body["worker"]["status"] == "ok", body

        # Whitenoise serves the collected, hashed static files with far-future caching; nginx's
        # X-Forwarded-Proto makes the request secure for Django (Secure cookies, HSTS-ready).
        status, _, page = _get(
            f"http://127.0.0.1:{site.port}/login/", {"X-Forwarded-Proto": "https"}
        )
        assert status == 200
        css = re.search(rb'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page)
        assert css, "a hashed stylesheet link (CompressedManifestStaticFilesStorage)"
        status, headers, _ = _get(f"http://127.0.0.1:{site.port}{css.group(1).decode()}")
        assert status == 200 and "immutable" in headers.get("Cache-Control", ""), headers

        created = site.manage_py(CREATE)
        assert created.returncode == 0, created.stderr
        backup = site.run(blocks["backup"])
        assert backup.stdout == ""
    finally:
        for proc in processes:
            _stop(proc)
    (dump_dir,) = (tmp_path / "backups").iterdir()
    assert {p.name for p in dump_dir.iterdir()} == {"db.dump", "env", "secret_key"}
    assert stat.S_IMODE(dump_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((dump_dir / "env").stat().st_mode) == 0o600

    # A disaster: the data is gone, and the settings file was recreated with a new root key.
    gone = site.manage_py(
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('DROP SCHEMA public CASCADE'); c.execute('CREATE SCHEMA public')\n"
    )
    assert gone.returncode == 0, gone.stderr
    site.run(blocks["settings"])
    assert (site.etc / "env").read_text() != (dump_dir / "env").read_text()

    # The dump alone, under the new key, restores the rows but not the values.
    subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={site.database_url}", str(dump_dir / "db.dump")],
        check=True,
        capture_output=True,
    )
    unreadable = site.manage_py(PROBE)
    assert unreadable.returncode != 0 and VALUE not in unreadable.stdout + unreadable.stderr
    assert "root key" in unreadable.stderr, unreadable.stderr

    # The README's restore: the backup's settings file and key, then its dump.
    site.run(blocks["restore"])
    assert (site.etc / "env").read_text() == (dump_dir / "env").read_text()
    readable = site.manage_py(PROBE)
    assert readable.returncode == 0, readable.stderr
    assert readable.stdout.strip() == VALUE
