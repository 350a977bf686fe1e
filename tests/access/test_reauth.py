"""Re-authentication ("sudo mode"): a stale session is asked for the password before each guarded
console action, the right password goes back to where the user retries, a wrong one is a 422
(throttled like sign-in), a fresh sign-in is not asked, and the API does not care."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from console.models import AuditEvent
from console.reauth import SESSION_STAMP
from engines_app.models import Configuration
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessPolicy, ApiKey
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup, SecretLock
from secrets_app.services.locks import locks_create
from secrets_app.services.rotation import SYSTEM_PRINCIPAL
from tests.access.conftest import PASSWORD, SETUP, make_stale, password_at
from tests.factories import create_group, create_secret

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
REAUTH = "/reauth/"
CANARY = "CANARY-reauth-7d1e"


def _prompted(response, *, back: str) -> None:
    """The answer that asks for the password, and comes back to `back` after it."""
    if "HX-Redirect" in response:
        assert response.status_code == 200
        url = response["HX-Redirect"]
    else:
        assert response.status_code == 302, response.status_code
        url = response["Location"]
    parts = urlsplit(url)
    assert parts.path == REAUTH
    assert parse_qs(parts.query)["next"] == [back]


@pytest.fixture
def boss(signed_in, manager) -> Client:
    client = signed_in(manager)
    make_stale(client)
    return client


@pytest.fixture
def secret() -> Secret:
    return create_secret(name="reauth-secret", payload=CANARY)


def _detail(secret: Secret) -> str:
    return reverse("secrets:detail", args=[secret.pk])


# --- Each guarded action asks a stale session ------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_reveal_asks_and_shows_nothing(boss, secret, headers):
    response = boss.post(
        reverse("secrets:reveal", args=[secret.pk]), {"version": "current"}, headers=headers
    )
    _prompted(response, back=_detail(secret))  # a POST is never replayed: back to its page
    assert CANARY not in response.content.decode()
    assert not AuditEvent.objects.filter(action="secret.read_payload").exists()


def test_secret_delete_asks_on_the_page_and_on_the_post(boss, secret):
    url = reverse("secrets:delete", args=[secret.pk])
    _prompted(boss.get(url), back=url)
    _prompted(boss.post(url, {"confirm_name": secret.name}), back=url)
    _prompted(boss.post(url, {"confirm_name": secret.name}, headers=HX), back=url)
    assert Secret.objects.filter(pk=secret.pk).exists()


def test_group_delete_asks(boss):
    group = create_group(name="doomed")
    url = reverse("secrets:group-delete", args=[group.pk])
    _prompted(boss.get(url), back=url)
    _prompted(boss.post(url), back=url)
    assert SecretGroup.objects.filter(pk=group.pk).exists()


def test_configuration_delete_asks(boss):
    project = seed.seed_code_engine(actor=SETUP)
    seed.seed_iam_engine(actor=SETUP)
    key = seed.seed_provider_access(actor=SETUP)
    config = seed.seed_configurations(actor=SETUP, project=project, api_key_secret=key)[0]
    response = boss.post(reverse("engines:config-delete", args=[config.name]))
    _prompted(response, back=reverse("engines:config-detail", args=[config.name]))
    assert Configuration.objects.filter(pk=config.pk).exists()


def test_lock_removal_asks_on_the_post_only(boss, secret):
    locks_create(
        principal=SYSTEM_PRINCIPAL, secret_id=secret.pk, version="current", locks=[{"name": "app"}]
    )
    version = secret.versions.get()
    url = reverse("secrets:lock-remove", args=[secret.pk, version.pk, "app"])
    assert boss.get(url).status_code == 200  # the confirmation (also what the tab polls)
    _prompted(boss.post(url), back=url)
    assert SecretLock.objects.filter(name="app").exists()


def test_minting_an_api_key_asks_and_keeps_the_choices(boss, service_id):
    url = reverse("cloud:iam-api-keys")
    assert boss.get(url).status_code == 200  # listing keys needs no password
    response = boss.post(url, {"service_id": service_id.pk, "name": "ci key"})
    _prompted(response, back=f"{url}?service_id={service_id.pk}&name=ci+key")
    assert not ApiKey.objects.exists()
    # Back on the page, the form is filled in as it was: one click to retry.
    html = boss.get(f"{url}?service_id={service_id.pk}&name=ci+key").content.decode()
    assert 'value="ci key"' in html and f'value="{service_id.pk}" selected' in html


def test_assigning_a_role_asks_and_keeps_the_choices(boss, service_id, group_a):
    url = reverse("cloud:iam-access")
    assert boss.get(url).status_code == 200
    data = {
        "assign-subject": f"service_id:{service_id.pk}",
        "assign-role": "Writer",
        "assign-scope": group_a.pk,
    }
    response = boss.post(f"{url}?kind=service_id", data, headers=HX)
    back = (
        f"{url}?kind=service_id&assign-subject=service_id%3A{service_id.pk}"
        f"&assign-role=Writer&assign-scope={group_a.pk}"
    )
    _prompted(response, back=back)
    assert not AccessPolicy.objects.filter(service_id=service_id).exists()
    html = boss.get(back).content.decode()
    assert f'value="service_id:{service_id.pk}" selected' in html
    assert 'value="Writer" id="id_assign-role_2" required checked' in html
    assert f'<option value="{group_a.pk}" selected>' in html


def test_revoking_a_role_asks(boss, service_id):
    policy = iam.policy_grant(actor=SETUP, role="Reader", service_id=service_id)
    url = reverse("cloud:iam-policy-revoke", args=[policy.pk])
    _prompted(
        boss.get(url, {"back": "/cloud/iam/access/"}), back=f"{url}?back=%2Fcloud%2Fiam%2Faccess%2F"
    )
    _prompted(boss.post(url), back=url)
    assert AccessPolicy.objects.filter(pk=policy.pk).exists()


def test_who_may_not_act_is_refused_before_any_prompt(signed_in, reader, secret):
    client = signed_in(reader)
    make_stale(client)
    assert client.post(reverse("secrets:reveal", args=[secret.pk])).status_code == 403
    assert client.get(reverse("secrets:delete", args=[secret.pk])).status_code == 403
    assert client.post(reverse("cloud:iam-api-keys"), {"name": "x"}).status_code == 403
    assert client.post(reverse("cloud:iam-access")).status_code == 403


# --- The prompt -----------------------------------------------------------------------------


def test_the_right_password_goes_back_and_the_action_then_works(boss, manager, secret):
    reveal = reverse("secrets:reveal", args=[secret.pk])
    prompt = boss.post(reveal, {"version": "current"})["Location"]
    page = boss.get(prompt)
    assert page.status_code == 200
    html = page.content.decode()
    assert "To reveal a secret&#x27;s value, enter your password again." in html
    assert "Nothing has been done yet" in html
    before = password_at(boss)
    response = boss.post(REAUTH, {"password": PASSWORD, "next": _detail(secret)})
    assert response.status_code == 302 and response["Location"] == _detail(secret)
    assert password_at(boss) > before
    landed = boss.get(_detail(secret)).content.decode()
    assert "Password confirmed for the next 10 minutes." in landed
    assert "you can now reveal a secret&#x27;s value" in landed
    assert CANARY not in landed  # nothing was replayed
    # One click: the Reveal now works.
    revealed = boss.post(reveal, {"version": "current"})
    assert revealed.status_code == 200 and CANARY in revealed.content.decode()
    row = AuditEvent.objects.get(action="auth.reauth")
    assert row.outcome == "allowed" and row.object_name == manager.username
    assert PASSWORD not in str(row.detail)


def test_a_get_goes_back_to_the_page_it_asked_for(boss, secret):
    url = reverse("secrets:delete", args=[secret.pk])
    prompt = boss.get(url)["Location"]
    assert boss.get(prompt).status_code == 200
    response = boss.post(REAUTH, {"password": PASSWORD, "next": url})
    assert response["Location"] == url
    page = boss.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Password confirmed for the next 10 minutes." in html
    assert "Nothing has been done yet" not in html  # a GET asked for nothing to repeat


def test_a_wrong_password_is_a_422_and_audited(boss, manager):
    response = boss.post(REAUTH, {"password": "not-it", "next": "/secrets/"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "That is not your password." in html and 'id="id_password_error"' in html
    assert "not-it" not in html
    row = AuditEvent.objects.get(action="auth.reauth")
    assert row.outcome == "denied" and row.detail["reason"] == "wrong_password"
    assert "not-it" not in str(row.detail)
    # Still stale: the next guarded action asks again.
    assert boss.get(reverse("secrets:group-delete", args=["default"])).status_code == 302
    # An empty password is a field error too.
    assert boss.post(REAUTH, {"password": ""}).status_code == 422


def test_wrong_passwords_are_throttled_like_sign_in(boss, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for _ in range(3):
        assert boss.post(REAUTH, {"password": "guess"}).status_code == 422
    response = boss.post(REAUTH, {"password": PASSWORD})
    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.LOGIN_THROTTLE_WINDOW)
    assert "Too many wrong passwords" in response.content.decode()
    # The limit is the user's, whatever the address: a stolen session cannot spread its guesses.
    response = boss.post(REAUTH, {"password": PASSWORD}, REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 429
    denied = AuditEvent.objects.filter(action="auth.reauth", outcome="denied")
    assert sorted(e.detail["reason"] for e in denied) == ["throttled"] * 2 + ["wrong_password"] * 3


def test_reauth_failures_count_against_the_sign_in_limit_of_the_address(boss, settings):
    settings.LOGIN_THROTTLE_CLIENT_ATTEMPTS = 2
    for _ in range(2):
        boss.post(REAUTH, {"password": "guess"})
    response = Client().post(reverse("login"), {"username": "boss", "password": PASSWORD})
    assert response.status_code == 429


def test_a_fresh_sign_in_is_not_asked(signed_in, manager, secret):
    client = signed_in(manager)  # through the login form
    assert client.session[SESSION_STAMP] >= int(time.time()) - 5
    revealed = client.post(reverse("secrets:reveal", args=[secret.pk]), {"version": "current"})
    assert revealed.status_code == 200 and CANARY in revealed.content.decode()
    assert client.get(reverse("secrets:delete", args=[secret.pk])).status_code == 200


def test_the_limit_is_a_setting(signed_in, manager, secret, settings):
    client = signed_in(manager)
    session = client.session
    session[SESSION_STAMP] = int(time.time()) - 120
    session.save()
    url = reverse("secrets:delete", args=[secret.pk])
    assert client.get(url).status_code == 200
    settings.SM_SUDO_MAX_AGE_SECONDS = 60
    _prompted(client.get(url), back=url)


def test_a_stamp_from_the_future_or_a_missing_one_is_not_trusted(signed_in, manager, secret):
    client = signed_in(manager)
    url = reverse("secrets:delete", args=[secret.pk])
    session = client.session
    session[SESSION_STAMP] = int(time.time()) + 3600
    session.save()
    _prompted(client.get(url), back=url)
    session = client.session
    del session[SESSION_STAMP]
    session.save()
    _prompted(client.get(url), back=url)


def test_next_never_leaves_the_site(boss):
    response = boss.post(REAUTH, {"password": PASSWORD, "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("secrets:list")


def test_the_prompt_needs_a_signed_in_user(client):
    response = client.get(REAUTH)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_api_is_not_affected(secret, service_id):
    """Bearer tokens carry no session: reading a value through the API needs no password."""
    iam.policy_grant(actor=SETUP, role="SecretsReader", service_id=service_id)
    _, value = iam.api_key_create(actor=SETUP, name="bot-key", service_id=service_id)
    api = Client()
    token = api.post(
        reverse("iam-token"),
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": value},
    ).json()["access_token"]
    response = api.get(
        reverse("api-v2:get_secret", args=[secret.pk]),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and response.json()["payload"] == CANARY
