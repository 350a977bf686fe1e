"""Refused input in the browser, with JavaScript and without: a file too large for any form, which
the console refuses before reading it. Screenshots in both themes go to
test-artifacts/bad-input-*.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from console import validation
from tests.e2e.conftest import login, screenshot, wait_for_htmx
from tests.factories import create_secret, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tolerant_page(context) -> Page:
    """The shared `page` fixture, except that the 413 this test provokes is expected: chromium
    logs a refused document load as an error."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    expected = ("status of 422", "status of 413")
    assert [e for e in errors if not any(x in e for x in expected)] == []


def _both_themes(page: Page, name: str) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        screenshot(page, f"{name}-{scheme}")
    page.emulate_media(color_scheme="light")


def test_a_file_too_large_for_any_form_is_refused_with_a_message(
    tolerant_page: Page, context, js_enabled: bool, live_server, settings
):
    page = tolerant_page
    mode = "js" if js_enabled else "nojs"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # keeps the file small: 4 MB and a bit
    secret = create_secret(name="browser-value", payload="first")
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto(f"/secrets/{secret.pk}/rotate/")
    too_large = validation.UPLOAD_MAX_BYTES + 128 * 1024
    page.get_by_label("…or upload the new value from a file").set_input_files(
        {"name": "value.txt", "mimeType": "text/plain", "buffer": b"x" * too_large}
    )
    page.get_by_role("button", name="Rotate").click()
    wait_for_htmx(page, js_enabled)
    notice = page.get_by_test_id("bad-input")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("larger than the console accepts")
    expect(notice).to_have_attribute("role", "alert")
    if js_enabled:  # shown above the form, which stays as it was
        expect(page.locator("#rotate-form")).to_be_visible()
    else:
        expect(page.get_by_role("heading", name="What you sent is too large")).to_be_visible()
        expect(page.get_by_role("link", name="Back to the page")).to_be_visible()
    _both_themes(page, f"bad-input-too-large-{mode}")
    assert secret.versions.count() == 1
