"""`manage.py create_code_engine_job`: a job from a job_config.json and a command, for scripts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from console.audit import AuditEvent
from console.identity import SYSTEM
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, Project

pytestmark = pytest.mark.django_db

DECLARED = [
    {"name": "SMIN_COMMON_NAME", "value": "type:string, required:true"},
    {"name": "SMIN_KEY_ALGO", "value": "type:enum[RSA|ECDSA], required:false"},
    {"name": "SMOUT_CERTIFICATE_BASE64", "value": "type:string, required:true"},
]


@pytest.fixture
def job_config(tmp_path) -> Path:
    path = tmp_path / "job_config.json"
    path.write_text(json.dumps({"job_env_variables": DECLARED}))
    return path


@pytest.fixture
def program():
    path = Path(settings.SM_JOBS_DIR) / f"cert-provider-{uuid.uuid4().hex[:8]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    yield path.name
    path.unlink()


def test_creates_the_job_through_the_console_service(job_config, program, capsys):
    call_command(
        "create_code_engine_job",
        "--project", "scripted",
        "--region", "eu-de",
        "--create-project",
        "--name", "cert-job",
        "--command", f"{program} --verbose",
        "--job-config", str(job_config),
        "--env", "CE_REMOVE_COMPLETED_JOBS=3d",
        "--env", "API_TOKEN=abc-secret-123",
    )  # fmt: skip
    project = Project.objects.get(name="scripted", region="eu-de")
    job = Job.objects.get(project=project, name="cert-job")
    assert job.command == ["{jobs_dir}/" + program, "--verbose"]
    assert job.env == {
        **{d["name"]: d["value"] for d in DECLARED},
        "CE_REMOVE_COMPLETED_JOBS": "3d",
    }
    assert ce.job_runtime_env(job)["API_TOKEN"] == "abc-secret-123"
    out = capsys.readouterr().out
    assert f"Created job cert-job in project scripted (eu-de, {project.pk})" in out
    assert "2 parameter(s), 1 credential(s), 5 variable(s)" in out
    assert "abc-secret-123" not in out
    assert AuditEvent.objects.filter(action="code_engine.job.create", object_name="cert-job")


def test_an_existing_project_by_id(job_config, program):
    project = ce.project_create(actor=SYSTEM, name="by-id", region="us-south")
    call_command(
        "create_code_engine_job", "--project", project.pk, "--name", "j",
        "--command", program, "--job-config", str(job_config),
    )  # fmt: skip
    assert Job.objects.filter(project=project, name="j").exists()


def test_every_problem_is_one_line_and_nothing_is_written(tmp_path, program):
    bad = tmp_path / "job_config.json"
    bad.write_text(
        json.dumps(
            {
                "job_env_variables": [
                    {"name": "SMIN_A", "value": "type:float"},
                    {"name": "SMOUT_B", "value": "type:string"},
                ]
            }
        )
    )
    ce.project_create(actor=SYSTEM, name="p", region="us-south")
    with pytest.raises(CommandError) as caught:
        call_command(
            "create_code_engine_job", "--project", "p", "--name", "Bad Name",
            "--command", "/bin/sh -c id", "--job-config", str(bad),
        )  # fmt: skip
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("--name: A job name is lowercase letters")
    assert any(line.startswith("--command: /bin/sh is outside the folders") for line in lines)
    assert any("--job-config: SMIN_A: unknown type 'float'" in line for line in lines)
    assert not Job.objects.exists()


def test_a_missing_project_or_file_is_a_clear_error(tmp_path, program, job_config):
    with pytest.raises(CommandError, match="no Code Engine project 'nowhere' in us-south"):
        call_command(
            "create_code_engine_job", "--project", "nowhere", "--name", "j",
            "--command", program, "--job-config", str(job_config),
        )  # fmt: skip
    ce.project_create(actor=SYSTEM, name="here", region="us-south")
    with pytest.raises(CommandError, match="--job-config: cannot read .*missing.json"):
        call_command(
            "create_code_engine_job", "--project", "here", "--name", "j",
            "--command", program, "--job-config", str(tmp_path / "missing.json"),
        )  # fmt: skip
    with pytest.raises(CommandError, match="--env takes NAME=VALUE"):
        call_command(
            "create_code_engine_job", "--project", "here", "--name", "j",
            "--command", program, "--env", "NOVALUE",
        )  # fmt: skip
