"""Re-authentication in the browser, with JavaScript and without: signed in through the form, a
Reveal works at once; once the password is old, Reveal asks for it (a wrong one first), comes
back to the secret and reveals with one more click; deleting a secret asks before its page, then
goes on. The prompt's screenshots in the light and the dark theme, and axe-core on it."""

from __future__ import annotations

import time
from importlib import import_module

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, expect

from console.reauth import SESSION_STAMP
from secrets_app.models import Secret
from tests.e2e.axe import assert_no_serious_violations
from tests.e2e.conftest import screenshot, wait_for_htmx
from tests.factories import create_secret, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
THEMES = ["light", "dark"]
PASSWORD = "owner-pass-123"
CANARY = "CANARY-e2e-reauth-52b0"


def shots(page: Page, name: str) -> None:
    for scheme in THEMES:
        page.emulate_media(color_scheme=scheme)
        screenshot(page, f"{name}-{scheme}")
    page.emulate_media(color_scheme="light")


def sign_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_visible()


def age_password(context: BrowserContext) -> None:
    """Make the browser's session's last password entry older than the limit."""
    engine = import_module(settings.SESSION_ENGINE)
    cookie = next(c for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = engine.SessionStore(session_key=cookie["value"])
    session[SESSION_STAMP] = int(time.time()) - settings.SM_SUDO_MAX_AGE_SECONDS - 60
    session.save()


def reveal(page: Page, js_enabled: bool) -> None:
    page.get_by_role("button", name="Reveal").click()
    wait_for_htmx(page, js_enabled)


def test_reveal_then_delete_with_an_old_password(
    page: Page, context, js_enabled: bool, live_server
):
    mode = "js" if js_enabled else "nojs"
    create_user(username="owner", password=PASSWORD, manage_groups=True)
    secret = create_secret(name=f"reauth-{mode}", payload=CANARY)
    sign_in(page, "owner")

    # Just signed in: the password is recent, Reveal shows the value at once.
    page.goto(f"/secrets/{secret.pk}/")
    reveal(page, js_enabled)
    expect(page.get_by_test_id("revealed")).to_contain_text(CANARY)

    # Later: Reveal asks for the password first, and shows nothing.
    age_password(context)
    page.goto(f"/secrets/{secret.pk}/")
    reveal(page, js_enabled)
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/reauth/?next=%2Fsecrets%2F{secret.pk}%2F")
    expect(
        page.get_by_text("To reveal a secret's value, enter your password again.")
    ).to_be_visible()
    expect(page.get_by_text(CANARY)).to_have_count(0)
    expect(page.get_by_label("Password")).to_be_focused()
    shots(page, f"reauth-prompt-{mode}")

    # A wrong password: the field says so, and nothing moves on.
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Confirm password").click()
    expect(page.locator("#id_password_error")).to_contain_text("That is not your password.")
    expect(page.get_by_test_id("error-summary")).to_be_focused()
    shots(page, f"reauth-wrong-{mode}")

    # The right one: back on the secret, told to repeat; one click reveals.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm password").click()
    expect(page).to_have_url(f"{live_server.url}/secrets/{secret.pk}/")
    expect(page.get_by_text("you can now reveal a secret's value")).to_be_visible()
    expect(page.get_by_text(CANARY)).to_have_count(0)
    shots(page, f"reauth-back-{mode}")
    reveal(page, js_enabled)
    expect(page.get_by_test_id("revealed")).to_contain_text(CANARY)

    # Deleting asks before its page, and comes back to it.
    age_password(context)
    page.get_by_role("link", name="Delete").first.click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    expect(page.get_by_text("To delete a secret, enter your password again.")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm password").click()
    expect(page).to_have_url(f"{live_server.url}/secrets/{secret.pk}/delete/")
    page.get_by_label("Type the name of the secret to confirm").fill(secret.name)
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(f"{live_server.url}/secrets/")
    expect(page.get_by_text(f"Secret {secret.name} deleted.")).to_be_visible()
    assert not Secret.objects.filter(pk=secret.pk).exists()


@pytest.mark.parametrize("scheme", THEMES)
def test_the_prompt_under_axe(browser: Browser, live_server, scheme: str):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 800},
    )
    try:
        create_user(username="owner", password=PASSWORD, manage_groups=True)
        page = ctx.new_page()
        sign_in(page, "owner")
        page.goto("/reauth/?next=/groups/")
        page.get_by_role("button", name="Confirm password").click()
        expect(page.locator("#id_password_error")).to_be_visible()
        assert_no_serious_violations(page, f"the password prompt with an error ({scheme})")
        screenshot(page, f"reauth-empty-{scheme}")
    finally:
        ctx.close()
