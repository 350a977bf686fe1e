"""Finding 10: every `make run` logged the admin out.

`ensure_admin` re-hashed DJANGO_SUPERUSER_PASSWORD on every run. A new salt means a new hash,
and so a new session auth hash: every session of the admin was dropped at each restart.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def env_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-env-123")
    call_command("ensure_admin")
    return User.objects.get(username="admin")


def test_a_second_run_with_the_same_password_keeps_the_admin_signed_in(env_admin, capsys):
    client = Client()
    assert client.login(username="admin", password="from-the-env-123")
    assert client.get(reverse("secrets:list")).status_code == 200
    before = (env_admin.password, env_admin.get_session_auth_hash())
    call_command("ensure_admin")
    env_admin.refresh_from_db()
    assert (env_admin.password, env_admin.get_session_auth_hash()) == before
    assert client.get(reverse("secrets:list")).status_code == 200, "still signed in"
    out = capsys.readouterr().out
    assert "from-the-env-123" not in out and "DJANGO_SUPERUSER_PASSWORD" in out


def test_a_changed_password_is_applied_and_ends_the_old_sessions(env_admin, monkeypatch):
    client = Client()
    assert client.login(username="admin", password="from-the-env-123")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-new-one-456")
    call_command("ensure_admin")
    env_admin.refresh_from_db()
    assert env_admin.check_password("a-new-one-456")
    assert not env_admin.check_password("from-the-env-123")
    response = client.get(reverse("secrets:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
