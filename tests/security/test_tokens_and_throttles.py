"""Findings 4, 5, 6, 13 and 14: tokens die with their key, no forged or over-long tokens, a
random demo SECRET_KEY, and throttles that hold across processes without locking users out."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam import tokens as iam_tokens
from tests.factories import create_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
SETUP = Actor(iam_id="IBMid-0000000999", name="setup", system=True)
GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def _token(client: Client, apikey: str, **kwargs) -> object:
    return client.post(reverse("iam-token"), {"grant_type": GRANT, "apikey": apikey}, **kwargs)


def _api_status(client: Client, token: str) -> int:
    """401 for a refused token; 404 (no such secret) once the token is accepted."""
    url = reverse("api-v2:list_secret_tasks", args=[str(uuid.uuid4())])
    return client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.fixture
def job_key():
    sid = iam.service_id_create(actor=SETUP, name="job")
    key, value = iam.api_key_create(actor=SETUP, name="job-key", service_id=sid)
    return key, value


# --- Finding 5: access tokens die with their API key --------------------------------------------


def test_a_token_stops_working_when_its_key_is_locked(client, job_key):
    key, value = job_key
    token = _token(client, value).json()["access_token"]
    assert _api_status(client, token) == 404
    iam.api_key_set_locked(actor=SETUP, api_key_id=key.pk, locked=True)
    assert _api_status(client, token) == 401


def test_a_token_stops_working_when_its_key_is_deleted(client, job_key):
    key, value = job_key
    token = _token(client, value).json()["access_token"]
    assert _api_status(client, token) == 404
    iam.api_key_delete(actor=SETUP, api_key_id=key.pk)
    response = client.get(
        reverse("api-v2:list_secret_tasks", args=[str(uuid.uuid4())]),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert "deleted or locked" in response.json()["errors"][0]["message"]


def test_a_user_token_stops_working_when_the_user_is_deactivated(client):
    alice = create_user(username="alice")
    _, value = iam.api_key_create(actor=SETUP, name="cli", user=iam.iam_user_for(alice))
    token = _token(client, value).json()["access_token"]
    assert _api_status(client, token) == 404
    alice.is_active = False
    alice.save()
    assert _api_status(client, token) == 401


# --- Finding 6: tokens no longer than the TTL, and a random demo SECRET_KEY -------------------


def _forge(claims_override: dict, key) -> str:
    now = int(time.time())
    claims = {
        "iss": f"{django_settings.SM_PUBLIC_URL}/identity",
        "sub": key.owner_iam_id,
        "iam_id": key.owner_iam_id,
        "identifier": key.pk,
        "iat": now,
        "exp": now + 600,
        **claims_override,
    }
    return jwt.encode(claims, iam_tokens._signing_key(), algorithm="HS256")


def test_a_token_that_claims_a_longer_lifetime_than_the_ttl_is_refused(client, job_key):
    key, _ = job_key
    assert _api_status(client, _forge({}, key)) == 404  # the control: a normal lifetime passes
    assert _api_status(client, _forge({"exp": int(time.time()) + 10**9}, key)) == 401


def test_a_token_issued_in_the_future_is_refused(client, job_key):
    key, _ = job_key
    later = int(time.time()) + 3000
    assert _api_status(client, _forge({"iat": later, "exp": later + 60}, key)) == 401


def test_the_token_lifetime_follows_the_setting(client, job_key, settings):
    settings.SM_TOKEN_TTL = 120
    body = _token(client, job_key[1]).json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert body["expires_in"] == 120 and claims["exp"] - claims["iat"] == 120


def _secret_key_in(data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SM_DB_NAME"}}
    env.update(DJANGO_SETTINGS_MODULE="console.settings", DEBUG="1", SM_DATA_DIR=str(data_dir))
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from django.conf import settings; print(settings.SECRET_KEY)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_the_demo_secret_key_is_random_per_data_directory_and_private(tmp_path):
    first = _secret_key_in(tmp_path / "a")
    assert first == _secret_key_in(tmp_path / "a")  # stable across restarts: sessions survive
    assert first != _secret_key_in(tmp_path / "b")
    assert len(first) >= 50 and "insecure" not in first
    path = tmp_path / "a" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first


# --- Finding 14: the token endpoint is throttled ------------------------------------------------


def test_failed_key_exchanges_are_throttled_per_client_address(client, job_key, settings):
    settings.TOKEN_THROTTLE_ATTEMPTS = 5
    for _ in range(5):
        assert _token(client, "not-a-key").status_code == 400
    blocked = _token(client, job_key[1])  # even a good key, from that address, for a while
    assert blocked.status_code == 429 and blocked["Retry-After"]
    assert blocked.json()["errors"][0]["code"] == "BXNIM0436E"
    elsewhere = _token(client, job_key[1], REMOTE_ADDR="192.0.2.7")
    assert elsewhere.status_code == 200


def test_good_exchanges_are_never_throttled(client, job_key, settings):
    settings.TOKEN_THROTTLE_ATTEMPTS = 2
    assert all(_token(client, job_key[1]).status_code == 200 for _ in range(6))


# --- Findings 4 and 13: the sign-in throttle ----------------------------------------------------


def _login(client: Client, username: str, password: str, addr: str = "127.0.0.1", url=None):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=addr
    )


def test_a_stranger_cannot_lock_a_user_out_from_elsewhere(settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    create_user(username="alice", password="alice-real-password")
    stranger = Client()
    for _ in range(3):
        assert _login(stranger, "alice", "guess", addr="203.0.113.9").status_code == 422
    assert _login(stranger, "alice", "guess", addr="203.0.113.9").status_code == 429
    # The stranger is slowed down; alice, from her own address, signs in.
    assert _login(Client(), "alice", "alice-real-password", addr="198.51.100.4").status_code == 302


def test_spraying_usernames_from_one_address_is_slowed_too(settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    settings.LOGIN_THROTTLE_CLIENT_ATTEMPTS = 5
    create_user(username="bob", password="bob-real-password")
    sprayer = Client()
    for n in range(5):
        assert _login(sprayer, f"user{n}", "guess", addr="203.0.113.9").status_code == 422
    assert _login(sprayer, "bob", "bob-real-password", addr="203.0.113.9").status_code == 429


def test_the_admin_login_is_the_throttled_login(settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    create_user(username="root", password="root-real-password", is_staff=True, is_superuser=True)
    attacker = Client()
    admin_login = reverse("admin:login")
    for _ in range(3):
        assert _login(attacker, "root", "guess", url=admin_login).status_code == 422
    assert _login(attacker, "root", "root-real-password", url=admin_login).status_code == 429
    assert _login(attacker, "root", "root-real-password").status_code == 429
    # An anonymous visit to the admin lands on the same, throttled sign-in form.
    response = Client().get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(admin_login)
    assert 'name="username"' in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_failures_counted_in_another_process_count_here(settings):
    """The store is shared: a second server process sees the same counts (not a per-process
    cache, under which the limit would multiply by the number of processes)."""
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    create_user(username="carol", password="carol-real-password")
    client = Client()
    for _ in range(2):
        assert _login(client, "carol", "guess").status_code == 422
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client(HTTP_HOST='localhost').post('/login/', {'username': 'carol', 'password': 'guess'})\n"
        "print(r.status_code)\n"
    )
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="console.settings_test",
        SM_DB_NAME=str(connection.settings_dict["NAME"]),
        LOGIN_THROTTLE_ATTEMPTS="3",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "422"  # the third failure, in the other process
    assert _login(client, "carol", "carol-real-password").status_code == 429
