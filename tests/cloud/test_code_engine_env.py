"""A job's Environment variables tab: Deploy (CE_REMOVE_COMPLETED_JOBS, secret variables), the
import of a job_config.json (each rule of reference/sm-api.md §5.2 is its own field error) and
the live schema preview. The owner persona holds Manager on the instance."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.audit import AuditEvent
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job
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
# job_config.json: each rule of reference/sm-api.md §5.2 gives its own error on the file's field

OK_OUTPUT = {"name": "SMOUT_TOKEN", "value": "type:string, required:true"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            [{"name": "SMIN_user", "value": "type:string"}, OK_OUTPUT],
            "SMIN_user: names must be SMIN_ or SMOUT_ followed by upper-case letters",
        ),
        (
            [{"name": "USER_NAME", "value": "type:string"}, OK_OUTPUT],
            "USER_NAME: job_config.json declares only inputs and outputs",
        ),
        (
            [{"name": "SM_ACTION", "value": "type:string"}, OK_OUTPUT],
            "SM_ACTION: this variable is set by Secrets Manager on each run",
        ),
        (
            [{"name": "SMIN_A", "value": "type string"}, OK_OUTPUT],
            "SMIN_A: &#x27;type string&#x27; is not a key:value attribute",
        ),
        (
            [{"name": "SMIN_A", "value": "type:string, secret:true"}, OK_OUTPUT],
            "SMIN_A: unknown attribute &#x27;secret&#x27;; only type and required are allowed.",
        ),
        (
            [{"name": "SMIN_A", "value": "required:true"}, OK_OUTPUT],
            "SMIN_A: the type attribute is mandatory",
        ),
        (
            [{"name": "SMIN_A", "value": "type:string, required:yes"}, OK_OUTPUT],
            "SMIN_A: required must be true or false, not &#x27;yes&#x27;.",
        ),
        (
            [{"name": "SMIN_A", "value": "type:int"}, OK_OUTPUT],
            "SMIN_A: unknown type &#x27;int&#x27;; use string, integer, boolean, secret_id or enum[a|b].",
        ),
        (
            [{"name": "SMIN_A", "value": "type:enum[RSA]"}, OK_OUTPUT],
            "SMIN_A: an enum needs at least two non-empty options separated by |",
        ),
        (
            [{"name": "SMOUT_ID", "value": "type:secret_id, required:true"}],
            "SMOUT_ID: outputs can be string, integer or boolean, not secret_id.",
        ),
        (
            [
                {"name": "SMIN_A", "value": "type:string"},
                {"name": "SMOUT_B", "value": "type:string, required:false"},
            ],
            "at least one SMOUT_ variable needs required:true",
        ),
        ([OK_OUTPUT, OK_OUTPUT], "SMOUT_TOKEN: declared twice."),
        (
            [{"name": "SMIN_A"}, OK_OUTPUT],
            "job_env_variables[0] must be an object with a name and a value, both strings.",
        ),
        ([], "job_env_variables is empty"),
        ({"variables": []}, "must be an object with a &quot;job_env_variables&quot; list"),
        (
            "{not json",
            "job_config.json is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2).",
        ),
    ],
)
def test_each_job_config_rule_is_a_field_error(owner_client, project, job, document, message):
    for url, data in (
        (env_url(job), {**job_rows(job), "action": "import"}),
        (env_url(job), job_rows(job)),  # Deploy with the file chosen
        (reverse("cloud:ce-job-create", args=[project.pk]), rows(name="from-file", command="x")),
    ):
        response = owner_client.post(url, {**data, "job_config": job_config_file(document)})
        assert response.status_code == 422, url
        assert message in field_block(response.content.decode(), "id_job_config"), url
    job.refresh_from_db()
    assert job.env == {**DECLARATIONS, "CE_REMOVE_COMPLETED_JOBS": "IMMEDIATELY"}
    assert not Job.objects.filter(name="from-file").exists()


def test_several_problems_of_one_file_are_reported_together(owner_client, job):
    document = [
        {"name": "SMIN_A", "value": "type:int"},
        {"name": "SMIN_B", "value": "required:true"},
        OK_OUTPUT,
    ]
    response = owner_client.post(
        env_url(job), {**job_rows(job), "action": "import", "job_config": job_config_file(document)}
    )
    block = field_block(response.content.decode(), "id_job_config")
    assert "SMIN_A: unknown type" in block and "SMIN_B: the type attribute is mandatory" in block


def test_import_puts_the_declarations_into_the_rows_for_review(owner_client, job):
    document = [
        {"name": "SMIN_COMMON_NAME", "value": "type:string, required:true"},
        {"name": "SMOUT_CERTIFICATE", "value": "type:string, required:true"},
    ]
    response = owner_client.post(
        env_url(job), {**job_rows(job), "action": "import", "job_config": job_config_file(document)}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Read 2 declarations from job_config.json" in html and "Nothing is saved yet" in html
    assert 'value="SMIN_COMMON_NAME"' in html and "SM_COMMON_NAME_VALUE" in html
    # The declarations the file lacks are marked for removal, then Deploy applies it all.
    removed = re.findall(r'<tr class="removed">.*?value="(SM\w+)"', html, re.S)
    assert sorted(removed) == ["SMIN_SCOPE", "SMIN_USER_NAME", "SMOUT_TOKEN"]
    assert Job.objects.get(pk=job.pk).env["SMIN_USER_NAME"] == DECLARATIONS["SMIN_USER_NAME"]
    assert SECRET_VALUE not in html


# ---------------------------------------------------------------------------------------------
# The Environment variables tab and Deploy


def test_the_tab_masks_secret_values(owner_client, job):
    html = owner_client.get(env_url(job)).content.decode()
    assert SECRET_VALUE not in html
    # An existing variable's name is fixed (shown, and posted back as a hidden field).
    assert '<code class="env-name">DB_PASSWORD</code>' in html
    assert "unchanged (type to replace)" in html
    assert 'value="IMMEDIATELY"' in html and "SM_USER_NAME_VALUE" in html  # the preview
    assert SECRET_VALUE not in owner_client.get(env_url(job, "cloud:ce-job")).content.decode()


def test_deploy_changes_the_retention_and_keeps_the_secret(owner_client, job):
    response = owner_client.post(env_url(job), job_rows(job, ("CE_REMOVE_COMPLETED_JOBS", "3d")))
    assert response.status_code == 302 and response["Location"] == env_url(job)
    job.refresh_from_db()
    assert job.env["CE_REMOVE_COMPLETED_JOBS"] == "3d"
    assert ce.job_runtime_env(job)["DB_PASSWORD"] == SECRET_VALUE
    event = AuditEvent.objects.get(action="code_engine.job.deploy", object_id=str(job.pk))
    assert event.detail == {"changed": ["CE_REMOVE_COMPLETED_JOBS"], "removed": []}
    page = owner_client.get(env_url(job)).content.decode()
    assert "Deployed: set CE_REMOVE_COMPLETED_JOBS." in page
    assert "Completed runs, and their logs, are now kept for 3d." in page
    ended = timezone.now()
    assert ce.retention(job.env, ended) == ended + timedelta(days=3)


def test_deploy_replaces_adds_and_removes(owner_client, job):
    data = job_rows(
        job,
        ("DB_PASSWORD", "a-brand-new-password"),
        ("SMIN_SCOPE", "", True),
        ("REGION", "eu-de"),
    )
    assert owner_client.post(env_url(job), data).status_code == 302
    job.refresh_from_db()
    env = ce.job_runtime_env(job)
    assert env["DB_PASSWORD"] == "a-brand-new-password" and env["REGION"] == "eu-de"
    assert "SMIN_SCOPE" not in env
    event = AuditEvent.objects.get(action="code_engine.job.deploy")
    assert event.detail == {"changed": ["DB_PASSWORD", "REGION"], "removed": ["SMIN_SCOPE"]}
    assert "a-brand-new-password" not in json.dumps(event.detail)


def test_deploy_leaves_variables_that_were_added_meanwhile(owner_client, job):
    form = job_rows(job, ("CE_REMOVE_COMPLETED_JOBS", "12h"))
    # A configuration is created on the job while the tab is open: it injects a variable.
    ce.job_set_env(
        actor=ADMIN, project_id=job.project_id, job_name=job.name, env={"SM_ACCESS_APIKEY_REF": "x"}
    )
    assert owner_client.post(env_url(job), form).status_code == 302
    job.refresh_from_db()
    assert job.env["SM_ACCESS_APIKEY_REF"] == "x" and job.env["CE_REMOVE_COMPLETED_JOBS"] == "12h"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("CE_REMOVE_COMPLETED_JOBS", "forever"), "CE_REMOVE_COMPLETED_JOBS: IMMEDIATELY removes"),
        (("CE_REMOVE_COMPLETED_JOBS", "366d"), "days up to 365 days"),
        (("CE_REMOVE_COMPLETED_JOBS", "0m"), "CE_REMOVE_COMPLETED_JOBS: IMMEDIATELY removes"),
        (
            ("SMIN_USER_NAME", "type:string, required:maybe"),
            "SMIN_USER_NAME: required must be true or false",
        ),
        (
            ("SMOUT_TOKEN", "type:string, required:false"),
            "at least one SMOUT_ variable needs required:true",
        ),
        (("SM_SECRET_ID", "abc"), "SM_SECRET_ID: this variable is set by Secrets Manager"),
    ],
)
def test_deploy_refuses_what_no_configuration_could_use(owner_client, job, hx, change, message):
    for headers in ({}, hx):
        data = job_rows(job, change, ("NEW_TOKEN", "typed-secret-value"))
        response = owner_client.post(env_url(job), data, headers=headers)
        assert response.status_code == 422
        html = response.content.decode()
        assert message in html
        assert "typed-secret-value" not in html and "Enter this secret value again." in html
    job.refresh_from_db()
    assert (
        job.env["CE_REMOVE_COMPLETED_JOBS"] == "IMMEDIATELY" and "NEW_TOKEN" not in job.secret_names
    )


def test_nothing_to_deploy(owner_client, job):
    owner_client.post(env_url(job), job_rows(job))
    assert "Nothing to deploy" in owner_client.get(env_url(job)).content.decode()
    assert not AuditEvent.objects.filter(action="code_engine.job.deploy").exists()


def test_the_tab_warns_that_a_configuration_keeps_its_schema(owner_client, world):
    job = Job.objects.get(project=world, name="token-provider")
    html = owner_client.get(env_url(job)).content.decode()
    assert "does not change it" in html and "token-provider (task timeout 10m)" in html


# ---------------------------------------------------------------------------------------------
# The live schema preview


def test_the_preview_shows_the_schema_of_the_rows(owner_client, world, hx):
    response = owner_client.post(
        reverse("cloud:ce-schema-preview"),
        rows(
            ("SMIN_USER_NAME", DECLARATIONS["SMIN_USER_NAME"]),
            ("SMOUT_TOKEN", DECLARATIONS["SMOUT_TOKEN"]),
            ("GITHUB_TOKEN", SECRET_VALUE),
            ("SMIN_SCOPE", DECLARATIONS["SMIN_SCOPE"], True),
        ),
        headers=hx,
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="schema-preview"')
    assert "SM_USER_NAME_VALUE" in html and "SM_SCOPE_VALUE" not in html  # a removed row
    assert "<code>token</code>" in html and "1 of them secret" in html
    assert SECRET_VALUE not in html


def test_the_preview_shows_the_problems(owner_client, world, hx):
    html = owner_client.post(
        reverse("cloud:ce-schema-preview"), rows(("SMIN_A", "type:float")), headers=hx
    ).content.decode()
    assert "No configuration could use these variables yet" in html
    assert "SMIN_A: unknown type &#x27;float&#x27;" in html
