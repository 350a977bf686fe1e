"""Every step of every wizard under axe-core, in the light and the dark theme: no serious or
critical violation, including each step's rejected state (the error summary). And the keyboard
focus: on the new step's heading after Next, on the first invalid field after a rejected Next
(with JavaScript), on the error summary after a full page load without it.

The four add-secret wizards start from the Add a secret tiles (a radio group, one Next), which
are checked too; Add configuration starts from Secrets engines.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from engines_app.providers.embedded import seed as embedded_seed
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.resource_controller import services as rc_services
from secrets_app import seed
from secrets_app.models import Secret
from tests.e2e.axe import AXE_SHA256, AXE_VERSION, assert_no_serious_violations, vendored_axe
from tests.e2e.conftest import choose_secret_type, login, screenshot, wait_for_htmx
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

THEMES = ["light", "dark"]
TOKEN_JOB = next(job for job in embedded_seed.SAMPLE_JOBS if job.name == "token-provider")


def test_the_vendored_axe_is_the_version_noted():
    assert vendored_axe() == (AXE_VERSION, AXE_SHA256)


@pytest.fixture
def world(cloud):
    """Every wizard can reach its Review: the seeded cloud, service instances, access groups,
    and a job that no configuration uses yet (in a project Secrets Manager is not authorized on)."""
    actor = cloud["actor"]
    rc_services.seed_service_instances(actor=actor)
    seed.seed_access_groups(actor=actor)
    project = ce.project_create(actor=actor, name="a11y-project", region="eu-de")
    ce.job_create(
        actor=actor,
        project=project,
        name="a11y-token-job",
        command=["{python}", "{base_dir}/engines_app/sample_jobs/" + TOKEN_JOB.script],
        env={k: v for k, v in TOKEN_JOB.env.items() if k != "CE_REMOVE_COMPLETED_JOBS"},
    )
    return {**cloud, "fresh_job": f"{project.pk}/a11y-token-job"}


@pytest.fixture
def themed(browser: Browser, live_server, request) -> tuple[BrowserContext, Page, list[str]]:
    """A page with JavaScript in the requested colour scheme, whose CSP lets axe be injected."""
    ctx = browser.new_context(
        base_url=live_server.url,
        color_scheme=request.param,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield ctx, page, errors
    ctx.close()
    assert [e for e in errors if "status of 422" not in e] == []


class Walk:
    """Steps through a wizard, checking each step with axe and where the focus is."""

    def __init__(self, page: Page, theme: str, name: str) -> None:
        self.page, self.theme, self.name = page, theme, name
        self.count = 0

    def check(self, what: str) -> None:
        wait_for_htmx(self.page, True)
        assert_no_serious_violations(self.page, f"{self.name} {what} ({self.theme})")

    def step(self, title: str) -> None:
        """A new step is on screen: its heading has the focus, and axe finds nothing serious.
        After the first step (a full page), each arrives by an htmx swap and is announced."""
        self.count += 1
        heading = self.page.locator("#step-heading")
        expect(heading).to_have_text(title)
        expect(heading).to_be_focused()
        if self.count > 1:
            expect(self.page.locator("#live-status")).to_contain_text(f": {title}")
        self.check(f"step {title}")
        if self.count <= 2:
            screenshot(self.page, f"a11y-{self.name}-{self.count}-{self.theme}")

    def rejected(self, title: str, first_invalid: str) -> None:
        """The step came back with errors: summary first, focus on the first invalid field."""
        summary = self.page.get_by_test_id("error-summary")
        expect(summary).to_be_visible()
        expect(summary).to_have_attribute("role", "alert")
        expect(self.page.locator(first_invalid)).to_be_focused()
        expect(self.page.locator(first_invalid)).to_have_attribute("aria-invalid", "true")
        self.check(f"step {title}, rejected")
        screenshot(self.page, f"a11y-{self.name}-rejected-{self.theme}")

    def next(self, label: str = "Next") -> None:
        self.page.get_by_role("button", name=label, exact=True).click()
        wait_for_htmx(self.page, True)


def start_secret(page: Page, theme: str, kind: str) -> Walk:
    page.goto("/secrets/new/")
    walk = Walk(page, theme, kind)
    walk.check("Add a secret tiles")
    # The tiles are one radio group: arrow keys move the choice, the card shows it.
    first = page.get_by_role("radio").and_(page.locator(":enabled")).first
    first.focus()
    tile = page.locator(f'[data-tile="{kind}"]')
    tile.click()
    expect(tile.get_by_role("radio")).to_be_checked()
    walk.check("Add a secret tiles, one chosen")
    screenshot(page, f"a11y-tiles-{kind}-{theme}")
    page.get_by_role("button", name="Next").click()
    return walk


def details(walk: Walk, name: str) -> None:
    walk.step("Details")
    walk.next()
    walk.rejected("Details", "#id_name")
    walk.page.locator("#id_name").fill(name)
    walk.page.get_by_label("Secret group").select_option(label="custom-credentials")
    walk.next()


@pytest.mark.parametrize("themed", THEMES, indirect=True, ids=THEMES)
def test_arbitrary(themed, world, live_server):
    ctx, page, _ = themed
    login(ctx, create_user(username="owner", manage_groups=True), live_server)
    walk = start_secret(page, ctx_theme(themed), "arbitrary")
    details(walk, "a11y-arbitrary")
    walk.step("Expiration")
    walk.next()
    walk.step("Review")
    walk.next("Add")
    walk.rejected("Review", "#id_payload")
    page.locator("#id_payload").fill("a value")
    walk.next("Add")
    expect(page.get_by_text("Arbitrary secret a11y-arbitrary is added.")).to_be_visible()
    walk.check("the new secret's page")
    screenshot(page, f"a11y-arbitrary-added-{walk.theme}")


@pytest.mark.parametrize("themed", THEMES, indirect=True, ids=THEMES)
def test_iam_credentials(themed, world, live_server):
    ctx, page, _ = themed
    login(ctx, create_user(username="owner", manage_groups=True), live_server)
    walk = start_secret(page, ctx_theme(themed), "iam_credentials")
    details(walk, "a11y-iam")
    walk.step("Lease and reuse")
    # Rotation is off as a whole until reuse is on; the toggle keeps the focus when it changes.
    for control in ("#id_auto_rotate", "#id_interval", "#id_unit"):
        expect(page.locator(control)).to_be_disabled()
    screenshot(page, f"a11y-iam_credentials-rotation-off-{walk.theme}")
    walk.next()
    walk.rejected("Lease and reuse", "#id_ttl")
    page.get_by_label("Lease duration (TTL)").fill("30d")
    toggle = page.get_by_role("switch", name="Reuse IAM credentials until lease expires")
    toggle.check()
    wait_for_htmx(page, True)
    expect(toggle).to_be_focused()
    for control in ("#id_auto_rotate", "#id_interval", "#id_unit"):
        expect(page.locator(control)).to_be_enabled()
    expect(page.locator("#live-status")).to_have_text("Automatic rotation can now be set.")
    walk.check("step Lease and reuse, reuse on")
    walk.next()
    walk.step("Source account")
    walk.next()
    walk.step("Assign access")
    walk.next()
    walk.rejected("Assign access", "#id_access_groups_0")
    page.get_by_label("developers").check()
    walk.next()
    walk.step("Review")


@pytest.mark.parametrize("themed", THEMES, indirect=True, ids=THEMES)
def test_service_credentials(themed, world, live_server):
    ctx, page, _ = themed
    login(ctx, create_user(username="owner", manage_groups=True), live_server)
    walk = start_secret(page, ctx_theme(themed), "service_credentials")
    details(walk, "a11y-service")
    walk.step("Service instance")
    walk.next()
    walk.rejected("Service instance", "#id_instance")
    page.locator("#id_service").focus()  # as a keyboard user reaches it
    page.locator("#id_service").select_option(label="Cloud Object Storage")
    wait_for_htmx(page, True)
    expect(page.locator("#id_service")).to_be_focused()
    expect(page.locator("#live-status")).to_contain_text("of Cloud Object Storage.")
    page.locator("#id_instance").select_option(label="cos-backups (global)")
    walk.next()
    walk.step("Authorize")
    expect(page.get_by_role("radio", name="Key Manager")).to_be_checked()
    screenshot(page, f"a11y-service_credentials-authorize-{walk.theme}")
    walk.next("Authorize")
    walk.step("Credentials")
    page.get_by_label("IAM role").select_option(label="Object Writer")
    walk.next()
    walk.step("Lease and rotation")
    walk.next()
    walk.step("Review")
    expect(page.locator(".review")).to_contain_text("HMAC credentials")
    page.locator("summary", has_text="Equivalent API request").click()
    expect(page.locator("pre.api-body")).not_to_contain_text('"parameters"')
    screenshot(page, f"a11y-service_credentials-review-{walk.theme}")


@pytest.mark.parametrize("themed", THEMES, indirect=True, ids=THEMES)
def test_custom_credentials(themed, world, live_server):
    ctx, page, _ = themed
    login(ctx, create_user(username="owner", manage_groups=True), live_server)
    walk = start_secret(page, ctx_theme(themed), "custom_credentials")
    details(walk, "a11y-custom")
    walk.step("Configuration")
    page.get_by_label("Custom credentials configuration").select_option(
        label="token-provider — job token-provider, us-south"
    )
    walk.next()
    walk.step("Parameters")
    walk.next()
    walk.rejected("Parameters", "#id_param_user_name")
    page.get_by_label("user_name").fill("alice")
    walk.next()
    walk.step("Lease and rotation")
    page.get_by_label("Lease duration (TTL)").fill("0")
    walk.next()
    walk.rejected("Lease and rotation", "#id_ttl")
    expect(page.locator("#id_ttl_error")).to_contain_text(
        "leave it empty for credentials that do not expire"
    )
    page.get_by_label("Lease duration (TTL)").fill("")
    walk.next()
    walk.step("Review")


@pytest.mark.parametrize("themed", THEMES, indirect=True, ids=THEMES)
def test_add_configuration(themed, world, live_server):
    ctx, page, _ = themed
    login(ctx, create_user(username="owner", manage_groups=True), live_server)
    walk = Walk(page, ctx_theme(themed), "custom_configuration")
    page.goto("/engines/?tab=custom")
    page.get_by_role("button", name="Add configuration").click()
    walk.step("Configuration name")
    walk.next()
    walk.rejected("Configuration name", "#id_name")
    page.get_by_label("Configuration name").fill("a11y-config")
    walk.next()
    walk.step("Code Engine job")
    page.get_by_label("Region").focus()
    page.get_by_label("Region").select_option("eu-de")
    wait_for_htmx(page, True)
    expect(page.get_by_label("Region")).to_be_focused()
    page.get_by_label("Project and job", exact=True).select_option(world["fresh_job"])
    wait_for_htmx(page, True)
    expect(page.locator("#job-schema")).to_be_visible()
    walk.check("step Code Engine job, schema shown")
    walk.next()
    walk.step("Authorize")
    walk.next("Authorize")
    walk.step("IAM credentials")
    key = Secret.objects.get(name=seed.JOB_KEY_SECRET)
    page.get_by_label("IAM credentials secret").select_option(str(key.pk))
    walk.next()
    walk.step("Review")


def ctx_theme(themed) -> str:
    _, page, _ = themed
    return (
        "dark" if page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") else "light"
    )


@pytest.mark.parametrize("js_enabled", [False], ids=["nojs"], indirect=True)
def test_without_javascript_autofocus_does_the_same(page: Page, context, live_server, js_enabled):
    """A full page load focuses the step heading, and on a 422 the error summary, first."""
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto("/secrets/new/")
    choose_secret_type(page, "arbitrary")
    expect(page.locator("#step-heading")).to_be_focused()
    page.get_by_role("button", name="Next").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    expect(page.locator("#error-summary ~ #step-heading")).to_have_count(1)  # summary first
    # Its links lead to each invalid field.
    link = summary.get_by_role("link").first
    expect(link).to_have_attribute("href", "#id_name")
    page.locator("#id_name").fill("nojs-focus")
    page.get_by_label("Secret group").select_option(label="default")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#step-heading")).to_have_text("Expiration")
    expect(page.locator("#step-heading")).to_be_focused()


def test_the_tiles_work_with_the_keyboard(page: Page, context, live_server, world, js_enabled):
    """Tab into the group, arrows move the choice (the card shows it), Enter is Next."""
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto("/secrets/new/")
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(4)
    radios.first.focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="IAM credentials")).to_be_checked()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    arbitrary = page.get_by_role("radio", name="Arbitrary")
    expect(arbitrary).to_be_checked()
    expect(arbitrary).to_be_focused()
    border = page.locator('[data-tile="arbitrary"]').evaluate(
        "el => getComputedStyle(el).borderTopColor"
    )
    other = page.locator('[data-tile="iam_credentials"]').evaluate(
        "el => getComputedStyle(el).borderTopColor"
    )
    assert border != other, "the chosen card looks chosen"
    page.keyboard.press("Enter")
    expect(page.locator("#step-heading")).to_have_text("Details")
    expect(page).to_have_url(re.compile(r"/wizards/arbitrary/[0-9a-f-]{36}/details/$"))
