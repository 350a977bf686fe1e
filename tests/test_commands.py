"""Management commands: the demo seed, the admin bootstrap and the combined server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from secrets_app.forms import PAGE_SIZE
from secrets_app.models import Secret, SecretGroup, SecretVersion

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    counts = (SecretGroup.objects.count(), Secret.objects.count(), SecretVersion.objects.count())
    assert counts[0] >= 4 and counts[1] > PAGE_SIZE, "enough secrets to show pagination"
    assert SecretVersion.objects.filter(serial__gt=1).exists(), "some secrets have history"
    call_command("seed_demo")
    assert (
        SecretGroup.objects.count(),
        Secret.objects.count(),
        SecretVersion.objects.count(),
    ) == counts
    assert "0 new groups, 0 new secrets" in capsys.readouterr().out


@pytest.mark.django_db
def test_ensure_admin_prints_a_random_password_once(capsys, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    call_command("ensure_admin")
    first = capsys.readouterr().out
    password = first.split("Admin login: admin / ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    call_command("ensure_admin")
    again = capsys.readouterr().out
    assert password not in again and "changepassword" in again


@pytest.mark.django_db
def test_ensure_admin_uses_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-env-123")
    call_command("ensure_admin")
    user = User.objects.get(username="root")
    assert user.is_superuser and user.check_password("from-the-env-123")
    assert "from-the-env-123" not in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_web_and_worker_and_ctrl_c_stops_both(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DEBUG": "1",
        "SM_DATA_DIR": str(tmp_path),
        "PORT": str(port),
    }
    env.pop("SECRET_KEY", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    with open(tmp_path / "serve.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        body = b""
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        # /healthz answers 200 only once the worker has processed a heartbeat (503 before).
        health = json.loads(body or b"{}")
        worker = health.get("worker", {})
        assert (health.get("status"), health.get("database"), worker.get("status")) == (
            "ok",
            "ok",
            "ok",
        ), (tmp_path / "serve.log").read_text()
        # Wait for the worker to report in, then press "Ctrl-C" (SIGINT to the whole group).
        while (
            time.monotonic() < deadline and "Q Cluster" not in (tmp_path / "serve.log").read_text()
        ):
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = (tmp_path / "serve.log").read_text()
    assert f"http://127.0.0.1:{port}/" in text and "Q Cluster" in text
    assert "Stopped the web server and the worker." in text
    leftovers = subprocess.run(
        ["pgrep", "-g", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []
