"""Code Engine's console pages: who may, projects, creating a job (the command policy), editing
and deleting it, runs linked to their secret tasks, and the demo seed's free job.

Personas: the owner holds Manager on the instance (may do everything here), the read-only
teammate is a Reader on the instance, the stranger holds no role; both are refused everything.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from console.audit import AuditEvent
from console.errors import AccessDeniedError
from console.identity import actor_for_user
from engines_app.providers.code_engine import inspect_job, job_users
from engines_app.providers.embedded.code_engine import commands, definitions, sandbox
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.checks import jobs_dir_check
from engines_app.providers.embedded.code_engine.models import Job, JobRun, Project, RunStatus
from engines_app.providers.embedded.seed import PLAYGROUND_JOB, PLAYGROUND_PROJECT
from engines_app.services import code_engine_authorized
from secrets_app import seed
from secrets_app.models import SecretGroup
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.cloud.helpers import (
    ADMIN,
    DECLARATIONS,
    SECRET_VALUE,
    env_url,
    field_block,
    job_config_file,
    job_rows,
    rows,
)

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Who may


def _pages(project: Project, job: Job, run: JobRun) -> list[str]:
    return [
        reverse("cloud:ce-projects"),
        reverse("cloud:ce-project-create"),
        reverse("cloud:ce-project", args=[project.pk]),
        reverse("cloud:ce-project-delete", args=[project.pk]),
        reverse("cloud:ce-job-create", args=[project.pk]),
        env_url(job, "cloud:ce-job"),
        env_url(job, "cloud:ce-job-edit"),
        env_url(job),
        env_url(job, "cloud:ce-job-delete"),
        reverse("cloud:ce-runs"),
        reverse("cloud:ce-run", args=[run.pk]),
    ]


def test_every_page_is_for_managers_only(
    owner_client, ro_client, stranger_client, client, project, job, run
):
    for url in _pages(project, job, run):
        assert owner_client.get(url).status_code == 200, url
        for other in (ro_client, stranger_client):
            response = other.get(url)
            assert response.status_code == 403, url
            assert "Manager role on this instance" in response.content.decode()
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_every_change_is_refused_to_others_and_writes_nothing(
    ro_client, stranger_client, client, project, job
):
    posts = [
        (reverse("cloud:ce-project-create"), {"name": "sneaky", "region": "us-south"}),
        (reverse("cloud:ce-project-delete", args=[project.pk]), {}),
        (
            reverse("cloud:ce-job-create", args=[project.pk]),
            rows(("SMOUT_X", "type:string, required:true"), name="sneaky", command="true"),
        ),
        (env_url(job, "cloud:ce-job-edit"), {"command": "true"}),
        (env_url(job), job_rows(job, ("CE_REMOVE_COMPLETED_JOBS", "3d"))),
        (env_url(job, "cloud:ce-job-delete"), {}),
        (reverse("cloud:ce-schema-preview"), rows(("SMOUT_X", "type:string"))),
    ]
    before = (Project.objects.count(), Job.objects.count(), dict(Job.objects.get(pk=job.pk).env))
    for other in (ro_client, stranger_client):
        for url, data in posts:
            assert other.post(url, data).status_code == 403, url
    for url, data in posts:
        assert client.post(url, data).status_code == 302, url
    after = (Project.objects.count(), Job.objects.count(), dict(Job.objects.get(pk=job.pk).env))
    assert after == before


def test_the_services_refuse_a_non_manager_too(project, programs, teammate_ro):
    reader = actor_for_user(teammate_ro)
    with pytest.raises(AccessDeniedError, match="Manager role on this instance"):
        definitions.job_define(
            actor=reader,
            project_id=project.pk,
            name="nope",
            command=[programs["ok"]],
            env=DECLARATIONS,
        )
    with pytest.raises(AccessDeniedError):
        ce.project_create(actor=reader, name="nope", region="us-south")
    with pytest.raises(AccessDeniedError):
        definitions.project_delete(actor=reader, project_id=project.pk)
    assert not Job.objects.filter(name="nope").exists()


# ---------------------------------------------------------------------------------------------
# Projects


def test_create_a_project(owner_client, world):
    response = owner_client.post(
        reverse("cloud:ce-project-create"), {"name": "my-project", "region": "eu-gb"}
    )
    project = Project.objects.get(name="my-project")
    assert project.region == "eu-gb"
    assert response.status_code == 302
    assert response["Location"] == reverse("cloud:ce-project", args=[project.pk])
    listing = owner_client.get(reverse("cloud:ce-projects")).content.decode()
    assert "my-project" in listing and project.pk in listing
    assert AuditEvent.objects.filter(action="code_engine.project.create", object_id=project.pk)


def test_create_a_project_with_htmx_redirects_the_client(owner_client, world, hx):
    response = owner_client.post(
        reverse("cloud:ce-project-create"), {"name": "hx-project", "region": "us-east"}, headers=hx
    )
    project = Project.objects.get(name="hx-project")
    assert response["HX-Redirect"] == reverse("cloud:ce-project", args=[project.pk])


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "region": "us-south"}, "id_name", "This field is required."),
        ({"name": "x", "region": "mars-1"}, "id_region", "Select a valid choice."),
        (
            {"name": "credentials-providers", "region": "us-south"},
            "id_name",
            "A project named &#x27;credentials-providers&#x27; already exists in us-south.",
        ),
    ],
)
def test_project_errors_are_422(owner_client, world, hx, data, field, message):
    for headers in ({}, hx):
        response = owner_client.post(reverse("cloud:ce-project-create"), data, headers=headers)
        assert response.status_code == 422
        html = response.content.decode()
        assert message in (field_block(html, field) if field else html)
    assert Project.objects.count() == 2


def test_a_project_with_jobs_cannot_be_deleted(owner_client, world):
    response = owner_client.post(reverse("cloud:ce-project-delete", args=[world.pk]))
    assert response.status_code == 422
    html = response.content.decode()
    assert (
        "Project credentials-providers still has 3 jobs: certificate-provider, "
        "derived-key-provider, token-provider. "
        "Delete them first." in html
    )
    assert Project.objects.filter(pk=world.pk).exists()


def test_an_empty_project_is_deleted(owner_client, project):
    page = owner_client.get(reverse("cloud:ce-project-delete", args=[project.pk])).content.decode()
    assert "Delete the empty project" in page
    response = owner_client.post(reverse("cloud:ce-project-delete", args=[project.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("cloud:ce-projects")
    assert not Project.objects.filter(pk=project.pk).exists()
    assert AuditEvent.objects.filter(action="code_engine.project.delete", object_id=project.pk)


# ---------------------------------------------------------------------------------------------
# Creating a job


def test_create_a_job_from_its_command_and_variables(owner_client, project, programs):
    response = owner_client.post(
        reverse("cloud:ce-job-create", args=[project.pk]),
        rows(
            *DECLARATIONS.items(),
            ("CE_REMOVE_COMPLETED_JOBS", "IMMEDIATELY"),
            ("API_TOKEN", SECRET_VALUE),
            ("", ""),
            name="my-job",
            command=f"{programs['ok']} --verbose 'two words'",
        ),
    )
    job = Job.objects.get(project=project, name="my-job")
    assert response.status_code == 302
    assert response["Location"] == reverse("cloud:ce-job", args=[project.pk, "my-job"])
    assert job.command == ["{jobs_dir}/" + programs["ok"], "--verbose", "two words"]
    assert job.env == {**DECLARATIONS, "CE_REMOVE_COMPLETED_JOBS": "IMMEDIATELY"}
    assert job.secret_names == ["API_TOKEN"]
    assert ce.job_runtime_env(job)["API_TOKEN"] == SECRET_VALUE
    page = owner_client.get(response["Location"]).content.decode()
    assert "SM_USER_NAME_VALUE" in page and SECRET_VALUE not in page
    assert "{jobs_dir}/" + programs["ok"] + " --verbose &#x27;two words&#x27;" in page


def test_create_a_job_from_a_job_config_file(owner_client, project):
    upload = job_config_file([{"name": k, "value": v} for k, v in DECLARATIONS.items()])
    response = owner_client.post(
        reverse("cloud:ce-job-create", args=[project.pk]),
        {
            **rows(("SMIN_OLD", "type:string"), ("REGION", "eu")),
            "name": "from-file",
            "command": "{python} {sample_jobs_dir}/token_provider.py",
            "job_config": upload,
        },
    )
    assert response.status_code == 302
    job = Job.objects.get(project=project, name="from-file")
    # The file is the whole contract: it replaces the SMIN_/SMOUT_ rows, other variables stay.
    assert job.env == {**DECLARATIONS, "REGION": "eu"}
    assert job.command == ["{python}", "{sample_jobs_dir}/token_provider.py"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("/bin/true", "is outside the folders that jobs may run from"),
        ("{jobs_dir}/../secret.key", "is outside the folders that jobs may run from"),
        ("{escape}", "is a symbolic link that leads out of the jobs directory"),
        ("{plain}", "is not executable: make it so (chmod +x)"),
        ("{folder}", "is not a file."),
        ("no-such-program", "does not exist in the jobs directory"),
        ("{python} -c 'print(1)'", "interpreter options are not allowed"),
        ("{python} /etc/passwd", "is outside the folders that jobs may run from"),
        ("python3 'unbalanced", "The command cannot be read"),
    ],
)
def test_commands_outside_the_policy_are_field_errors(
    owner_client, project, programs, hx, command, message
):
    for name, value in programs.items():
        command = command.replace("{" + name + "}", value)
    for headers in ({}, hx):
        response = owner_client.post(
            reverse("cloud:ce-job-create", args=[project.pk]),
            rows(*DECLARATIONS.items(), name="refused", command=command),
            headers=headers,
        )
        assert response.status_code == 422
        assert message in field_block(response.content.decode(), "id_command")
    assert not Job.objects.filter(name="refused").exists()


def test_job_errors_name_the_field_and_the_row(owner_client, project, programs):
    response = owner_client.post(
        reverse("cloud:ce-job-create", args=[project.pk]),
        rows(
            ("SMIN_HOST", "type:hostname"),
            ("SMOUT_TOKEN", "type:string, required:true"),
            ("CE_REMOVE_COMPLETED_JOBS", "forever"),
            ("1BAD", "x"),
            name="Bad_Name",
            command=programs["ok"],
        ),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "A job name is lowercase letters" in field_block(html, "id_name")
    rows_html = html[html.index('id="env-rows"') :]
    assert "SMIN_HOST: unknown type &#x27;hostname&#x27;" in rows_html
    assert "CE_REMOVE_COMPLETED_JOBS: IMMEDIATELY removes each run when it ends" in rows_html
    assert "1BAD: a variable name is letters, digits and underscores" in rows_html
    assert not Job.objects.filter(project=project).exists()


def test_rows_are_read_before_anything_is_checked(owner_client, project, programs):
    response = owner_client.post(
        reverse("cloud:ce-job-create", args=[project.pk]),
        rows(
            *DECLARATIONS.items(),
            ("", "a value without a name"),
            ("SMIN_SCOPE", "type:string"),
            name="rows",
            command=programs["ok"],
        ),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Give the variable a name." in html and "SMIN_SCOPE is listed twice." in html
    assert not Job.objects.filter(project=project).exists()


def test_a_job_needs_a_required_output(owner_client, project, programs):
    response = owner_client.post(
        reverse("cloud:ce-job-create", args=[project.pk]),
        rows(("SMIN_USER", "type:string"), name="no-output", command=programs["ok"]),
    )
    assert response.status_code == 422
    assert "at least one SMOUT_ variable needs required:true" in response.content.decode()


def test_more_rows_and_preview_write_nothing(owner_client, project, programs):
    url = reverse("cloud:ce-job-create", args=[project.pk])
    data = rows(*DECLARATIONS.items(), ("API_TOKEN", SECRET_VALUE), name="j", command="x")
    more = owner_client.post(url, {**data, "action": "more"})
    assert more.status_code == 200
    html = more.content.decode()
    assert 'name="env-TOTAL_FORMS" value="7"' in html
    # A secret typed in is never sent back: its row asks for it again.
    assert SECRET_VALUE not in html and "Enter this secret value again." in html
    preview = owner_client.post(url, {**data, "action": "preview"}).content.decode()
    assert "SM_USER_NAME_VALUE" in preview and "admin, user" not in preview
    assert 'id="preview-table"' in preview and SECRET_VALUE not in preview
    assert not Job.objects.filter(project=project).exists()


def test_the_command_field_suggests_what_this_host_allows(owner_client, project, programs):
    html = owner_client.get(reverse("cloud:ce-job-create", args=[project.pk])).content.decode()
    suggestions = html[html.index('<datalist id="command-suggestions">') :]
    suggestions = suggestions[: suggestions.index("</datalist>")]
    assert "{python} {sample_jobs_dir}/token_provider.py" in suggestions
    assert "{jobs_dir}/" + programs["ok"] in suggestions
    assert programs["plain"] not in suggestions and programs["escape"] not in suggestions


# ---------------------------------------------------------------------------------------------
# Editing the command, deleting a job


def test_edit_the_command(owner_client, job, programs):
    page = owner_client.get(env_url(job, "cloud:ce-job-edit")).content.decode()
    assert f'value="{{jobs_dir}}/{programs["ok"]}"' in page
    bad = owner_client.post(env_url(job, "cloud:ce-job-edit"), {"command": "/bin/sh -c id"})
    assert bad.status_code == 422
    assert "is outside the folders" in field_block(bad.content.decode(), "id_command")
    good = owner_client.post(
        env_url(job, "cloud:ce-job-edit"),
        {"command": "{python} {sample_jobs_dir}/token_provider.py"},
    )
    assert good.status_code == 302
    job.refresh_from_db()
    assert job.command == ["{python}", "{sample_jobs_dir}/token_provider.py"]


def test_a_job_in_use_cannot_be_deleted(owner_client, world):
    job = Job.objects.get(project=world, name="certificate-provider")
    page = owner_client.get(env_url(job, "cloud:ce-job-delete")).content.decode()
    assert "cannot be deleted while a configuration uses it" in page
    response = owner_client.post(env_url(job, "cloud:ce-job-delete"))
    assert response.status_code == 422
    assert (
        "Job certificate-provider is used by configuration certificate-provider (task timeout 10m)"
        in response.content.decode()
    )
    assert Job.objects.filter(pk=job.pk).exists()


def test_a_job_with_a_run_going_cannot_be_deleted(owner_client, job, run):
    JobRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    response = owner_client.post(env_url(job, "cloud:ce-job-delete"))
    assert response.status_code == 422 and "is still going" in response.content.decode()


def test_a_free_job_is_deleted_with_its_runs(owner_client, job, run):
    response = owner_client.post(env_url(job, "cloud:ce-job-delete"))
    assert response.status_code == 302
    assert response["Location"] == reverse("cloud:ce-project", args=[job.project_id])
    assert not Job.objects.filter(pk=job.pk).exists() and not JobRun.objects.filter(pk=run.pk)
    assert AuditEvent.objects.filter(action="code_engine.job.delete", object_name="page-job")


# ---------------------------------------------------------------------------------------------
# Runs and their secret tasks


def test_a_run_links_to_its_secret_task_and_back(owner_client, world):
    secret = custom_credentials_secret_create(
        actor=ADMIN,
        name="linked-secret",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )
    task = secret.tasks.get()
    run = JobRun.objects.create(
        name=task.pk,
        project=world,
        job=Job.objects.get(project=world, name="token-provider"),
        status=RunStatus.SUCCEEDED,
        timeout_seconds=600,
    )
    secret_url = reverse("secrets:detail", args=[secret.pk])
    html = owner_client.get(reverse("cloud:ce-run", args=[run.pk])).content.decode()
    assert f'href="{secret_url}#task-{task.pk}"' in html
    listing = owner_client.get(reverse("cloud:ce-runs")).content.decode()
    assert f'href="{secret_url}#task-{task.pk}"' in listing
    detail = owner_client.get(secret_url).content.decode()
    assert f'id="task-{task.pk}"' in detail
    assert f'href="{reverse("cloud:ce-run", args=[run.pk])}"' in detail


def test_the_secret_page_links_runs_only_for_code_engine_managers(world, ro_client):
    secret = custom_credentials_secret_create(
        actor=ADMIN,
        name="linked-secret",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )
    run = JobRun.objects.create(
        name=secret.tasks.get().pk,
        project=world,
        job=Job.objects.get(project=world, name="token-provider"),
        timeout_seconds=600,
    )
    detail = ro_client.get(reverse("secrets:detail", args=[secret.pk])).content.decode()
    assert reverse("cloud:ce-run", args=[run.pk]) not in detail


def test_a_run_without_a_task_says_so(owner_client, run):
    html = owner_client.get(reverse("cloud:ce-run", args=[run.pk])).content.decode()
    assert "The task no longer exists" in html and "hello from the job" in html


# ---------------------------------------------------------------------------------------------
# The demo seed


def test_the_seed_leaves_a_free_job_in_a_project_not_yet_authorized(world):
    playground = Project.objects.get(name=PLAYGROUND_PROJECT)
    assert not code_engine_authorized(playground.pk)
    assert code_engine_authorized(world.pk)
    job = Job.objects.get(project=playground, name=PLAYGROUND_JOB)
    assert "CE_REMOVE_COMPLETED_JOBS" not in job.env
    assert job_users(project_id=playground.pk, job_name=job.name) == []
    schema, problems = inspect_job(job.env)
    assert problems == [] and [p["name"] for p in schema["parameters"]]
    seed.seed_code_engine(actor=ADMIN)  # idempotent
    assert Project.objects.filter(name=PLAYGROUND_PROJECT).count() == 1


def test_retention_reads_the_setting_and_never_overflows():
    ended = timezone.now()
    assert ce.retention({}, ended) == ended
    assert ce.retention({"CE_REMOVE_COMPLETED_JOBS": "IMMEDIATELY"}, ended) == ended
    assert ce.retention({"CE_REMOVE_COMPLETED_JOBS": "30m"}, ended) == ended + timedelta(minutes=30)
    assert ce.retention({"CE_REMOVE_COMPLETED_JOBS": "12h"}, ended) == ended + timedelta(hours=12)
    # Set outside the console's checks (the shell, an old row): clamped, not an overflow.
    huge = {"CE_REMOVE_COMPLETED_JOBS": "999999999999d"}
    assert ce.retention(huge, ended) == ended + timedelta(days=365)


def test_a_jobs_directory_that_would_show_the_data_directory_is_not_used(settings, programs):
    ok = "{jobs_dir}/" + programs["ok"]
    assert commands.check([ok]) == [ok]
    assert str(settings.SM_JOBS_DIR) in sandbox.run_plan(sandbox.sandbox_status()).ro_paths
    assert jobs_dir_check() == []
    settings.SM_JOBS_DIR = settings.DATA_DIR
    assert "contains the data directory" in sandbox.jobs_dir_problem()
    assert [w.id for w in jobs_dir_check()] == ["code_engine.W002"]
    assert str(settings.DATA_DIR) not in sandbox.run_plan(sandbox.sandbox_status()).ro_paths
    with pytest.raises(ValidationError, match="No job may run from the jobs directory"):
        commands.check(["{jobs_dir}/job-commands/" + programs["ok"]])
