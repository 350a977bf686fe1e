"""Login, logout, login-required pages, throttling, security headers and the admin."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import create_secret, create_user

pytestmark = pytest.mark.django_db

PAGES = [
    reverse("home"),
    reverse("secrets:list"),
    reverse("secrets:groups"),
    reverse("secrets:group-create"),
    reverse("secrets:group-edit", args=["default"]),
    reverse("secrets:group-delete", args=["default"]),
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_requires_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_htmx_request_without_session_redirects_the_whole_page(client):
    response = client.get(reverse("secrets:list"), headers={"HX-Request": "true"})
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_login_and_logout(client):
    create_user(username="alice", password="s3cret-pass-phrase")
    response = client.post(
        reverse("login"), {"username": "alice", "password": "s3cret-pass-phrase"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("secrets:list")
    assert client.get(reverse("secrets:list")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("secrets:list")).status_code == 302


def test_wrong_password_is_422_and_does_not_say_which_part_was_wrong(client):
    create_user(username="alice", password="s3cret-pass-phrase")
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 422
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_is_throttled_after_repeated_failures(client, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    create_user(username="bob", password="right-password-123")
    for _ in range(3):
        assert (
            client.post(reverse("login"), {"username": "bob", "password": "wrong"}).status_code
            == 422
        )
    blocked = client.post(reverse("login"), {"username": "bob", "password": "right-password-123"})
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.content.decode()
    assert client.get(reverse("secrets:list")).status_code == 302


def test_healthz_is_public(client):
    from console.liveness import heartbeat_record

    heartbeat_record()  # a worker has just processed a task
    assert client.get(reverse("healthz")).json()["status"] == "ok"


def test_security_headers(owner_client):
    response = owner_client.get(reverse("secrets:list"))
    csp = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    html = response.content.decode()
    assert "<script>" not in html, "no inline script anywhere"
    assert '"historyRestoreAsHxRequest": false' in html and '"code": "422", "swap": true' in html
    assert "/static/django_htmx/htmx" in html, "htmx is served locally"


def test_session_cookie_is_secure_outside_debug(settings):
    assert settings.DEBUG is False
    from console import settings as prod

    assert prod.SESSION_COOKIE_SECURE is True and prod.CSRF_COOKIE_SECURE is True


def test_admin_is_for_staff_only(owner_client):
    response = owner_client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_never_shows_payloads_or_wrapped_keys():
    secret = create_secret(name="admin-visible", payload="CANARY-admin-9f2c")
    version = secret.versions.get()
    admin = create_user(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    pages = [
        "/admin/secrets_app/secret/",
        f"/admin/secrets_app/secret/{secret.pk}/change/",
        "/admin/secrets_app/secretversion/",
        f"/admin/secrets_app/secretversion/{version.pk}/change/",
        "/admin/engines_app/configuration/",
        "/admin/console/auditevent/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "CANARY-admin-9f2c" not in html
        assert "sealed" not in html.lower() and version.sealed_key_id not in html, url
    assert client.get("/admin/secrets_app/secretgroup/add/").status_code == 403
