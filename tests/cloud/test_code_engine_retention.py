"""Deploying CE_REMOVE_COMPLETED_JOBS=3d on the Environment variables tab keeps later runs, and
their logs, for three days: real runs of a program from the jobs directory (SM_JOBS_DIR)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from engines_app.providers.code_engine import get_code_engine
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, JobRun, Project, RunStatus
from engines_app.providers.embedded.code_engine.sandbox import sandbox_status
from tests.cloud_fixtures import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def program():
    path = Path(settings.SM_JOBS_DIR) / f"hello-{uuid.uuid4().hex[:8]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('#!/bin/sh\necho "hello-from-the-job $SMIN_USER_NAME"\n')
    path.chmod(0o755)
    yield path.name
    path.unlink()


def _run(job: Job) -> str:
    name = f"sm-task-{uuid.uuid4()}"
    get_code_engine().start_job_run(
        project_id=job.project_id, job_name=job.name, run_name=name, env={}, timeout_seconds=60
    )
    return name


def test_deploying_3d_keeps_later_runs_and_their_logs(owner_client, program):
    owner_client.post(
        reverse("cloud:ce-project-create"), {"name": "retention", "region": "us-south"}
    )
    project = Project.objects.get(name="retention")
    rows = {
        "SMIN_USER_NAME": "type:string, required:true",
        "SMOUT_TOKEN": "type:string, required:true",
        "CE_REMOVE_COMPLETED_JOBS": "IMMEDIATELY",
    }
    data = {"name": "hello", "command": program, "env-TOTAL_FORMS": str(len(rows))}
    data.update({"env-INITIAL_FORMS": "0", "env-MIN_NUM_FORMS": "0", "env-MAX_NUM_FORMS": "150"})
    for index, (name, value) in enumerate(rows.items()):
        data[f"env-{index}-name"], data[f"env-{index}-value"] = name, value
    assert (
        owner_client.post(reverse("cloud:ce-job-create", args=[project.pk]), data).status_code
        == 302
    )
    job = Job.objects.get(project=project, name="hello")

    # IMMEDIATELY: the run is removed, logs and all, as soon as it ends.
    first = _run(job)
    assert JobRun.objects.filter(name=first).exists()
    wait_until(
        lambda: not JobRun.objects.filter(name=first).exists(), what="the first run's removal"
    )

    # The troubleshooting walk-through: IMMEDIATELY -> 3d, then Deploy.
    deploy = dict(data, **{"env-2-value": "3d"})
    del deploy["name"], deploy["command"]
    env_url = reverse("cloud:ce-job-env", args=[project.pk, job.name])
    assert owner_client.post(env_url, deploy).status_code == 302

    second = _run(job)
    run = wait_until(
        lambda: JobRun.objects.filter(name=second, status=RunStatus.SUCCEEDED).first(),
        what="the second run to succeed",
    )
    assert run.remove_after == run.ended_at + timedelta(days=3)
    assert "hello-from-the-job type:string, required:true" in run.stdout
    # Where bubblewrap works, the program ran inside the sandbox (which shows it SM_JOBS_DIR).
    assert run.sandboxed == sandbox_status().sandboxed
    page = owner_client.get(reverse("cloud:ce-run", args=[run.pk])).content.decode()
    assert "hello-from-the-job" in page
    assert ce.job_runs_cleanup() == {"removed": 0, "orphaned": 0}
    later = run.ended_at + timedelta(days=3, minutes=1)
    assert ce.job_runs_cleanup(now=later)["removed"] == 1
    assert not JobRun.objects.filter(name=second).exists()
