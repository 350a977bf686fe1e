"""Playwright fixtures: Debian's chromium, a page with JavaScript on or off, htmx waits."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"

expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # `playwright install` cannot download browsers here; Debian's chromium is used instead.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def js_enabled(request) -> bool:
    return bool(request.param)


@pytest.fixture
def context(browser: Browser, js_enabled: bool, live_server) -> BrowserContext:
    ctx = browser.new_context(java_script_enabled=js_enabled, base_url=live_server.url)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page that fails the test on any browser console error, CSP violations included."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    # A rejected form (422) is logged by chromium as a failed resource load; that is expected.
    unexpected = [e for e in errors if "status of 422" not in e]
    assert unexpected == [], unexpected


def wait_for_htmx(page: Page, js_enabled: bool) -> None:
    """Wait until htmx has finished every request and swap (a no-op without JavaScript).

    A locator, not wait_for_function: the Content-Security-Policy forbids eval in the page.
    """
    if js_enabled:
        busy = page.locator(".htmx-request, .htmx-settling, .htmx-swapping, .htmx-added")
        expect(busy).to_have_count(0)


def wait_until(
    page: Page, condition: Callable[[], bool], what: str, timeout_s: float = 5.0
) -> None:
    """Wait for a condition on the test's side, such as a route handler having been called.

    Python's Playwright has no `expect.poll`, and its route handlers run only while the test is
    inside a Playwright call; each short wait lets it dispatch the events that make the
    condition true. It fails with `what` after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        page.wait_for_timeout(10)


def login(context: BrowserContext, user, live_server) -> None:
    """Sign a user in by giving the browser a session cookie (no login form on every test)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot under test-artifacts/ (git-ignored) for a human to look at."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def choose_secret_type(page: Page, kind: str) -> None:
    """On Add a secret: click the type's tile (the whole card is its radio's label), then Next."""
    tile = page.locator(f'[data-tile="{kind}"]')
    tile.click()
    expect(tile.get_by_role("radio")).to_be_checked()
    page.get_by_role("button", name="Next").click()


def field_error(page: Page, text: str):
    """A message shown beside its field (the error summary above the step repeats it)."""
    return page.locator(".field-errors").get_by_text(text)
