"""A newcomer's first hour, with JavaScript and without, using only the screen (issue 9):

create a Code Engine project and a job from the console, add a configuration on that job
through the Secrets Manager → Code Engine Authorize prompt (the IAM credentials secret made in
context), then add a custom credentials secret from it that turns Active while its page shows
the new version and the finished task without a manual reload.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from engines_app.models import ConfigType, Configuration
from engines_app.providers.embedded.code_engine.models import Job
from engines_app.providers.embedded.iam.models import ServiceAuthorization, ServiceId
from secrets_app import seed
from secrets_app.models import Secret, SecretState, SecretType, TaskStatus
from tests.cloud_fixtures import wait_for_task
from tests.e2e.conftest import choose_secret_type, login, screenshot, wait_for_htmx
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The job runs in its own process (sandboxed, started by the worker): allow for its start-up.
JOB_TIMEOUT_MS = 30_000
JOB_CONFIG = {
    "job_env_variables": [
        {"name": "SMIN_USER_NAME", "value": "type:string, required:true"},
        {"name": "SMOUT_TOKEN", "value": "type:string, required:true"},
    ]
}


def create_project_and_job(page: Page, js_enabled: bool, mode: str, tmp_path) -> Job:
    page.goto("/cloud/code-engine/")
    page.get_by_role("link", name="Create project").first.click()
    page.get_by_label("Name").fill(f"first-hour-{mode}")
    page.get_by_label("Region").select_option("eu-de")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=f"Project first-hour-{mode}")).to_be_visible()

    page.get_by_role("link", name="Create job").first.click()
    page.get_by_role("textbox", name="Name", exact=True).fill("my-tokens")
    page.get_by_label("Command").fill("{python} {sample_jobs_dir}/token_provider.py")
    config = tmp_path / "job_config.json"
    config.write_text(json.dumps(JOB_CONFIG))
    page.get_by_label("job_config.json").set_input_files(str(config))
    page.get_by_role("button", name="Import").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text("Read 2 declarations from job_config.json")).to_be_visible()
    page.get_by_label("Name of a new variable").nth(0).fill("TOKEN_SERVICE_DB")
    page.get_by_label("Value of a new variable").nth(0).fill(
        "{external_dir}/token-service/tokens.sqlite3"
    )
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", name="Job my-tokens")).to_be_visible()
    return Job.objects.get(project__name=f"first-hour-{mode}", name="my-tokens")


def add_configuration(page: Page, js_enabled: bool, mode: str, job: Job) -> Configuration:
    page.goto("/engines/?tab=custom")
    page.get_by_role("button", name="Add configuration").click()
    page.get_by_label("Configuration name").fill(f"my-tokens-{mode}")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Code Engine job")).to_be_visible()
    page.get_by_label("Region").select_option("eu-de")
    wait_for_htmx(page, js_enabled)
    page.get_by_label("Project and job", exact=True).select_option(f"{job.project_id}/my-tokens")
    wait_for_htmx(page, js_enabled)
    page.get_by_role("button", name="Next").click()

    # The project is new, so Secrets Manager asks to be authorized on it.
    expect(page.get_by_role("heading", name="Authorize")).to_be_visible()
    expect(page.get_by_test_id("grant-preview")).to_contain_text(
        f"Code Engine project first-hour-{mode}"
    )
    screenshot(page, f"first_hour-authorize-{mode}")
    page.get_by_role("button", name="Authorize").click()

    expect(page.get_by_role("heading", name="IAM credentials")).to_be_visible()
    assert ServiceAuthorization.objects.filter(target_resource=job.project_id).exists()
    page.locator("summary", has_text="New IAM credentials secret").click()
    page.get_by_label("Name", exact=True).fill(f"my-tokens-key-{mode}")
    page.get_by_label("Secret group").select_option(label=seed.PROVIDER_GROUP)
    page.get_by_label("Service ID").select_option(
        ServiceId.objects.get(name=seed.JOB_SERVICE_ID).pk
    )
    page.get_by_role("button", name="Create IAM credentials secret").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_test_id("iam-secret-created")).to_be_visible()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text(f"Configuration my-tokens-{mode} is added.")).to_be_visible()
    return Configuration.objects.get(
        config_type=ConfigType.CUSTOM_CREDENTIALS, name=f"my-tokens-{mode}"
    )


def add_secret(page: Page, mode: str, config: Configuration) -> None:
    page.goto("/secrets/")
    page.get_by_role("link", name="Add", exact=True).click()
    choose_secret_type(page, "custom_credentials")
    page.locator("#id_name").fill(f"first-token-{mode}")
    page.get_by_label("Secret group").select_option(label=seed.PROVIDER_GROUP)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Configuration")).to_be_visible()
    page.get_by_label("Custom credentials configuration").select_option(
        label=f"{config.name} — job my-tokens, eu-de"
    )
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Parameters")).to_be_visible()
    page.get_by_label("user_name").fill("alice")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Lease and rotation")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    page.get_by_role("button", name="Add").click()


def test_a_job_a_configuration_and_a_secret_from_the_screen_alone(
    page: Page, context, js_enabled: bool, live_server, cloud, q_sync, tmp_path
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="newcomer", manage_groups=True), live_server)
    job = create_project_and_job(page, js_enabled, mode, tmp_path)
    config = add_configuration(page, js_enabled, mode, job)
    assert config.code_engine_job_name == "my-tokens"
    assert config.api_key_ref is not None
    assert config.api_key_ref.secret_type == SecretType.IAM_CREDENTIALS

    add_secret(page, mode, config)
    expect(page).to_have_url(re.compile(r"/secrets/[0-9a-f-]{36}/$"))
    if js_enabled:
        page.evaluate("window.__notReloaded = true")
    secret = Secret.objects.get(name=f"first-token-{mode}")
    task = wait_for_task(secret.pk, timeout=JOB_TIMEOUT_MS / 1000)
    assert task.status == TaskStatus.CREDENTIALS_CREATED, task.errors
    # The page catches up by itself: the state, the version and the task's row.
    expect(page.get_by_test_id("secret-state")).to_have_text("Active", timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_test_id("task-status")).to_have_text("Credentials created")
    versions = page.locator("#version-table tbody")
    expect(versions.locator("tr")).to_have_count(1)
    expect(versions).not_to_contain_text("No version yet.")
    expect(page.locator(f"#task-{task.pk}")).to_contain_text("Credentials created")
    if js_enabled:
        assert page.evaluate("window.__notReloaded") is True, "updated in place, not reloaded"
    screenshot(page, f"first_hour-active-{mode}")
    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE and secret.configuration == config
