"""Screenshots of the Secrets table in both themes, for people to look at (test-artifacts/)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import login, screenshot
from tests.factories import create_group, create_secret, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_secrets_table_in_both_themes(browser: Browser, live_server, scheme: str):
    group = create_group(name="payments")
    for i in range(8):
        create_secret(
            name=f"service-{i}-token",
            group=group if i % 2 else None,
            labels=["prod", f"team-{i % 3}"],
            description="A demo secret",
        )
    context = browser.new_context(
        base_url=live_server.url, color_scheme=scheme, viewport={"width": 1300, "height": 800}
    )
    try:
        login(context, create_user(username="viewer", manage_groups=True), live_server)
        page = context.new_page()
        page.goto("/secrets/")
        expect(page.get_by_test_id("result-count")).to_have_text("8 secrets")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(13, 17, 23)") == (scheme == "dark"), background
        screenshot(page, f"secrets-table-{scheme}")
    finally:
        context.close()
