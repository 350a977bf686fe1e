"""Add secret → Arbitrary in the browser, with JavaScript and without."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from secrets_app.models import Secret
from tests.e2e.conftest import choose_secret_type, field_error, login, screenshot, wait_for_htmx
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_add_an_arbitrary_secret(page: Page, context, js_enabled: bool, live_server):
    login(context, create_user(username="owner", manage_groups=True), live_server)
    mode = "js" if js_enabled else "nojs"
    page.goto("/secrets/")
    page.get_by_role("link", name="Add", exact=True).click()
    choose_secret_type(page, "arbitrary")
    expect(page.get_by_role("heading", name="Details")).to_be_visible()

    # An invalid step is re-rendered with field errors.
    page.locator("#id_name").fill("-bad-")
    page.get_by_role("button", name="Next").click()
    expect(field_error(page, "is not allowed")).to_be_visible()

    # Create a group in context, without losing what was typed.
    page.locator("#id_name").fill(f"deploy-key-{mode}")
    page.locator("#id_description").fill("Made in the browser")
    page.locator("summary", has_text="Create a secret group").click()
    page.get_by_label("New group name").fill(f"browser-{mode}")
    page.get_by_role("button", name="Create", exact=True).click()
    wait_for_htmx(page, js_enabled)
    expect(page.locator("#id_secret_group")).to_have_value(re.compile(r"[0-9a-f-]{36}"))
    expect(page.locator("#id_name")).to_have_value(f"deploy-key-{mode}")
    page.get_by_label("Labels").fill("ci, prod")
    # Enter submits the step's main action, not the in-context "Create" button before it.
    page.get_by_label("Labels").press("Enter")

    expect(page.get_by_role("heading", name="Expiration")).to_be_visible()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    expect(page.locator(".review")).to_contain_text(f"deploy-key-{mode}")
    expect(page.locator(".review")).to_contain_text(f"browser-{mode}")
    page.locator("#id_payload").fill("s3cret-from-the-browser")
    screenshot(page, f"arbitrary-review-{mode}")
    page.get_by_role("button", name="Add").click()

    expect(page).to_have_url(re.compile(r"/secrets/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("secret-state")).to_have_text("Active")
    secret = Secret.objects.get(name=f"deploy-key-{mode}")
    assert secret.secret_group.name == f"browser-{mode}" and secret.labels == ["ci", "prod"]
    # Back from the result page, the finished draft sends the user to the secret, not a re-submit.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/secrets/|/wizards/"))
