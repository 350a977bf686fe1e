"""Helpers of the Code Engine page tests: the POST data of a job's variables' rows, uploads."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from console.identity import Actor
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job

ADMIN = Actor(iam_id="IBMid-0000000999", name="admin", system=True)
DECLARATIONS = {
    "SMIN_USER_NAME": "type:string, required:true",
    "SMIN_SCOPE": "type:enum[admin|user], required:false",
    "SMOUT_TOKEN": "type:string, required:true",
}
SECRET_VALUE = "s3cret-value-that-must-never-show"


def rows(*entries: tuple, **extra: str) -> dict[str, str]:
    """The POST data of the variables' rows: (name, value) or (name, value, remove)."""
    data = {
        "env-TOTAL_FORMS": str(len(entries)),
        "env-INITIAL_FORMS": "0",
        "env-MIN_NUM_FORMS": "0",
        "env-MAX_NUM_FORMS": "150",
    }
    for index, entry in enumerate(entries):
        data[f"env-{index}-name"] = entry[0]
        data[f"env-{index}-value"] = entry[1]
        if len(entry) > 2 and entry[2]:
            data[f"env-{index}-remove"] = "on"
    data.update(extra)
    return data


def job_rows(job: Job, *changes: tuple) -> dict[str, str]:
    """Every row the tab shows for the job (secret values empty), with some changed or added."""
    current = {
        name: ("" if secret else str(job.env[name])) for name, secret in ce.job_env_names(job)
    }
    entries: list[tuple] = list(current.items())
    for change in changes:
        entries = [e for e in entries if e[0] != change[0]] + [change]
    return rows(*entries)


def job_config_file(variables: list[dict] | dict | str) -> SimpleUploadedFile:
    body = (
        variables
        if isinstance(variables, str)
        else json.dumps(
            variables if isinstance(variables, dict) else {"job_env_variables": variables}
        )
    )
    return SimpleUploadedFile("job_config.json", body.encode(), content_type="application/json")


def field_block(html: str, field_id: str) -> str:
    """The markup of one form field (its input, help and errors)."""
    start = html.index(f'for="{field_id}"')
    return html[start : html.index("</div>", start)]


def env_url(job: Job, name: str = "cloud:ce-job-env") -> str:
    return reverse(name, args=[job.project_id, job.name])
