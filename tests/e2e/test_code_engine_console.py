"""Code Engine in the browser, with JavaScript and without: create a project and a job (its
declarations imported from a job_config.json), then change CE_REMOVE_COMPLETED_JOBS from
IMMEDIATELY to 3d on the Environment variables tab and Deploy, as the doc's troubleshooting
section walks through."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from console.identity import SYSTEM
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, Project
from tests.e2e.conftest import login, screenshot, wait_for_htmx
from tests.factories import create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

JOB_CONFIG = {
    "job_env_variables": [
        {"name": "SMIN_USER_NAME", "value": "type:string, required:true"},
        {"name": "SMIN_SCOPE", "value": "type:enum[admin|user], required:false"},
        {"name": "SMOUT_TOKEN", "value": "type:string, required:true"},
    ]
}
SECRET = "job-api-token-not-to-be-shown"


def shots(page: Page, name: str) -> None:
    """A screenshot in each colour theme."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        screenshot(page, f"{name}-{scheme}")
    page.emulate_media(color_scheme="light")


def preview(page: Page, js_enabled: bool) -> None:
    """The schema preview follows the rows by itself with htmx; without it, a button asks."""
    if js_enabled:
        wait_for_htmx(page, js_enabled)
    else:
        page.get_by_role("button", name="Preview schema").click()


def test_create_a_project_and_a_job_then_deploy_a_retention(
    page: Page, context, js_enabled: bool, live_server, tmp_path
):
    mode = "js" if js_enabled else "nojs"
    login(context, create_user(username="owner", manage_groups=True), live_server)
    page.goto("/cloud/code-engine/")
    page.get_by_role("link", name="Create project").first.click()

    # A project: a name already taken in the region first, then a free one.
    ce.project_create(actor=SYSTEM, name="taken", region="eu-gb")
    expect(page.get_by_role("heading", name="Create project")).to_be_visible()
    page.get_by_label("Name").fill("taken")
    page.get_by_label("Region").select_option("eu-gb")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("A project named 'taken' already exists in eu-gb.")).to_be_visible()
    page.get_by_label("Name").fill(f"browser-{mode}")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=f"Project browser-{mode}")).to_be_visible()
    expect(page.get_by_text(f"Project browser-{mode} created in eu-gb.")).to_be_visible()
    project = Project.objects.get(name=f"browser-{mode}")
    assert project.region == "eu-gb"
    shots(page, f"code_engine-project-{mode}")

    # A job: its declarations come from a job_config.json, the rest are typed in.
    page.get_by_role("link", name="Create job").first.click()
    expect(page.get_by_role("heading", name="Create job")).to_be_visible()
    page.get_by_role("textbox", name="Name", exact=True).fill("browser-token-job")
    page.get_by_label("Command").fill("{python} /etc/passwd")
    config = tmp_path / "job_config.json"
    config.write_text(json.dumps(JOB_CONFIG))
    page.get_by_label("job_config.json").set_input_files(str(config))
    page.get_by_role("button", name="Import").click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text("Read 3 declarations from job_config.json")).to_be_visible()
    expect(page.get_by_label("Value of SMIN_SCOPE")).to_have_value(
        "type:enum[admin|user], required:false"
    )
    table = page.get_by_test_id("schema-preview")
    expect(table).to_contain_text("SM_USER_NAME_VALUE")
    expect(table).to_contain_text("token")

    names = page.get_by_label("Name of a new variable")
    values = page.get_by_label("Value of a new variable")
    names.nth(0).fill("CE_REMOVE_COMPLETED_JOBS")
    values.nth(0).fill("IMMEDIATELY")
    names.nth(1).fill("TOKEN_SERVICE_DB")
    values.nth(1).fill("{external_dir}/token-service/tokens.sqlite3")
    names.nth(2).fill("SMIN_EXPIRES")
    values.nth(2).fill("type:integer, required:false")
    preview(page, js_enabled)
    expect(table).to_contain_text("SM_EXPIRES_VALUE")
    shots(page, f"code_engine-create_job-{mode}")

    # Invalid command: refused with the reason on the field; the rows are kept.
    page.get_by_role("button", name="Create", exact=True).click()
    wait_for_htmx(page, js_enabled)
    expect(page.get_by_text("is outside the folders that jobs may run from")).to_be_visible()
    expect(page.get_by_label("Value of SMIN_EXPIRES")).to_have_value("type:integer, required:false")
    page.get_by_label("Command").fill("{python} {sample_jobs_dir}/token_provider.py")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page.get_by_role("heading", name="Job browser-token-job")).to_be_visible()
    expect(page.get_by_text("Job browser-token-job created.")).to_be_visible()
    expect(page.locator("#schema-table")).to_contain_text("SM_EXPIRES_VALUE")
    shots(page, f"code_engine-job-{mode}")
    job = Job.objects.get(project=project, name="browser-token-job")
    assert job.command == ["{python}", "{sample_jobs_dir}/token_provider.py"]
    assert job.env["CE_REMOVE_COMPLETED_JOBS"] == "IMMEDIATELY"
    # A secret variable, set behind the page's back: it must never show.
    ce.job_set_env(
        actor=SYSTEM, project_id=project.pk, job_name=job.name, env={"API_TOKEN": SECRET}
    )

    # The troubleshooting walk-through: Environment variables, IMMEDIATELY -> 3d, Deploy.
    page.get_by_role("link", name="Environment variables", exact=True).click()
    expect(page.get_by_label("Value of CE_REMOVE_COMPLETED_JOBS")).to_have_value("IMMEDIATELY")
    expect(page.get_by_label("Value of API_TOKEN")).to_have_value("")
    assert SECRET not in page.content()
    page.get_by_label("Value of CE_REMOVE_COMPLETED_JOBS").fill("3d")
    preview(page, js_enabled)
    shots(page, f"code_engine-env-{mode}")
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_text("Completed runs, and their logs, are now kept for 3d.")).to_be_visible()
    expect(page.get_by_label("Value of CE_REMOVE_COMPLETED_JOBS")).to_have_value("3d")
    job.refresh_from_db()
    assert job.env["CE_REMOVE_COMPLETED_JOBS"] == "3d"
    assert ce.job_runtime_env(job)["API_TOKEN"] == SECRET
    assert SECRET not in page.content()
    shots(page, f"code_engine-deployed-{mode}")
    page.get_by_role("link", name="Code Engine", exact=True).first.click()
    expect(page.locator("#project-table")).to_contain_text(f"browser-{mode}")
    shots(page, f"code_engine-projects-{mode}")
