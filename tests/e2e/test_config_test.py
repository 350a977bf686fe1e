"""Test configuration in the browser: live status with htmx polling, or self-refresh without JS."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from engines_app.sample_jobs import token_service
from secrets_app import seed
from secrets_app.models import Secret
from tests.e2e.conftest import login, screenshot
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_configuration(page: Page) -> None:
    page.goto("/engines/?tab=custom")
    page.get_by_role("link", name="token-provider").click()
    expect(page.get_by_role("heading", name="Test configuration")).to_be_visible()


def test_test_configuration_succeeds_live(
    page: Page, context, js_enabled: bool, live_server, cloud, q_sync
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    open_configuration(page)
    page.get_by_label("user_name").fill("bob")
    page.get_by_label("scope").select_option("admin")
    page.get_by_label("expires").fill("600")
    page.get_by_role("button", name="Test configuration").click()

    expect(page).to_have_url(re.compile(r"/engines/tests/runs/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("test-status")).to_have_text("Succeeded", timeout=45_000)
    expect(page.get_by_test_id("step-create")).to_have_text("Credentials created")
    expect(page.get_by_test_id("step-delete")).to_have_text("Credentials deleted")
    expect(page.get_by_test_id("test-message")).to_contain_text(
        "created credentials and deleted them"
    )
    screenshot(page, f"config-test-succeeded-{mode}")
    probe = Secret.objects.get(probe=True)
    token_id = probe.versions.get().credentials_id
    assert token_id not in {r["id"] for r in token_service.list_tokens(seed.token_service_path())}

    # The run is listed on the configuration page.
    page.get_by_role("link", name="Back to the configuration").click()
    expect(page.locator(".recent-tests")).to_contain_text("Succeeded")


def test_test_configuration_reports_the_providers_error(
    page: Page, context, js_enabled: bool, live_server, cloud, q_sync
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    open_configuration(page)
    page.get_by_label("user_name").fill("zed")
    page.get_by_role("button", name="Test configuration").click()
    expect(page.get_by_test_id("test-status")).to_have_text("Failed", timeout=45_000)
    expect(page.get_by_test_id("test-message")).to_contain_text("ERR10001")
    expect(page.get_by_test_id("test-message")).to_contain_text("user 'zed' is not known")
    expect(page.get_by_test_id("step-delete")).to_have_text("Skipped: nothing was created")
    screenshot(page, f"config-test-failed-{mode}")
