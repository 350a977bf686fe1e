"""After Add, in the browser, with JavaScript and without: reveal a value (copy, hide), rotate an
arbitrary secret and a custom credentials secret (whose new version appears live with htmx, or
after the page's own refresh without JavaScript), edit metadata, and delete with the typed name.
Then the new pages under axe-core, in the light and the dark theme."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from secrets_app import seed
from secrets_app.models import Secret, SecretGroup, SecretTask, TaskStatus, TaskTrigger
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_dispatch,
)
from tests.cloud_fixtures import wait_for_task, wait_until
from tests.e2e.axe import assert_no_serious_violations
from tests.e2e.conftest import field_error, login, screenshot, wait_for_htmx
from tests.factories import create_secret, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
JOB_TIMEOUT_MS = 30_000
THEMES = ["light", "dark"]


def test_reveal_rotate_edit_and_delete_an_arbitrary_secret(
    page: Page, context, js_enabled: bool, live_server
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    if js_enabled:
        context.grant_permissions(["clipboard-read", "clipboard-write"])
    secret = create_secret(name=f"browser-{mode}", payload="first-value")
    page.goto(f"/secrets/{secret.pk}/")

    # Reveal: the value appears in place, selectable, with a copy button (JavaScript only).
    page.get_by_label("Reason (optional)").fill("browser test")
    page.get_by_role("button", name="Reveal current value (version 1)").click()
    wait_for_htmx(page, js_enabled)
    value = page.locator("#revealed-value")
    expect(value).to_have_text("first-value")
    copy = page.get_by_role("button", name="Copy Value")
    if js_enabled:
        expect(page.get_by_role("heading", name="Value of version 1 (current)")).to_be_focused()
        copy.click()
        expect(copy).to_have_attribute("data-copied", "yes")
        assert page.evaluate("navigator.clipboard.readText()") == "first-value"
        expect(page.locator("#live-status")).to_have_text("Value copied to the clipboard.")
    else:
        expect(copy).to_be_hidden()
    screenshot(page, f"lifecycle-revealed-{mode}")
    page.get_by_role("link", name="Hide the value").click()
    expect(page.locator("#revealed-value")).to_have_count(0)
    expect(page.get_by_text("first-value")).to_have_count(0)

    # Rotate with a typed value and version metadata; the new version is current.
    page.get_by_role("link", name="Rotate").click()
    expect(page.get_by_role("heading", name=f"Rotate browser-{mode}")).to_be_visible()
    page.get_by_role("button", name="Rotate").click()
    expect(field_error(page, "Enter or upload the new value.")).to_be_visible()
    page.get_by_label("New value", exact=True).fill("second-value")
    page.get_by_label("Version metadata (optional)").fill('{"why": "browser"}')
    page.get_by_role("button", name="Rotate").click()
    expect(page).to_have_url(re.compile(rf"/secrets/{secret.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("version 2 is now current")
    expect(page.locator("#version-2 td").nth(1)).to_have_text("current")
    expect(page.locator("#version-1 td").nth(1)).to_have_text("previous")
    page.get_by_role("button", name="Reveal previous value (version 1)").click()
    wait_for_htmx(page, js_enabled)
    expect(page.locator("#revealed-value")).to_have_text("first-value")

    # A version's metadata, from the Versions table.
    row = page.locator("#version-1")
    row.locator("summary").click()
    row.get_by_label("Version 1 metadata (JSON)").fill("[1]")
    row.get_by_role("button", name="Save").click()
    wait_for_htmx(page, js_enabled)
    expect(page.locator("#version-1 .field-error")).to_contain_text("JSON object")
    page.locator("#version-1").get_by_label("Version 1 metadata (JSON)").fill('{"ticket": "OPS-7"}')
    page.locator("#version-1").get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Metadata of version 1 saved.")
    expect(page.locator("#version-1")).to_contain_text('{"ticket": "OPS-7"}')

    # Edit the metadata: an error first, then saved.
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Metadata", exact=True).fill("{oops")
    page.get_by_role("button", name="Save").click()
    expect(field_error(page, "Not valid JSON")).to_be_visible()
    if js_enabled:
        expect(page.get_by_label("Metadata", exact=True)).to_be_focused()
    page.get_by_label("Metadata", exact=True).fill('{"owner": "browser"}')
    page.get_by_label("Description").fill("Edited in the browser")
    page.get_by_label("Labels").fill("ci, prod")
    screenshot(page, f"lifecycle-edit-{mode}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text(f"Secret browser-{mode} saved.")
    details = page.locator("#secret-details")
    expect(details).to_contain_text("Edited in the browser")
    expect(page.get_by_test_id("secret-metadata")).to_contain_text('"owner": "browser"')

    # Delete with the typed name.
    page.get_by_role("link", name="Delete").click()
    page.get_by_label("Type the name of the secret to confirm").fill("browser")
    page.get_by_role("button", name="Delete").click()
    expect(field_error(page, f"Type the name exactly as shown: browser-{mode}.")).to_be_visible()
    page.get_by_label("Type the name of the secret to confirm").fill(f"browser-{mode}")
    screenshot(page, f"lifecycle-delete-{mode}")
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/secrets/$"))
    expect(page.locator(".messages")).to_contain_text(f"Secret browser-{mode} deleted.")
    assert not Secret.objects.filter(pk=secret.pk).exists()


def active_custom_secret(cloud, name: str) -> Secret:
    """A token-provider secret whose first credentials the real job created."""
    secret = custom_credentials_secret_create(
        actor=cloud["actor"],
        name=name,
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )
    secret_task_dispatch(task_id=secret.tasks.get().pk)
    task = wait_for_task(secret.pk, timeout=JOB_TIMEOUT_MS / 1000)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    return secret


def test_rotate_a_custom_credentials_secret_and_watch_the_new_version_arrive(
    page: Page, context, js_enabled: bool, live_server, cloud
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    secret = active_custom_secret(cloud, f"rotating-{mode}")
    loads: list[str] = []
    page.on("framenavigated", lambda fr: loads.append(fr.url) if fr == page.main_frame else None)
    page.goto(f"/secrets/{secret.pk}/")
    page.get_by_role("link", name="Rotate").click()
    expect(
        page.get_by_text("stays active on its current version until the job reports")
    ).to_be_visible()
    page.get_by_role("button", name="Rotate").click()

    expect(page).to_have_url(re.compile(rf"/secrets/{secret.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("Rotation of")
    expect(page.get_by_test_id("secret-state")).to_have_text("Active")
    expect(page.get_by_test_id("rotate-blocker")).to_contain_text("already in progress")
    expect(page.locator("#version-table tbody tr")).to_have_count(1)
    rotation = SecretTask.objects.get(secret=secret, trigger=TaskTrigger.MANUAL_SECRET_ROTATION)
    expect(page.locator(f"#task-{rotation.pk} td").nth(3)).to_have_text("Queued")
    screenshot(page, f"lifecycle-custom-rotating-{mode}")
    polls: list[int] = []
    if js_enabled:
        expect(page.locator("#secret-live")).to_have_attribute("hx-trigger", "every 1s")
        page.evaluate("window.__notReloaded = true")
        # A value revealed, and a reason being typed, while the page polls: each swap keeps both.
        page.get_by_role("button", name="Reveal current value (version 1)").click()
        expect(page.get_by_role("heading", name="Value of version 1 (current)")).to_be_visible()
        page.get_by_label("Reason (optional)").fill("typed while polling")
        page.on(
            "response",
            lambda r: polls.append(r.status) if r.url.endswith(f"/{secret.pk}/status/") else None,
        )
    before = len(loads)

    secret_task_dispatch(task_id=rotation.pk)  # the job runs now, as its own process
    wait_until(
        lambda: SecretTask.objects.get(pk=rotation.pk).is_terminal,
        timeout=JOB_TIMEOUT_MS / 1000,
        what="the rotation task to end",
    )
    assert SecretTask.objects.get(pk=rotation.pk).status == TaskStatus.CREDENTIALS_CREATED

    expect(page.locator("#version-2 td").nth(1)).to_have_text("current", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#version-1 td").nth(1)).to_have_text("previous")
    expect(page.locator(f"#task-{rotation.pk} td").nth(3)).to_have_text("Credentials created")
    expect(page.get_by_role("link", name="Rotate")).to_be_visible()
    if js_enabled:
        assert page.evaluate("window.__notReloaded") is True, "the page was swapped in place"
        expect(page.locator("#secret-live")).not_to_have_attribute("hx-trigger", re.compile("."))
        assert polls and polls[-1] == 286, polls
        expect(page.get_by_role("heading", name="Value of version 1 (current)")).to_be_visible()
        expect(page.get_by_label("Reason (optional)")).to_have_value("typed while polling")
    else:
        assert len(loads) > before, "the page refreshed itself"
        expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
    screenshot(page, f"lifecycle-custom-rotated-{mode}")
    page.get_by_role("button", name="Reveal current value (version 2)").click()
    wait_for_htmx(page, js_enabled)
    expect(page.locator("#revealed dt")).to_have_text("token")
    expect(page.locator("#revealed-field-1")).to_have_text(re.compile(r"\S{8,}"))


@pytest.mark.parametrize("scheme", THEMES)
def test_the_new_pages_under_axe(browser: Browser, live_server, cloud, scheme: str):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    try:
        login(ctx, create_user(username="owner", manage_groups=True), live_server)
        page = ctx.new_page()
        secret = create_secret(
            name=f"axe-{scheme}",
            payload="axe-value",
            labels=["a11y"],
            expiration_date=timezone.now() + timedelta(days=3),
        )
        custom = active_custom_secret(cloud, f"axe-custom-{scheme}")

        def check(what: str, shot: str) -> None:
            wait_for_htmx(page, True)
            assert_no_serious_violations(page, f"{what} ({scheme})")
            screenshot(page, f"lifecycle-{shot}-{scheme}")

        page.goto(f"/secrets/{secret.pk}/")
        page.get_by_role("button", name="Reveal current value (version 1)").click()
        expect(page.locator("#revealed-value")).to_have_text("axe-value")
        page.locator("#version-1 summary").click()
        check("a revealed value", "detail-revealed")

        page.goto(f"/secrets/{custom.pk}/")
        page.get_by_role("button", name="Reveal current value (version 1)").click()
        expect(page.locator("#revealed")).to_contain_text("token")
        check("revealed custom credentials", "custom-revealed")

        page.goto(f"/secrets/{secret.pk}/rotate/")
        page.get_by_role("button", name="Rotate").click()
        expect(field_error(page, "Enter or upload the new value.")).to_be_visible()
        check("the rotate page with an error", "rotate")

        page.goto(f"/secrets/{custom.pk}/edit/")
        page.get_by_label("Rotate automatically").check()
        page.get_by_role("button", name="Save").click()
        expect(field_error(page, "Enter how often to rotate.")).to_be_visible()
        check("the edit page with an error", "edit")

        page.goto(f"/secrets/{custom.pk}/delete/")
        page.get_by_label("Type the name of the secret to confirm").fill(custom.name)
        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_test_id("force-delete")).to_be_visible()
        check("the delete page offering force", "delete-force")

        page.goto("/secrets/?expires=30d")
        expect(page.locator("td.expires")).to_have_count(1)
        check("the table filtered by expiry", "table")
    finally:
        ctx.close()
