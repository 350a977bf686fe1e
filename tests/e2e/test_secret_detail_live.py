"""A custom credentials secret's page while its provider job works: once the task ends, the state,
the Versions table and the Tasks table all show it, without a reload (htmx, JavaScript on), or
after the page's own refresh (JavaScript off). The polling then stops (286).

The secret is created with its task queued and no worker running, so the page is open before
anything happens; the test then dispatches the task, and the real token-provider job runs and
reports back to the live server.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from secrets_app import seed
from secrets_app.models import SecretGroup, TaskStatus
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_dispatch,
)
from tests.cloud_fixtures import wait_for_task
from tests.e2e.axe import assert_no_serious_violations
from tests.e2e.conftest import login, screenshot
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
JOB_TIMEOUT_MS = 30_000


def test_versions_and_tasks_follow_the_task(
    page: Page, context, js_enabled: bool, live_server, cloud
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    secret = custom_credentials_secret_create(
        actor=cloud["actor"],
        name=f"live-{mode}",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )
    task = secret.tasks.get()
    assert task.status == TaskStatus.QUEUED
    polls: list[int] = []
    loads: list[str] = []
    page.on(
        "response",
        lambda r: polls.append(r.status) if r.url.endswith(f"/{secret.pk}/status/") else None,
    )
    page.on("framenavigated", lambda f: loads.append(f.url) if f == page.main_frame else None)

    page.goto(f"/secrets/{secret.pk}/")
    versions = page.locator("#version-table tbody")
    task_row = page.locator(f"#task-{task.pk}")
    expect(page.get_by_test_id("secret-state")).to_have_text("Pre-activation")
    expect(versions).to_have_text("No version yet.")
    expect(task_row.locator("td").nth(3)).to_have_text("Queued")
    screenshot(page, f"secret-live-pending-{mode}")
    if js_enabled:
        page.evaluate("window.__notReloaded = true")
        expect(page.locator("#secret-live")).to_have_attribute("hx-trigger", "every 1s")

    secret_task_dispatch(task_id=task.pk)  # the job runs now, as its own process
    finished = wait_for_task(secret.pk, timeout=JOB_TIMEOUT_MS / 1000)
    assert finished.status == TaskStatus.CREDENTIALS_CREATED, finished.errors

    expect(page.get_by_test_id("secret-state")).to_have_text("Active", timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_test_id("task-status")).to_have_text("Credentials created")
    expect(versions.locator("tr")).to_have_count(1)
    expect(versions.locator("tr td").first).to_have_text("1")
    expect(versions).not_to_contain_text("No version yet.")
    expect(task_row.locator("td").nth(3)).to_have_text("Credentials created")
    if js_enabled:
        assert page.evaluate("window.__notReloaded") is True, "the page was swapped in place"
        # The last poll said "stop", and what it brought has nothing left to poll.
        expect(page.locator("#secret-live")).not_to_have_attribute("hx-trigger", re.compile("."))
        assert polls and polls[-1] == 286, polls
        expect(page.locator("#live-status")).to_have_text(
            "State: Active. Latest task: Credentials created."
        )
    else:
        assert len(loads) >= 2, "the page refreshed itself"
        assert not polls
        expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
    screenshot(page, f"secret-live-active-{mode}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_secret_page_under_axe(browser, live_server, cloud, scheme):
    ctx = browser.new_context(base_url=live_server.url, color_scheme=scheme, bypass_csp=True)
    try:
        login(ctx, create_user(username="owner", manage_groups=True), live_server)
        secret = custom_credentials_secret_create(
            actor=cloud["actor"],
            name=f"axe-{scheme}",
            configuration="token-provider",
            parameters={"user_name": "alice"},
            secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
            custom_metadata={"owner": "x", "demo": True},
        )
        page = ctx.new_page()
        page.goto(f"/secrets/{secret.pk}/")
        expect(page.get_by_test_id("secret-metadata")).to_contain_text('"owner": "x"')
        assert_no_serious_violations(page, f"a pending secret's page ({scheme})")
        screenshot(page, f"secret-detail-{scheme}")
    finally:
        ctx.close()
