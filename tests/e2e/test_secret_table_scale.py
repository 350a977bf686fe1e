"""The Secrets table past its count cap, in the browser with and without JavaScript: "more than"
counts, paging on, the filter selects the template prints itself, and a search that brings the
exact count back; screenshots in the light and the dark theme."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from secrets_app.forms import PAGE_SIZE
from secrets_app.selectors import COUNT_CAP
from tests.e2e.conftest import login, screenshot, wait_for_htmx
from tests.factories import create_user
from tests.secrets.test_table_scale import add_secrets

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def rows(page: Page):
    return page.locator("#secret-table tbody td.name")


def apply(page: Page, js_enabled: bool) -> None:
    if not js_enabled:
        page.get_by_role("button", name="Apply").click()
    wait_for_htmx(page, js_enabled)


def test_a_table_past_the_cap_pages_on_and_narrows(page: Page, js_enabled, context, live_server):
    add_secrets(COUNT_CAP + 30)
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto("/secrets/?sort=name")
    count = page.get_by_test_id("result-count")
    expect(count).to_have_text(f"More than {COUNT_CAP} secrets")
    expect(page.get_by_text(f"Page 1 of more than {COUNT_CAP // PAGE_SIZE}")).to_be_visible()
    expect(rows(page)).to_have_count(PAGE_SIZE)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        screenshot(page, f"secret-table-past-cap-{scheme}-{'js' if js_enabled else 'nojs'}")
    page.emulate_media(color_scheme="light")

    page.get_by_role("link", name="Next").click()
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(re.compile(r"sort=name&page=2"))
    expect(page.get_by_text(f"Page 2 of more than {COUNT_CAP // PAGE_SIZE}")).to_be_visible()
    expect(rows(page).first).to_have_text(re.compile(r"svc-0\d{4}"))

    # A search with few matches is counted exactly again, and keeps the sort.
    page.get_by_label("Search").fill("needle")
    apply(page, js_enabled)
    expected = len(range(0, COUNT_CAP + 30, 50))
    expect(count).to_have_text(f"{expected} secrets match these filters")
    expect(rows(page)).to_have_count(expected)
    expect(page.get_by_label("Search")).to_have_value("needle")

    # The selects the template prints itself filter, and keep their choice.
    page.get_by_label("Search").fill("")
    page.get_by_label("State").select_option(label="Deactivated")
    apply(page, js_enabled)
    expect(page).to_have_url(re.compile(r"state=3"))
    expect(page.get_by_label("State")).to_have_value("3")
    expect(count).to_have_text(f"{len(range(0, COUNT_CAP + 30, 5))} secrets match these filters")
    expect(page.locator("#secret-table .badge").first).to_have_text("Deactivated")
    screenshot(page, f"secret-table-filtered-{'js' if js_enabled else 'nojs'}")
