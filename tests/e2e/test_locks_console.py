"""Managing secret locks in the browser, with JavaScript and without: add a lock on the Versions
tab (a bad value first), see it, see Delete refused, remove the lock after confirming, and Delete
works. Then the tab with the Add lock form in error and a removal to confirm, under axe-core, with
screenshots, in the light and the dark theme."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from secrets_app.models import Secret
from secrets_app.services.locks import locks_create
from secrets_app.services.rotation import SYSTEM_PRINCIPAL, secret_rotate
from tests.e2e.axe import assert_no_serious_violations
from tests.e2e.conftest import login, screenshot, wait_for_htmx
from tests.factories import create_secret, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
THEMES = ["light", "dark"]
CANARY = "CANARY-e2e-locks-91c4"


def _secret(name: str) -> Secret:
    """Two versions: 2 is current, 1 previous (both keep their value)."""
    secret = create_secret(name=name, payload=CANARY)
    secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=secret.pk, payload="second-value")
    return secret


def test_add_a_lock_see_delete_refused_remove_it_and_delete(
    page: Page, context, js_enabled: bool, live_server
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    secret = _secret(f"locks-{mode}")
    page.goto(f"/secrets/{secret.pk}/")
    page.get_by_role("link", name="Versions").click()
    wait_for_htmx(page, js_enabled)

    # Add lock on version 2 (current): attributes that are not JSON first, then a good lock.
    row = page.locator("#history-version-2")
    row.locator("[data-testid=lock-add] summary").click()
    row.get_by_label("Lock name").fill("billing-app")
    row.get_by_label("Description (optional)").fill("Billing reads version 2")
    row.get_by_label("Attributes (optional)").fill("{not json")
    row.get_by_role("button", name="Add lock to version 2").click()
    wait_for_htmx(page, js_enabled)
    row = page.locator("#history-version-2")
    expect(row.locator(".field-error")).to_contain_text("Not valid JSON")
    expect(row.get_by_label("Attributes (optional)")).to_be_focused()
    expect(row.get_by_label("Lock name")).to_have_value("billing-app")
    row.get_by_label("Attributes (optional)").fill('{"deployment": "billing-eu"}')
    row.get_by_role("button", name="Add lock to version 2").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text("Lock billing-app added to version 2.").first).to_be_visible()
    locks = page.locator("#history-version-2 [data-testid=version-locks]")
    expect(locks.locator(".chip-lock")).to_have_text("billing-app")
    expect(locks).to_contain_text("Billing reads version 2")
    expect(locks).to_contain_text('{"deployment": "billing-eu"}')
    expect(page.locator("#history-version-1 .chip-lock")).to_have_count(0)
    screenshot(page, f"locks-added-{mode}")

    # Delete is refused while the lock is there, and points to the Versions tab.
    page.goto(f"/secrets/{secret.pk}/delete/")
    expect(page.get_by_test_id("delete-locked")).to_contain_text("billing-app")
    page.get_by_role("link", name="Go to the Versions tab").click()
    expect(page).to_have_url(f"{live_server.url}/secrets/{secret.pk}/versions/")

    # Remove: a confirmation first, in place of the lock; Keep it changes nothing.
    page.get_by_role("link", name="Remove lock billing-app from version 2").click()
    wait_for_htmx(page, js_enabled)
    confirm = page.get_by_test_id("lock-remove-confirm")
    expect(confirm).to_contain_text("Remove lock billing-app from version 2?")
    expect(confirm.get_by_role("button", name="Remove lock billing-app")).to_be_focused()
    screenshot(page, f"locks-remove-confirm-{mode}")
    confirm.get_by_role("link", name="Keep it").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_test_id("lock-remove-confirm")).to_have_count(0)
    expect(page.locator("#history-version-2 .chip-lock")).to_have_text("billing-app")
    page.get_by_role("link", name="Remove lock billing-app from version 2").click()
    wait_for_htmx(page, js_enabled)
    page.get_by_role("button", name="Remove lock billing-app").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text("Lock billing-app removed from version 2.").first).to_be_visible()
    expect(page.locator("#history-version-2 .chip-lock")).to_have_count(0)
    expect(page.get_by_text(CANARY)).to_have_count(0)

    # Delete now works.
    page.goto(f"/secrets/{secret.pk}/delete/")
    expect(page.get_by_test_id("delete-locked")).to_have_count(0)
    page.get_by_label("Type the name of the secret to confirm").fill(secret.name)
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(f"{live_server.url}/secrets/")
    expect(page.get_by_text(f"Secret {secret.name} deleted.")).to_be_visible()
    assert not Secret.objects.filter(pk=secret.pk).exists()


@pytest.mark.parametrize("scheme", THEMES)
def test_the_lock_forms_under_axe(browser: Browser, live_server, scheme: str):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    try:
        login(ctx, create_user(username="owner", manage_groups=True), live_server)
        page = ctx.new_page()
        secret = _secret(f"axe-locks-{scheme}")
        locks_create(
            principal=SYSTEM_PRINCIPAL,
            secret_id=secret.pk,
            version="previous",
            locks=[{"name": "legacy-app", "description": "Still on version 1"}],
        )
        page.goto(f"/secrets/{secret.pk}/versions/")
        row = page.locator("#history-version-2")
        row.locator("[data-testid=lock-add] summary").click()
        row.get_by_label("Lock name").fill("bad name!")
        row.get_by_role("button", name="Add lock to version 2").click()
        wait_for_htmx(page, True)
        expect(page.locator("#history-version-2 .field-error")).to_contain_text("is not allowed")
        assert_no_serious_violations(page, f"the Add lock form in error ({scheme})")
        screenshot(page, f"locks-add-error-{scheme}")

        page.get_by_role("link", name="Remove lock legacy-app from version 1").click()
        wait_for_htmx(page, True)
        expect(page.get_by_test_id("lock-remove-confirm")).to_be_visible()
        assert_no_serious_violations(page, f"the removal to confirm ({scheme})")
        screenshot(page, f"locks-remove-confirm-{scheme}")
    finally:
        ctx.close()
