"""Version history in the browser, with JavaScript and without: browse the Versions tab, open a
redacted diff, edit a version's metadata in place, read the timeline. Then the diff and the
timeline under axe-core, with screenshots, in the light and the dark theme."""

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
CANARY = "CANARY-e2e-history-5b1d"


def _secret_with_versions(name: str) -> Secret:
    secret = create_secret(name=name, payload=CANARY)
    for value in (CANARY, "second-value"):
        secret_rotate(principal=SYSTEM_PRINCIPAL, secret_id=secret.pk, payload=value)
    return secret


def test_browse_versions_diff_edit_metadata_and_read_the_timeline(
    page: Page, context, js_enabled: bool, live_server
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    secret = _secret_with_versions(f"history-{mode}")
    page.goto(f"/secrets/{secret.pk}/")

    # Versions tab: a plain link, swapped in place with htmx (and the URL follows).
    page.get_by_role("link", name="Versions").click()
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(f"{live_server.url}/secrets/{secret.pk}/versions/")
    rows = page.locator("#version-history tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_attribute("data-serial", "3")
    expect(page.locator("#history-version-1")).to_contain_text("gone")

    # The diff: previous (2) and current (3) are preselected.
    page.get_by_role("button", name="Compare").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_role("heading", name="Version 2 → version 3")).to_be_visible()
    expect(page.locator('#field-diff tr[data-field="payload"]')).to_contain_text("changed")
    page.get_by_label("Compare version").select_option(label="1")
    page.get_by_label("with version").select_option(label="2 (previous)")
    page.get_by_role("button", name="Compare").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_role("heading", name="Version 1 → version 2")).to_be_visible()
    expect(page.locator('#field-diff tr[data-field="payload"]')).to_contain_text("unchanged")
    expect(page.get_by_text(CANARY)).to_have_count(0)

    # Edit version 3's metadata in place: a bad value first, then a good one.
    page.get_by_role("link", name="Back to all versions").click()
    wait_for_htmx(page, js_enabled)
    row = page.locator("#history-version-3")
    row.locator("summary", has_text="Edit").click()
    row.get_by_label("Version 3 metadata (JSON)").fill("[not json")
    row.get_by_role("button", name="Save the metadata of version 3").click()
    wait_for_htmx(page, js_enabled)
    expect(page.locator("#history-version-3 .field-error")).to_be_visible()
    row = page.locator("#history-version-3")
    row.get_by_label("Version 3 metadata (JSON)").fill('{"ticket": "OPS-42"}')
    row.get_by_role("button", name="Save the metadata of version 3").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text("Metadata of version 3 saved.").first).to_be_visible()
    expect(page.locator("#history-version-3")).to_contain_text('{"ticket": "OPS-42"}')

    # The timeline, then filtered to metadata edits.
    page.get_by_role("link", name="Timeline").click()
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(f"{live_server.url}/secrets/{secret.pk}/timeline/")
    expect(page.locator('#timeline li[data-kind="versions"]')).to_have_count(3)
    page.get_by_label("Metadata edits").check()
    page.get_by_role("button", name="Filter").click()
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(f"{live_server.url}/secrets/{secret.pk}/timeline/?kind=edits")
    expect(page.locator('#timeline li[data-kind="versions"]')).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("Version metadata edited")
    expect(page.get_by_text(CANARY)).to_have_count(0)
    screenshot(page, f"history-timeline-filtered-{mode}")


@pytest.mark.parametrize("scheme", THEMES)
def test_diff_and_timeline_under_axe(browser: Browser, live_server, scheme: str):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    try:
        login(ctx, create_user(username="owner", manage_groups=True), live_server)
        page = ctx.new_page()
        secret = _secret_with_versions(f"axe-history-{scheme}")
        page.goto(f"/secrets/{secret.pk}/versions/")
        wait_for_htmx(page, True)
        assert_no_serious_violations(page, f"the Versions tab ({scheme})")
        screenshot(page, f"history-versions-{scheme}")
        page.goto(f"/secrets/{secret.pk}/versions/diff/")
        expect(page.locator("#field-diff")).to_be_visible()
        assert_no_serious_violations(page, f"the diff ({scheme})")
        screenshot(page, f"history-diff-{scheme}")
        page.goto(f"/secrets/{secret.pk}/timeline/")
        expect(page.locator("#timeline")).to_be_visible()
        assert_no_serious_violations(page, f"the timeline ({scheme})")
        screenshot(page, f"history-timeline-{scheme}")
    finally:
        ctx.close()


def _locked_secret(name: str) -> Secret:
    """Three versions; version 2 (previous) pinned by a lock, version 3 (current) by another."""
    secret = _secret_with_versions(name)
    locks_create(
        principal=SYSTEM_PRINCIPAL,
        secret_id=secret.pk,
        version="previous",
        locks=[
            {
                "name": "billing-app",
                "description": "Billing still reads version 2",
                "attributes": {"deployment": "billing-eu"},
            }
        ],
    )
    locks_create(principal=SYSTEM_PRINCIPAL, secret_id=secret.pk, locks=[{"name": "ci-deploy"}])
    return secret


def test_a_locked_version_is_shown_and_blocks_the_rotation(
    page: Page, context, js_enabled: bool, live_server
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    secret = _locked_secret(f"locked-{mode}")
    page.goto(f"/secrets/{secret.pk}/")
    page.get_by_role("link", name="Versions").click()
    wait_for_htmx(page, js_enabled)
    locks = page.locator("#history-version-2 [data-testid=version-locks]")
    expect(locks).to_contain_text("billing-app")
    expect(locks).to_contain_text("Billing still reads version 2")
    expect(locks).to_contain_text('{"deployment": "billing-eu"}')
    expect(page.locator("#history-version-3 [data-testid=version-locks]")).to_contain_text(
        "ci-deploy"
    )
    expect(page.locator("#history-version-1 [data-testid=version-locks]")).to_have_text("—")
    screenshot(page, f"history-locked-versions-{mode}")

    page.goto(f"/secrets/{secret.pk}/rotate/")
    expect(page.get_by_test_id("rotate-blocker")).to_contain_text("billing-app")
    expect(page.get_by_test_id("locks-blocking")).to_contain_text("Version 2 (previous)")
    expect(page.get_by_test_id("locks-staying")).to_contain_text("ci-deploy")
    expect(page.get_by_role("button", name="Rotate")).to_be_disabled()
    expect(page.get_by_text(CANARY)).to_have_count(0)
    screenshot(page, f"history-locked-rotate-{mode}")


@pytest.mark.parametrize("scheme", THEMES)
def test_locked_versions_and_the_blocked_rotation_under_axe(
    browser: Browser, live_server, scheme: str
):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    try:
        login(ctx, create_user(username="owner", manage_groups=True), live_server)
        page = ctx.new_page()
        secret = _locked_secret(f"axe-locked-{scheme}")
        page.goto(f"/secrets/{secret.pk}/versions/")
        expect(page.locator("#history-version-2")).to_contain_text("billing-app")
        assert_no_serious_violations(page, f"the Versions tab with locks ({scheme})")
        screenshot(page, f"history-locked-versions-{scheme}")
        page.goto(f"/secrets/{secret.pk}/rotate/")
        expect(page.get_by_test_id("rotate-blocker")).to_be_visible()
        assert_no_serious_violations(page, f"the blocked rotation ({scheme})")
        screenshot(page, f"history-locked-rotate-{scheme}")
    finally:
        ctx.close()
