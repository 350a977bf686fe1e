"""The Access page in the browser, with JavaScript and without: a Manager of the instance assigns
a role (bad input first, then a duplicate), revokes one after confirming (Keep it first), and is
refused revoking the instance's last Manager; a Manager of one secret group sees only that
group. Then the page under axe-core, with screenshots, in the light and the dark theme."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessPolicy
from tests.e2e.axe import assert_no_serious_violations
from tests.e2e.conftest import login, screenshot, wait_for_htmx
from tests.factories import create_group, create_user, grant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
THEMES = ["light", "dark"]
SETUP = Actor(iam_id="IBMid-0000000997", name="e2e-setup", system=True)


def shots(page: Page, name: str) -> None:
    """A screenshot in each colour theme."""
    for scheme in THEMES:
        page.emulate_media(color_scheme=scheme)
        screenshot(page, f"{name}-{scheme}")
    page.emulate_media(color_scheme="light")


def _world():
    group = create_group(name="payments")
    create_group(name="search")
    sid = iam.service_id_create(actor=SETUP, name="deploy-bot")
    iam.access_group_create(actor=SETUP, name="ops-team")
    return group, sid


def test_assign_then_revoke_a_role(page: Page, context, js_enabled: bool, live_server):
    mode = "js" if js_enabled else "nojs"
    group, sid = _world()
    login(context, create_user(username="boss", manage_groups=True), live_server)
    page.goto("/cloud/iam/service-ids/")
    page.get_by_role("navigation", name="IAM").get_by_role(
        "link", name="Access", exact=True
    ).click()
    expect(page.get_by_role("heading", name="Assign a role")).to_be_visible()
    expect(page.locator("tbody[data-scope=instance]")).to_contain_text("boss")

    # Nothing chosen: the errors, by their fields.
    page.get_by_role("button", name="Assign role").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_test_id("error-summary")).to_contain_text("There are 2 problems")
    expect(page.locator("#id_assign-subject_error")).to_contain_text("This field is required")

    # A service ID gets Writer on the payments group.
    page.get_by_label("Assign to").select_option(label="deploy-bot")
    page.get_by_label("Writer: SecretsReader, and creates").check()
    page.locator("#assign-form").get_by_label("Scope").select_option(label="Secret group payments")
    page.get_by_role("button", name="Assign role").click()
    wait_for_htmx(page, js_enabled)
    # The notice, not the live region that soon repeats it when JavaScript is on.
    expect(
        page.get_by_text("deploy-bot now holds Writer on secret group payments.").and_(
            page.locator(":not(#live-status)")
        )
    ).to_be_visible()
    section = page.locator(f"tbody[data-scope='{group.pk}']")
    expect(section.get_by_test_id("policy-row")).to_have_count(1)
    expect(section).to_contain_text("deploy-bot")
    shots(page, f"access-assigned-{mode}")

    # The same again: refused, with the reason under the role.
    page.get_by_label("Assign to").select_option(label="deploy-bot")
    page.get_by_label("Writer: SecretsReader, and creates").check()
    page.locator("#assign-form").get_by_label("Scope").select_option(label="Secret group payments")
    page.get_by_role("button", name="Assign role").click()
    wait_for_htmx(page, js_enabled)
    expect(page.locator("#id_assign-role_error")).to_contain_text(
        "deploy-bot already holds Writer on secret group payments."
    )
    assert AccessPolicy.objects.filter(service_id=sid).count() == 1

    # Revoke: a confirmation (in place of the row with htmx); Keep it changes nothing.
    revoke = page.get_by_role("link", name="Revoke Writer from deploy-bot on secret group payments")
    revoke.click()
    wait_for_htmx(page, js_enabled)
    confirm = page.get_by_test_id("revoke-confirm")
    expect(confirm).to_contain_text("Revoke Writer from deploy-bot on secret group payments?")
    expect(confirm.get_by_role("button", name="Revoke Writer from deploy-bot")).to_be_focused()
    shots(page, f"access-revoke-confirm-{mode}")
    confirm.get_by_role("link", name="Keep it").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_test_id("revoke-confirm")).to_have_count(0)
    expect(section.get_by_test_id("policy-row")).to_have_count(1)
    page.get_by_role("link", name="Revoke Writer from deploy-bot on secret group payments").click()
    wait_for_htmx(page, js_enabled)
    page.get_by_role("button", name="Revoke Writer from deploy-bot").click()
    wait_for_htmx(page, js_enabled)
    # The notice, not the live region that soon repeats it when JavaScript is on.
    expect(
        page.get_by_text("Writer revoked from deploy-bot on secret group payments.").and_(
            page.locator(":not(#live-status)")
        )
    ).to_be_visible()
    expect(page.locator(f"tbody[data-scope='{group.pk}']")).to_contain_text(
        "No roles assigned here"
    )
    assert not AccessPolicy.objects.filter(service_id=sid).exists()

    # The instance's only Manager cannot revoke their own role.
    page.get_by_role("link", name="Revoke Manager from boss on the whole instance").click()
    wait_for_htmx(page, js_enabled)
    page.get_by_role("button", name="Revoke Manager from boss").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_test_id("revoke-error")).to_contain_text(
        "boss is the last person with the Manager role on the instance"
    )
    shots(page, f"access-last-manager-{mode}")
    assert AccessPolicy.objects.filter(role="Manager", secret_group__isnull=True).count() == 1


def test_a_group_manager_sees_only_their_group(page: Page, context, js_enabled: bool, live_server):
    mode = "js" if js_enabled else "nojs"
    group, sid = _world()
    create_user(username="boss", manage_groups=True)
    lead = create_user(username="lead")
    grant(lead, "Manager", group=group)
    login(context, lead, live_server)
    page.goto("/secrets/")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Access", exact=True
    ).click()
    expect(page.get_by_role("heading", name="Access", exact=True)).to_be_visible()
    expect(page.locator("tbody[data-scope]")).to_have_count(1)
    expect(page.locator(f"tbody[data-scope='{group.pk}']")).to_contain_text("lead")
    expect(page.locator("#policy-table")).not_to_contain_text("boss")
    scope = page.locator("#assign-form").get_by_label("Scope")
    expect(scope.locator("option")).to_have_count(1)
    expect(scope).to_have_value(group.pk)
    page.get_by_label("Assign to").select_option(label="ops-team")
    page.get_by_label("Reader: Sees secrets").check()
    page.get_by_role("button", name="Assign role").click()
    wait_for_htmx(page, js_enabled)
    # The notice, not the live region that soon repeats it when JavaScript is on.
    expect(
        page.get_by_text("ops-team now holds Reader on secret group payments.").and_(
            page.locator(":not(#live-status)")
        )
    ).to_be_visible()
    shots(page, f"access-group-manager-{mode}")


@pytest.mark.parametrize("scheme", THEMES)
def test_the_access_page_under_axe(browser: Browser, live_server, scheme: str):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    try:
        group, sid = _world()
        iam.policy_grant(actor=SETUP, role="Writer", secret_group_id=group.pk, service_id=sid)
        login(ctx, create_user(username="boss", manage_groups=True), live_server)
        page = ctx.new_page()
        page.goto("/cloud/iam/access/")
        page.get_by_role("button", name="Assign role").click()
        wait_for_htmx(page, True)
        expect(page.get_by_test_id("error-summary")).to_be_visible()
        assert_no_serious_violations(page, f"the Access page with errors ({scheme})")
        screenshot(page, f"access-errors-{scheme}")
        page.get_by_role(
            "link", name="Revoke Writer from deploy-bot on secret group payments"
        ).click()
        wait_for_htmx(page, True)
        expect(page.get_by_test_id("revoke-confirm")).to_be_visible()
        assert_no_serious_violations(page, f"a revocation to confirm ({scheme})")
    finally:
        ctx.close()
