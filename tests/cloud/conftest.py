"""Fixtures of the Code Engine page tests: the seeded cloud, programs in the jobs directory,
a project and a job of their own, a finished run."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
from secrets_app import seed
from tests.cloud.helpers import ADMIN, DECLARATIONS, SECRET_VALUE


@pytest.fixture
def world():
    """The seeded cloud: its two sample jobs back the demo's configurations."""
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key)
    return project


@pytest.fixture
def stranger_client(stranger) -> Client:
    client = Client()
    client.force_login(stranger)
    return client


@pytest.fixture
def programs():
    """Files in the jobs directory (SM_JOBS_DIR): one runnable program and what is refused."""
    folder = Path(settings.SM_JOBS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    made = {
        "ok": folder / f"provider-{tag}",
        "plain": folder / f"not-executable-{tag}",
        "escape": folder / f"escape-{tag}",
        "folder": folder / f"folder-{tag}",
    }
    made["ok"].write_text("#!/bin/sh\necho hello-from-the-job\n")
    made["ok"].chmod(0o755)
    made["plain"].write_text("#!/bin/sh\necho never\n")
    made["plain"].chmod(0o644)
    made["escape"].symlink_to("/bin/true")
    made["folder"].mkdir()
    yield {key: path.name for key, path in made.items()}
    for path in made.values():
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)


@pytest.fixture
def project(world):
    return ce.project_create(actor=ADMIN, name="page-tests", region="eu-de")


@pytest.fixture
def job(project, programs):
    return ce.job_create(
        actor=ADMIN,
        project=project,
        name="page-job",
        command=["{jobs_dir}/" + programs["ok"]],
        env={
            **DECLARATIONS,
            "CE_REMOVE_COMPLETED_JOBS": "IMMEDIATELY",
            "DB_PASSWORD": SECRET_VALUE,
        },
    )


@pytest.fixture
def run(job):
    return JobRun.objects.create(
        name=f"sm-task-{uuid.uuid4()}",
        project=job.project,
        job=job,
        status=RunStatus.SUCCEEDED,
        timeout_seconds=600,
        exit_code=0,
        stdout="hello from the job",
    )
