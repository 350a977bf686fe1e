"""The browser path through the foundation: sign in, create a group, find it, search and filter.

Each test runs twice: with JavaScript (htmx swaps) and without (plain forms and links).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_for_htmx
from tests.factories import create_group, create_secret, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalogue():
    payments = create_group(name="payments", description="Card processing")
    for env in ("dev", "prod"):
        create_secret(
            name=f"stripe-{env}",
            group=payments,
            labels=[env, "us-south"],
            description="Stripe API key",
        )
    create_secret(name="db-password", labels=["prod", "eu-de"], description="Postgres superuser")
    for i in range(26):
        create_secret(name=f"filler-{i:02d}", labels=["bulk"])
    create_user(username="owner", password="owner-pass-123", manage_groups=True)


def rows(page: Page):
    return page.locator("#secret-table tbody td.name")


def test_sign_in_create_group_then_search_and_filter(page: Page, js_enabled: bool, catalogue):
    page.goto("/secrets/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("owner-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Secrets")).to_be_visible()
    expect(page.get_by_test_id("result-count")).to_have_text("29 secrets")

    # Create a group and find it in the list.
    page.get_by_role("link", name="Secret groups").click()
    page.get_by_role("link", name="Create").click()
    page.get_by_label("Name").fill("x")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Group name must be 2 to 64 characters long")).to_be_visible()
    page.get_by_label("Name").fill("e2e-team")
    page.get_by_label("Description").fill("Made in the browser")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"/groups/$"))
    expect(page.get_by_text("Secret group 'e2e-team' created.")).to_be_visible()
    row = page.locator("#group-table tr", has_text="e2e-team")
    expect(row).to_contain_text("Made in the browser")
    expect(row.locator("td").nth(2)).to_have_text("0")

    # The new group's link opens the table filtered to it: empty, with a way out.
    row.get_by_role("link", name="e2e-team").click()
    expect(page.get_by_text("No secrets match these filters")).to_be_visible()
    page.get_by_role("link", name="Clear", exact=True).click()
    expect(page.get_by_test_id("result-count")).to_have_text("29 secrets")

    # Search.
    page.get_by_label("Search").fill("stripe")
    if not js_enabled:
        page.get_by_role("button", name="Apply").click()
    wait_for_htmx(page, js_enabled)
    expect(rows(page)).to_have_count(2)
    expect(page).to_have_url(re.compile(r"q=stripe"))

    # Filter by labels (all must match) on top of the search.
    page.get_by_label("Labels").fill("prod,us-south")
    if not js_enabled:
        page.get_by_role("button", name="Apply").click()
    wait_for_htmx(page, js_enabled)
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("stripe-prod")

    # Filter by group, clearing the search: both stripe secrets live in payments.
    page.get_by_label("Search").fill("")
    page.get_by_label("Labels").fill("")
    page.get_by_label("Group").select_option(label="payments")
    if not js_enabled:
        page.get_by_role("button", name="Apply").click()
    wait_for_htmx(page, js_enabled)
    expect(rows(page)).to_have_count(2)
    expect(page).to_have_url(re.compile(r"group=[0-9a-f-]{36}"))

    # Back to everything, sorted by name descending, then page 2.
    page.get_by_role("link", name="Clear", exact=True).click()
    page.get_by_role("link", name="Name").click()
    wait_for_htmx(page, js_enabled)
    expect(rows(page).first).to_contain_text("db-password")
    page.get_by_role("link", name="Name ▲").click()
    wait_for_htmx(page, js_enabled)
    expect(rows(page).first).to_contain_text("stripe-prod")
    page.get_by_role("link", name="Next").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(rows(page)).to_have_count(4)
    expect(page).to_have_url(re.compile(r"sort=-name&page=2"))


@pytest.mark.parametrize("js_enabled", [True], ids=["js"], indirect=True)
def test_htmx_swaps_only_the_table(page: Page, js_enabled: bool, catalogue):
    page.goto("/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("owner-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Secrets")).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Type").select_option(label="Arbitrary")
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(re.compile(r"type=arbitrary"))
    assert page.evaluate("window.__notReloaded") is True
    # Back restores the previous full page (historyRestoreAsHxRequest is off).
    page.go_back()
    expect(page.get_by_label("Type")).to_have_value("")
    expect(page.locator("#secret-filters")).to_have_count(1)
