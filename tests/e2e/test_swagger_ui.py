"""Swagger UI at /api/v2/swagger-ui: served from the vendored files, under the console's CSP.

JavaScript only: Swagger UI is a JavaScript application, so without JavaScript the page can
only point at the OpenAPI document (tests/api/test_openapi.py checks that fallback); there is
nothing else to drive in a browser.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def js_enabled() -> bool:
    return True


def test_swagger_ui_lists_every_operation_in_both_themes(page: Page, live_server):
    off_site: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((live_server.url, "data:"))
            else off_site.append(request.url)
        ),
    )
    document = page.request.get("/api/v2/openapi.json").json()
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) >= 9

    page.goto("/api/v2/swagger-ui")
    expect(page.get_by_role("heading", name=document["info"]["title"])).to_be_visible()
    expect(page.locator(".opblock")).to_have_count(len(operation_ids))
    for operation_id in operation_ids:
        exact = re.compile(rf"^\s*{operation_id}\s*$")
        expect(page.locator(".opblock-summary-operation-id", has_text=exact)).to_have_count(1)
    expect(page.locator("html")).not_to_have_class("dark-mode")
    screenshot(page, "swagger_ui-light")

    # The console's theme choice (app.js keeps it in localStorage) applies here too.
    page.evaluate("localStorage.setItem('sm-theme', 'dark')")
    page.reload()
    expect(page.locator("html")).to_have_class("dark-mode")
    expect(page.locator(".opblock")).to_have_count(len(operation_ids))
    # Opening an operation shows its parameters and responses, the error body among them.
    page.locator(".opblock-summary-operation-id", has_text=re.compile("^get_secret_group$")).click()
    expect(page.locator(".opblock.is-open .response-col_status").first).to_be_visible()
    screenshot(page, "swagger_ui-dark")
    assert off_site == [], f"requests that left the console: {off_site}"
