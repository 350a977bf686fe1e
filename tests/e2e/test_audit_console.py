"""The Audit page in the browser, with JavaScript and without: a Manager opens it from the
navigation, narrows it to refused attempts, follows an actor, meets a bad filter, pages back in
time and downloads the current filter as CSV and JSON. Then the page under axe in both themes."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from console.audit import audit_record
from console.identity import SYSTEM
from tests.e2e.axe import assert_no_serious_violations
from tests.e2e.conftest import login, screenshot, wait_for_htmx
from tests.factories import create_secret, create_user, grant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

THEMES = ["light", "dark"]


def shots(page: Page, name: str) -> None:
    """A screenshot in each colour theme."""
    for scheme in THEMES:
        page.emulate_media(color_scheme=scheme)
        screenshot(page, f"{name}-{scheme}")
    page.emulate_media(color_scheme="light")


def _history() -> str:
    """Some history: older routine events, a read that was allowed and one that was refused."""
    for n in range(60):
        audit_record(
            actor=SYSTEM,
            action="secret.rotate",
            object_type="secret",
            object_id=f"routine-{n}",
            object_name=f"routine-{n}",
        )
    secret = create_secret(name="payments-db", payload="value-never-in-the-log")
    allowed, refused = create_user(username="oncall"), create_user(username="intern")
    grant(allowed, "SecretsReader")
    grant(refused, "Reader")
    for user in (allowed, refused):
        client = Client()
        client.force_login(user)
        client.post(
            f"/secrets/{secret.pk}/reveal/",
            {"version": "current", "reason": "INC-2041"},
            REMOTE_ADDR="198.51.100.23",
        )
    return str(secret.pk)


def _apply(page: Page, js_enabled: bool) -> None:
    if js_enabled:
        wait_for_htmx(page, js_enabled)
    else:
        page.get_by_role("button", name="Apply").click()


def test_find_the_refused_read_then_export_it(page: Page, context, js_enabled: bool, live_server):
    mode = "js" if js_enabled else "nojs"
    secret_id = _history()
    login(context, create_user(username="auditor", manage_groups=True), live_server)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/secrets/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    table = page.locator("#audit-table")
    expect(table.locator("tbody tr")).to_have_count(50)
    expect(table).to_contain_text("payments-db")
    shots(page, f"audit-log-{mode}")

    # Only the refused attempts: the intern's Reveal, with where it came from.
    page.get_by_label("Outcome").select_option("denied")
    _apply(page, js_enabled)
    expect(page).to_have_url(re.compile(r"[?&]outcome=denied"))
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    for text in ("intern", "secret.read", "payments-db", "198.51.100.23", "Denied"):
        expect(row).to_contain_text(text)
    expect(row).to_contain_text("needed_role: SecretsReader")
    shots(page, f"audit-log-denied-{mode}")

    # The same secret's whole story, from its object link: the allowed read is there too.
    row.get_by_role("link", name="payments-db").click()
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(re.compile(rf"object_id={secret_id}"))
    expect(table).to_contain_text("oncall")
    expect(table).to_contain_text("reason: INC-2041")

    # A date range that ends before it starts is refused, naming the problem.
    page.goto("/audit/")
    page.get_by_label("From").fill("2031-05-02")
    page.get_by_label("To", exact=True).fill("2031-05-01")
    if js_enabled:
        page.get_by_role("button", name="Apply").click()
        wait_for_htmx(page, js_enabled)
    else:
        page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_contain_text("The end date is before the start date.")
    shots(page, f"audit-log-bad-filter-{mode}")

    # Older events are a page away.
    page.goto("/audit/?action=secret.rotate")
    expect(table.locator("tbody tr")).to_have_count(50)
    table.get_by_role("link", name="Older").click()
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(table.locator("tbody tr")).to_have_count(10)

    # The current filter, downloaded.
    page.goto("/audit/?outcome=denied")
    with page.expect_download() as csv_download:
        page.get_by_test_id("export-csv").click()
    content = Path(csv_download.value.path()).read_text(encoding="utf-8")
    [record] = list(csv.DictReader(io.StringIO(content)))
    assert (record["actor_name"], record["action"], record["outcome"]) == (
        "intern",
        "secret.read",
        "denied",
    )
    assert csv_download.value.suggested_filename.endswith(".csv")
    with page.expect_download() as json_download:
        page.get_by_test_id("export-json").click()
    records = json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))
    assert [r["object_id"] for r in records] == [secret_id]
    assert "value-never-in-the-log" not in content + json.dumps(records)


@pytest.mark.parametrize("scheme", THEMES)
def test_the_audit_page_under_axe(browser: Browser, live_server, scheme: str):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    try:
        _history()
        login(ctx, create_user(username="auditor", manage_groups=True), live_server)
        page = ctx.new_page()
        page.goto("/audit/?object_type=secret")
        expect(page.locator("#audit-table tbody tr").first).to_be_visible()
        assert_no_serious_violations(page, f"the Audit page ({scheme})")
        page.goto("/audit/?date_from=2031-05-02&date_to=2031-05-01")
        expect(page.get_by_role("alert")).to_be_visible()
        assert_no_serious_violations(page, f"the Audit page with a bad filter ({scheme})")
        screenshot(page, f"audit-log-axe-{scheme}")
    finally:
        ctx.close()
