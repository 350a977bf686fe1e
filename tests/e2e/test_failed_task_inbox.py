"""The failed-task inbox (the Tasks page) in the browser, with JavaScript and without.

A token-provider secret whose real job fails (a user the token service does not know: ERR10001)
shows in the inbox and in the navigation's badge; once the token service knows the user, Retry
queues a new task linked to the failed one, and when the job has run again the row resolves by
itself: in place with htmx, through the page's own refresh without JavaScript. The retry is
held in django-q's queue until the test lets it run (instead of `q_sync`, which would run it
inside the click), so the page is seen waiting for it first, whatever the machine's speed.

Then Acknowledge with a note and the group-by-error-code view on the seeded failures, and the
inbox's screenshots and axe-core check in the light and the dark theme.
"""

from __future__ import annotations

import re
from datetime import timedelta
from importlib import import_module

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from playwright.sync_api import Browser, Page, expect

from engines_app.providers.iam import get_iam
from engines_app.sample_jobs import token_service
from secrets_app import seed
from secrets_app.models import (
    Secret,
    SecretGroup,
    SecretState,
    SecretTask,
    TaskResolution,
    TaskStatus,
    TaskType,
)
from secrets_app.services import inbox
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_dispatch,
)
from tests.cloud_fixtures import wait_for_task
from tests.e2e.axe import assert_no_serious_violations
from tests.e2e.conftest import login, screenshot, wait_for_htmx
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The job runs in its own process (sandboxed, started by the worker): allow for its start-up.
JOB_TIMEOUT_MS = 30_000
THEMES = ["light", "dark"]


def failing_secret(cloud, name: str, user_name: str) -> tuple[Secret, SecretTask]:
    """A token-provider secret whose first create task the real job failed: the token service
    does not know `user_name`."""
    secret = custom_credentials_secret_create(
        actor=cloud["actor"],
        name=name,
        configuration="token-provider",
        parameters={"user_name": user_name},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )
    secret_task_dispatch(task_id=secret.tasks.get().pk)
    task = wait_for_task(secret.pk, timeout=JOB_TIMEOUT_MS / 1000)
    assert task.status == TaskStatus.FAILED, task.status
    assert task.errors[0]["code"] == "ERR10001", task.errors
    return secret, task


def run_queued(task_id: str) -> None:
    """Do what a django-q worker does with the task queued for `task_id`: call its function with
    its arguments (the job then runs as its own process), and take it off the queue (the ORM
    broker's table, or Redis' list)."""
    broker = get_broker()
    if isinstance(broker, ORM):
        entries = [(q, q.task) for q in OrmQ.objects.all()]
    else:
        raws = broker.connection.lrange(broker.list_key, 0, -1)
        entries = [(raw, SignedPackage.loads(raw)) for raw in raws]
    queued = [(entry, package) for entry, package in entries if package.get("name") == task_id]
    assert len(queued) == 1, f"one queued django-q task for {task_id}, found {len(queued)}"
    entry, package = queued[0]
    assert package["func"] == "secrets_app.tasks.secret_task_run", package["func"]
    assert tuple(package["args"]) == (task_id,), package["args"]
    module, _, func = package["func"].rpartition(".")
    getattr(import_module(module), func)(*package["args"])
    if isinstance(entry, OrmQ):
        entry.delete()
    else:
        broker.connection.lrem(broker.list_key, 1, entry)


def test_a_failed_job_shows_in_the_inbox_and_its_retry_resolves_it(
    page: Page, context, js_enabled: bool, live_server, cloud
):
    mode = "js" if js_enabled else "nojs"
    # A user of this test's own: the token service store is shared by the whole test run, and
    # other tests count on "zed" staying unknown.
    user_name = f"zed-inbox-{mode}"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    secret, failed = failing_secret(cloud, f"inbox-token-{mode}", user_name)

    # The default view: the failure, its provider's code and message, counted by the badge.
    page.goto("/secrets/")
    expect(page.get_by_test_id("task-badge")).to_have_text("1 unresolved failed task")
    page.get_by_role("link", name=re.compile(r"^Tasks")).click()
    expect(page).to_have_url(re.compile(r"/tasks/$"))
    expect(page.get_by_role("link", name="Failed, unresolved")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("task-count")).to_have_text("1 task failed and not resolved")
    row = page.locator(f'[data-task="{failed.pk}"]')
    expect(row.get_by_role("link", name=secret.name)).to_have_attribute(
        "href", f"/secrets/{secret.pk}/#task-{failed.pk}"
    )
    expect(row.get_by_test_id("task-code")).to_have_text("ERR10001")
    expect(row).to_contain_text(f"user '{user_name}' is not known to the token service")
    expect(row).to_contain_text("Attempt 1")
    expect(row.get_by_test_id("task-state")).to_have_text("Failed")
    expect(page.locator("svg.task-chart")).to_have_attribute(
        "aria-label", re.compile(r"^1 failed task in the last 30 days \(ERR10001: 1\)")
    )
    screenshot(page, f"inbox-failed-{mode}")

    # The provider now succeeds: the token service knows the user.
    token_service.init_store(seed.token_service_path(), [user_name])
    loads: list[str] = []
    page.on("framenavigated", lambda f: loads.append(f.url) if f == page.main_frame else None)
    if js_enabled:
        page.evaluate("window.__notReloaded = true")
    row.get_by_role("button", name=f"Retry {failed.pk}").click()
    wait_for_htmx(page, js_enabled)

    # A new task, linked to the failed one (attempt 2), waits in the queue; the row says so.
    retry = SecretTask.objects.get(retry_of=failed)
    assert retry.attempt == 2 and retry.status == TaskStatus.QUEUED
    row = page.locator(f'[data-task="{failed.pk}"]')
    state = row.get_by_test_id("task-state")
    expect(state).to_contain_text("Retried")
    expect(state).to_contain_text(f"as {retry.pk[8:16]}… (attempt 2): queued")
    if js_enabled:
        expect(row).to_have_attribute("hx-trigger", "every 2s")
    else:
        expect(page.locator(".messages")).to_contain_text(
            f"Task {failed.pk} retried: {retry.pk} (attempt 2) is queued."
        )
        expect(page.locator('noscript meta[http-equiv="refresh"]')).to_have_count(1)
    loads_before = len(loads)

    run_queued(retry.pk)  # a worker picks the retry up: the real job runs again
    done = wait_for_task(secret.pk, timeout=JOB_TIMEOUT_MS / 1000)
    assert done.pk == retry.pk and done.status == TaskStatus.CREDENTIALS_CREATED, done.errors
    failed.refresh_from_db()
    assert failed.resolution == TaskResolution.SUCCEEDED_LATER

    if js_enabled:
        # The row resolves in place and stops polling; the page was never reloaded.
        expect(state).to_contain_text("Succeeded later", timeout=JOB_TIMEOUT_MS)
        expect(state).to_contain_text(f"as {retry.pk[8:16]}… (attempt 2): credentials created")
        expect(row).not_to_have_attribute("hx-trigger", re.compile("."))
        assert page.evaluate("window.__notReloaded") is True, "the row was swapped in place"
        assert len(loads) == loads_before
    else:
        # The page refreshes itself until nothing it shows is open: the row has left the
        # unresolved failures, and the Resolved view has it as succeeded later.
        expect(page.get_by_test_id("task-count")).to_have_text(
            "0 tasks failed and not resolved", timeout=JOB_TIMEOUT_MS
        )
        assert len(loads) > loads_before, "the page refreshed itself"
        expect(page.locator('noscript meta[http-equiv="refresh"]')).to_have_count(0)
        page.get_by_role("link", name="Resolved", exact=True).click()
        state = page.locator(f'[data-task="{failed.pk}"]').get_by_test_id("task-state")
        expect(state).to_contain_text("Succeeded later")
        expect(state).to_contain_text(f"as {retry.pk[8:16]}… (attempt 2): credentials created")
    screenshot(page, f"inbox-succeeded-later-{mode}")

    # The secret is active on its first version, and nothing is left for the badge.
    page.goto(f"/secrets/{secret.pk}/")
    expect(page.get_by_test_id("secret-state")).to_have_text("Active")
    expect(page.get_by_test_id("task-badge")).to_have_count(0)
    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE and secret.versions_total == 1


def test_acknowledge_with_a_note_and_group_by_error_code(
    page: Page, context, js_enabled: bool, live_server, cloud
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    assert seed.seed_inbox_demo(actor=cloud["actor"]) == 3  # ERR10004 twice, ERR10002 once
    page.goto("/tasks/")
    expect(page.get_by_test_id("task-badge")).to_have_text("3 unresolved failed tasks")

    # Grouped by error code, biggest group first, each group expandable to its rows.
    page.get_by_label("Show").select_option("code")
    if not js_enabled:
        page.get_by_role("button", name="Apply").click()
    wait_for_htmx(page, js_enabled)
    expect(page).to_have_url(re.compile(r"[?&]by=code"))
    groups = page.get_by_test_id("code-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0).locator(":scope > summary")).to_have_text(
        "2 failures: ERR10004 error: cannot create role: unknown user"
    )
    expect(groups.nth(1).locator(":scope > summary")).to_have_text(
        "1 failure: ERR10002 error: the token service is unreachable; the token was not revoked"
    )
    first = groups.nth(0)
    expect(first.get_by_test_id("task-row").first).to_be_hidden()
    first.locator(":scope > summary").click()
    expect(first.get_by_test_id("task-row")).to_have_count(2)
    expect(first.get_by_test_id("task-code")).to_have_text(["ERR10004", "ERR10004"])
    screenshot(page, f"inbox-grouped-{mode}")

    # Acknowledge one ERR10004 failure with a note.
    task = (
        SecretTask.objects.filter(status=TaskStatus.FAILED, errors__0__code="ERR10004")
        .order_by("-last_update_date", "-pk")
        .first()
    )
    assert task is not None
    row = page.locator(f'[data-task="{task.pk}"]')
    row.locator("summary", has_text="Acknowledge").click()
    row.get_by_label("Note (required)").fill("Known: that user left the company.")
    row.get_by_role("button", name="Acknowledge", exact=True).click()
    wait_for_htmx(page, js_enabled)
    if js_enabled:
        row = page.locator(f'[data-task="{task.pk}"]')
        expect(row.get_by_test_id("task-state")).to_contain_text("Acknowledged")
        expect(row.get_by_test_id("task-state")).to_contain_text(
            "“Known: that user left the company.”"
        )
        expect(row.get_by_role("button", name=f"Retry {task.pk}")).to_have_count(0)
        page.reload()  # the groups count again what is left
    else:
        expect(page.locator(".messages")).to_contain_text(f"Task {task.pk} acknowledged.")
        expect(page).to_have_url(re.compile(r"[?&]by=code"))
    expect(page.get_by_test_id("task-badge")).to_have_text("2 unresolved failed tasks")
    expect(groups.locator(":scope > summary")).to_have_text(
        [re.compile(r"^1 failure: ERR10002"), re.compile(r"^1 failure: ERR10004")]
    )
    task.refresh_from_db()
    assert task.resolution == TaskResolution.ACKNOWLEDGED
    assert task.resolution_note == "Known: that user left the company."

    # Kept in history: the Resolved view shows it with its note and who acknowledged it.
    page.get_by_role("link", name="Resolved", exact=True).click()
    wait_for_htmx(page, js_enabled)
    state = page.locator(f'[data-task="{task.pk}"]').get_by_test_id("task-state")
    expect(state).to_contain_text("Acknowledged")
    expect(state).to_contain_text("“Known: that user left the company.”")


def spread_over_the_month(cloud) -> None:
    """More failures, over several days, so that the chart has bars to show: the seeded ones,
    and a few more of each code moved back in time."""
    seed.seed_inbox_demo(actor=cloud["actor"])
    failed = list(SecretTask.objects.filter(status=TaskStatus.FAILED).order_by("pk"))
    now = timezone.now()
    for n, days in enumerate((2, 9, 17)):
        SecretTask.objects.filter(pk=failed[n % len(failed)].pk).update(
            last_update_date=now - timedelta(days=days)
        )
    principal = get_iam().principal_for_actor(cloud["actor"])
    # A create failure, never the delete task: its retry ladder is what the page shows next.
    # (Task ids are random, so the order by pk picks any of them.)
    acknowledged = next(t for t in failed if t.type == TaskType.CREATE_CREDENTIALS)
    inbox.task_acknowledge(
        principal=principal, task_id=acknowledged.pk, note="Expected: test data."
    )


@pytest.mark.parametrize("scheme", THEMES)
def test_the_inbox_under_axe_in_both_themes(browser: Browser, live_server, cloud, scheme: str):
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=scheme,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    errors: list[str] = []
    try:
        login(ctx, create_user(username="owner", manage_groups=True), live_server)
        spread_over_the_month(cloud)
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.emulate_media(color_scheme=scheme)

        def check(what: str, shot: str) -> None:
            wait_for_htmx(page, True)
            assert_no_serious_violations(page, f"{what} ({scheme})")
            screenshot(page, f"inbox-{shot}-{scheme}")

        page.goto("/tasks/")
        expect(page.locator("svg.task-chart rect")).to_have_count(3)
        # The axis labels today and every seventh day before it (none overlapping).
        today = timezone.localtime()
        expect(page.locator("svg.task-chart text.tick")).to_have_text(
            ["1", "0"] + [f"{today - timedelta(days=d):%b %d}" for d in (28, 21, 14, 7, 0)]
        )
        # The delete task failed days ago: its daily retry is due.
        expect(page.get_by_test_id("next-retry")).to_have_text(
            "Next automatic retry 1 of 10 due now"
        )
        page.locator("summary", has_text="The chart's numbers").click()
        row = page.get_by_test_id("task-row").first
        row.locator("summary", has_text="Acknowledge").click()
        check("the default view with its chart", "default")

        page.goto("/tasks/?by=code")
        for group in page.get_by_test_id("code-group").all():
            group.locator(":scope > summary").click()
        check("the grouped view", "grouped")

        page.goto("/tasks/?view=resolved")
        check("the resolved view", "resolved")
    finally:
        ctx.close()
    assert [e for e in errors if "status of 422" not in e] == []
