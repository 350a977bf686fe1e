"""Add secret → Custom credentials in the browser, with JavaScript and without, against the real job.

The `cloud` fixture seeds the embedded cloud with jobs that call back to the live server, and
`q_sync` dispatches the secret's task as soon as the wizard commits: the token provider job runs
as its own process and reports to the API, and the secret's page follows the state by itself
(htmx polling with JavaScript, a meta refresh without).
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from console.models import WizardDraft
from secrets_app.models import Secret, SecretState, TaskStatus
from secrets_app.services import secret_version_payload_read
from tests.cloud_fixtures import wait_for_task
from tests.e2e.conftest import choose_secret_type, field_error, login, screenshot, wait_for_htmx
from tests.factories import create_user, factory_actor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The job runs in its own process (sandboxed, started by the worker): allow for its start-up.
JOB_TIMEOUT_MS = 30_000


def open_wizard(page: Page) -> None:
    page.goto("/secrets/")
    page.get_by_role("link", name="Add", exact=True).click()
    choose_secret_type(page, "custom_credentials")
    expect(page.get_by_role("heading", name="Details")).to_be_visible()


def details(page: Page, name: str, group: str) -> None:
    page.locator("#id_name").fill(name)
    page.locator("#id_description").fill("Made by the browser test")
    page.get_by_label("Secret group").select_option(label=group)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Configuration")).to_be_visible()


def configuration_and_parameters(page: Page, user_name: str) -> None:
    page.get_by_label("Custom credentials configuration").select_option(
        label="token-provider — job token-provider, us-south"
    )
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Parameters")).to_be_visible()
    page.get_by_label("user_name").fill(user_name)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Lease and rotation")).to_be_visible()


def follow_detail_page(page: Page, js_enabled: bool) -> list[str]:
    """Record what keeps the page current: status polls with JS, full reloads without."""
    seen: list[str] = []
    if js_enabled:
        page.on("request", lambda r: seen.append(r.url) if r.url.endswith("/status/") else None)
    else:
        page.on(
            "framenavigated",
            lambda f: seen.append(f.url) if f == page.main_frame else None,
        )
    return seen


def test_add_a_custom_credentials_secret_that_becomes_active(
    page: Page, context, js_enabled: bool, live_server, cloud, q_sync
):
    login(context, create_user(username="owner", manage_groups=True), live_server)
    mode = "js" if js_enabled else "nojs"
    name = f"alice-token-{mode}"
    open_wizard(page)

    # Details: a field error, then a group created in context (and kept selected), then the
    # provider group, whose secrets the job's service ID may report on.
    page.locator("#id_name").fill("-bad-")
    page.get_by_role("button", name="Next").click()
    expect(field_error(page, "is not allowed")).to_be_visible()
    page.locator("#id_name").fill(name)
    page.locator("summary", has_text="Create a secret group").click()
    page.get_by_label("New group name").fill(f"made-in-{mode}")
    page.get_by_role("button", name="Create", exact=True).click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_label("Secret group").locator("option:checked")).to_have_text(
        f"made-in-{mode}"
    )
    expect(page.locator("#id_name")).to_have_value(name)
    page.get_by_label("Labels").fill("e2e, tokens")
    details(page, name, "custom-credentials")

    # Configuration, then the parameters generated from its schema.
    screenshot(page, f"custom_credentials-configuration-{mode}")
    page.get_by_label("Custom credentials configuration").select_option(
        label="token-provider — job token-provider, us-south"
    )
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Parameters")).to_be_visible()
    expect(page.get_by_label("user_name")).to_have_attribute("aria-required", "true")
    expect(page.get_by_text("Format: type:enum[admin|user], required:false")).to_be_visible()
    # Validated on the server against the configuration's schema, each message by its input.
    page.get_by_role("button", name="Next").click()
    expect(page.locator('[data-parameter="user_name"]')).to_contain_text("user_name is required.")
    screenshot(page, f"custom_credentials-parameters-{mode}")
    page.get_by_label("user_name").fill("alice")
    page.get_by_label("scope").select_option("admin")
    page.get_by_label("expires").fill("600")
    page.get_by_role("button", name="Next").click()

    # Lease and rotation: the rotation may not outlast the lease.
    expect(page.get_by_role("heading", name="Lease and rotation")).to_be_visible()
    page.get_by_label("Lease duration (TTL)").fill("2d")
    page.get_by_label("Rotate automatically").check()
    page.get_by_label("Rotation interval").fill("3")
    page.get_by_label("Unit").select_option("day")
    page.get_by_role("button", name="Next").click()
    expect(field_error(page, "cannot be longer than the lease duration (2 days)")).to_be_visible()
    page.get_by_label("Lease duration (TTL)").fill("30d")
    page.get_by_role("button", name="Next").click()

    # Review: the summary, what Add does, and the equivalent API request.
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    review = page.locator(".review")
    expect(review).to_contain_text(name)
    expect(review).to_contain_text("Parameter expires")
    expect(review).to_contain_text(
        "Queue a create_credentials task that runs Code Engine job token-provider in project credentials-providers"
    )
    page.locator("summary", has_text="Equivalent API request").click()
    expect(page.locator("pre.api-body")).to_contain_text('"expires": 600')
    screenshot(page, f"custom_credentials-review-{mode}")
    page.get_by_role("button", name="Add").click()

    # The secret page: Pre-activation, then Active by itself once the job has reported.
    expect(page).to_have_url(re.compile(r"/secrets/[0-9a-f-]{36}/$"))
    seen = follow_detail_page(page, js_enabled)
    if js_enabled:
        page.evaluate("window.__notReloaded = true")
    state = page.get_by_test_id("secret-state")
    expect(state).to_have_text("Pre-activation")
    # The job reports to the live server; once the task is done, the page catches up on its own.
    secret = Secret.objects.get(name=name)
    task = wait_for_task(secret.pk, timeout=JOB_TIMEOUT_MS / 1000)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    expect(state).to_have_text("Active")
    expect(page.get_by_test_id("task-status")).to_have_text("Credentials created")
    if js_enabled:
        assert page.evaluate("window.__notReloaded") is True, "htmx swapped the status in place"
        assert seen, "the status was polled"
    else:
        assert len(seen) >= 1, "the page refreshed itself"
    screenshot(page, f"custom_credentials-active-{mode}")

    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE and secret.secret_group.name == "custom-credentials"
    assert secret.parameters == {"user_name": "alice", "scope": "admin", "expires": 600}
    assert secret.ttl_seconds == 30 * 86400 and secret.rotation["interval"] == 3
    token = secret_version_payload_read(
        actor=factory_actor(), version_id=secret.versions.get(alias="current").pk
    )["token"]
    assert token not in json.dumps(list(WizardDraft.objects.values("data")))
    assert token not in page.content()


def test_a_failing_job_shows_its_error_and_the_secret_stays_pre_activation(
    page: Page, context, js_enabled: bool, live_server, cloud, q_sync
):
    login(context, create_user(username="owner", manage_groups=True), live_server)
    mode = "js" if js_enabled else "nojs"
    open_wizard(page)
    details(page, f"zed-token-{mode}", "custom-credentials")
    configuration_and_parameters(page, "zed")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    page.get_by_role("button", name="Add").click()

    expect(page).to_have_url(re.compile(r"/secrets/[0-9a-f-]{36}/$"))
    task = wait_for_task(
        Secret.objects.get(name=f"zed-token-{mode}").pk, timeout=JOB_TIMEOUT_MS / 1000
    )
    assert task.status == TaskStatus.FAILED, task.status
    error = page.locator("#secret-status .form-error")
    expect(error).to_contain_text("ERR10001")
    expect(error).to_contain_text("user 'zed' is not known to the token service")
    expect(page.get_by_test_id("task-status")).to_have_text("Failed")
    expect(page.get_by_test_id("secret-state")).to_have_text("Pre-activation")
    secret = Secret.objects.get(name=f"zed-token-{mode}")
    assert secret.state == SecretState.PRE_ACTIVATION and secret.versions_total == 0
