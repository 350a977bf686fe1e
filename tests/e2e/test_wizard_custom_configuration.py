"""Secrets engines → Add configuration in the browser, with JavaScript and without.

A new Code Engine project and job are made for the test, so the wizard has to ask for the
authorization; the IAM credentials secret is created in context; the new configuration is then
tested for real through its job.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from engines_app.models import ConfigType, Configuration
from engines_app.providers.embedded import seed as embedded_seed
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.iam.models import ServiceAuthorization, ServiceId
from secrets_app import seed
from secrets_app.models import Secret, SecretType
from tests.e2e.conftest import field_error, login, screenshot, wait_for_htmx
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKEN_JOB = next(job for job in embedded_seed.SAMPLE_JOBS if job.name == "token-provider")


@pytest.fixture
def fresh_job(cloud):
    """A project and job of the embedded Code Engine that Secrets Manager is not authorized on."""
    project = ce.project_create(actor=cloud["actor"], name="browser-project", region="eu-de")
    ce.job_create(
        actor=cloud["actor"],
        project=project,
        name="browser-token-job",
        command=["{python}", "{base_dir}/engines_app/sample_jobs/" + TOKEN_JOB.script],
        env={k: v for k, v in TOKEN_JOB.env.items() if k != "CE_REMOVE_COMPLETED_JOBS"},
    )
    return project


def test_add_a_configuration_then_test_it(
    page: Page, context, js_enabled: bool, live_server, cloud, q_sync, fresh_job
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto("/engines/?tab=custom")
    page.get_by_role("button", name="Add configuration").click()

    # 1. Configuration name, with an invalid one first.
    expect(page.get_by_role("heading", name="Configuration name")).to_be_visible()
    page.get_by_label("Configuration name").fill("-bad-")
    page.get_by_role("button", name="Next").click()
    expect(field_error(page, "is not allowed")).to_be_visible()
    page.get_by_label("Configuration name").fill(f"browser-tokens-{mode}")
    page.get_by_role("button", name="Next").click()

    # 2. Region, then the job; its schema shows as soon as it is picked.
    expect(page.get_by_role("heading", name="Code Engine job")).to_be_visible()
    page.get_by_label("Region").select_option("eu-de")
    wait_for_htmx(page, js_enabled)
    job_value = f"{fresh_job.pk}/browser-token-job"
    page.get_by_label("Project and job", exact=True).select_option(job_value)
    wait_for_htmx(page, js_enabled)
    if not js_enabled:
        page.get_by_role("button", name="Show schema").click()
    schema = page.locator("#job-schema")
    expect(schema).to_contain_text("Schema declared by job browser-token-job")
    expect(schema.locator("tbody tr")).to_have_count(4)
    expect(schema).to_contain_text("SMIN_USER_NAME")
    if js_enabled:
        # The job list follows the region: us-south's jobs are gone.
        expect(page.locator("optgroup[label='credentials-providers (us-south)']")).to_have_count(0)
    screenshot(page, f"custom_configuration-job-{mode}")
    page.get_by_role("button", name="Next").click()

    # 3. Authorize: what will be granted, then the button.
    expect(page.get_by_role("heading", name="Authorize")).to_be_visible()
    preview = page.get_by_test_id("grant-preview")
    expect(preview).to_contain_text("Secrets Manager")
    expect(preview).to_contain_text(f"Code Engine project browser-project ({fresh_job.pk})")
    expect(preview).to_contain_text("Viewer and Writer")
    screenshot(page, f"custom_configuration-authorize-{mode}")
    page.get_by_role("button", name="Authorize").click()

    # 4. IAM credentials: create the secret here; it is then selected.
    expect(page.get_by_role("heading", name="IAM credentials")).to_be_visible()
    assert ServiceAuthorization.objects.filter(target_resource=fresh_job.pk).exists()
    expect(
        page.get_by_text("now authorized to use Code Engine project browser-project")
    ).to_be_visible()
    page.locator("summary", has_text="New IAM credentials secret").click()
    page.get_by_label("Name", exact=True).fill(f"browser-job-key-{mode}")
    page.get_by_label("Secret group").select_option(label="custom-credentials")
    job_sid = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    page.get_by_label("Service ID").select_option(job_sid.pk)
    expect(page.get_by_label("Reuse IAM credentials until lease expires")).to_be_checked()
    page.get_by_role("button", name="Create IAM credentials secret").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_test_id("iam-secret-created")).to_be_visible()
    secret = Secret.objects.get(
        name=f"browser-job-key-{mode}", secret_type=SecretType.IAM_CREDENTIALS
    )
    expect(page.get_by_label("IAM credentials secret")).to_have_value(str(secret.pk))
    page.get_by_label("Task timeout").fill("15m")
    screenshot(page, f"custom_configuration-iam-{mode}")
    page.get_by_role("button", name="Next").click()

    # 5. Review: every side effect and the API body.
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    review = page.locator(".review")
    expect(review).to_contain_text(
        f"Will create configuration browser-tokens-{mode} for job browser-token-job"
    )
    expect(review).to_contain_text("Granted in this run")
    expect(review).to_contain_text(
        "Will set CE_REMOVE_COMPLETED_JOBS=IMMEDIATELY and SM_ACCESS_APIKEY_REF"
    )
    page.locator("summary", has_text="Equivalent API request").click()
    expect(review).to_contain_text("POST /api/v2/configurations")
    screenshot(page, f"custom_configuration-review-{mode}")
    page.get_by_role("button", name="Add").click()

    # The configuration page offers Test configuration first.
    expect(page).to_have_url(re.compile(rf"/engines/custom/browser-tokens-{mode}/$"))
    expect(page.get_by_text(f"Configuration browser-tokens-{mode} is added.")).to_be_visible()
    config = Configuration.objects.get(
        config_type=ConfigType.CUSTOM_CREDENTIALS, name=f"browser-tokens-{mode}"
    )
    assert config.api_key_ref == secret and config.task_timeout == "15m"
    screenshot(page, f"custom_configuration-detail-{mode}")
    page.get_by_label("user_name").fill("carol")
    expect(page.get_by_label("Secret group to run in")).to_have_value(cloud["group"].pk)
    page.get_by_role("button", name="Test configuration").click()

    expect(page).to_have_url(re.compile(r"/engines/tests/runs/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("test-status")).to_have_text("Succeeded", timeout=45_000)
    expect(page.get_by_test_id("step-create")).to_have_text("Credentials created")
    expect(page.get_by_test_id("step-delete")).to_have_text("Credentials deleted")
    screenshot(page, f"custom_configuration-test-{mode}")


def test_configure_the_iam_engine_by_authorization(
    page: Page, context, js_enabled: bool, live_server
):
    from engines_app.providers.embedded.iam.models import ServiceAuthorization

    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto("/secrets/new/")
    page.get_by_role("link", name="Configure the IAM credentials engine").click()
    expect(page.get_by_test_id("iam-engine-missing")).to_be_visible()
    preview = page.get_by_test_id("iam-grant-preview")
    expect(preview).to_contain_text("IAM Identity service")
    expect(preview).to_contain_text("Operator")
    screenshot(page, f"engines-iam-missing-{mode}")
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("now authorized to use the IAM Identity service")).to_be_visible()
    assert ServiceAuthorization.objects.filter(target_service="iam-identity").exists()
    page.get_by_role("button", name="Configure", exact=True).click()
    expect(page.get_by_test_id("iam-engine-state")).to_have_text("Enabled")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("iam-engine-state")).to_have_text("Disabled")
    screenshot(page, f"engines-iam-disabled-{mode}")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_test_id("iam-engine-state")).to_have_text("Enabled")
