"""Embedded Code Engine services: projects, jobs, and job runs as real local subprocesses.

A job run is supervised by its own process (`manage.py run_job`), not by a django-q2 worker, so
a job that hangs never holds a worker: the supervisor kills the job's process group at the run's
deadline. The run's extra environment (which carries SM_ACCESS_APIKEY) reaches the supervisor
through a pipe, never through argv, a file or the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from console.audit import audit_record
from console.identity import Actor
from engines_app.providers.embedded.code_engine.models import (
    FINISHED_RUN_STATUSES,
    Job,
    JobRun,
    Project,
    RunStatus,
)
from engines_app.regions import REGIONS
from secrets_app.errors import NotFoundError

JOB_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LOG_LIMIT = 64 * 1024
KILL_GRACE_SECONDS = 5
SUPERVISOR_GRACE_SECONDS = 60
RETENTION_RE = re.compile(r"^(\d+)([mhd])$")
SECRET_ENV_SUFFIXES = ("APIKEY", "API_KEY", "PASSWORD", "TOKEN", "SECRET")


def is_secret_env_name(name: str) -> bool:
    """Whether a job variable holds a secret: the access key, or a name like DB_PASSWORD.

    Protocol metadata (SM_SECRET_ID, SM_SECRET_TASK_ID...) and SMIN_/SMOUT_ declarations are not.
    """
    upper = name.upper()
    if upper == "SM_ACCESS_APIKEY":
        return True
    if upper.startswith(("SM_", "SMIN_", "SMOUT_")):
        return False
    return any(upper == s or upper.endswith("_" + s) for s in SECRET_ENV_SUFFIXES)


def _placeholders(value: str) -> str:
    return (
        value.replace("{python}", sys.executable)
        .replace("{base_dir}", str(settings.BASE_DIR))
        .replace("{data_dir}", str(settings.DATA_DIR))
    )


# ---------------------------------------------------------------------------------------------
# Projects and jobs


@transaction.atomic
def project_create(*, actor: Actor, name: str, region: str) -> Project:
    if region not in REGIONS:
        raise ValidationError(
            {"region": f"Unknown region {region!r}; use one of {', '.join(REGIONS)}."}
        )
    if not name or len(name) > 128:
        raise ValidationError({"name": "A project name is 1 to 128 characters long."})
    if Project.objects.filter(region=region, name=name).exists():
        raise ValidationError({"name": f"A project named {name!r} already exists in {region}."})
    project = Project.objects.create(name=name, region=region, created_by=actor.iam_id)
    audit_record(
        actor=actor,
        action="code_engine.project.create",
        object_type="ce_project",
        object_id=project.pk,
        object_name=name,
    )
    return project


def _clean_env(env: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for key, value in env.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)):
            raise ValidationError({"env": f"{key!r} is not a valid environment variable name."})
        cleaned[str(key)] = str(value)
    return cleaned


@transaction.atomic
def job_create(
    *, actor: Actor, project: Project, name: str, command: list[str], env: dict[str, str]
) -> Job:
    if not JOB_NAME_RE.match(name or "") or len(name) > 63:
        raise ValidationError(
            {"name": "A job name is lowercase letters, digits and dashes, at most 63 characters."}
        )
    if not command or not all(isinstance(part, str) and part for part in command):
        raise ValidationError({"command": "The command is a non-empty list of arguments."})
    if Job.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": f"Project {project.name} already has a job named {name!r}."})
    job = Job.objects.create(project=project, name=name, command=list(command), env=_clean_env(env))
    audit_record(
        actor=actor,
        action="code_engine.job.create",
        object_type="ce_job",
        object_id=str(job.pk),
        object_name=name,
    )
    return job


def job_get(*, project_id: str, job_name: str, region: str | None = None) -> Job:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFoundError(f"Code Engine project {project_id} does not exist.", field="project_id")
    if region and project.region != region:
        raise NotFoundError(
            f"Code Engine project {project.name} is in {project.region}, not {region}.",
            field="region",
        )
    job = Job.objects.filter(project=project, name=job_name).select_related("project").first()
    if job is None:
        raise NotFoundError(
            f"Code Engine project {project.name} has no job named {job_name!r}.", field="job_name"
        )
    return job


@transaction.atomic
def job_set_env(*, actor: Actor, project_id: str, job_name: str, env: dict[str, str]) -> Job:
    job = job_get(project_id=project_id, job_name=job_name)
    job.env = {**job.env, **_clean_env(env)}
    job.save(update_fields=["env", "updated_at"])
    audit_record(
        actor=actor,
        action="code_engine.job.update_env",
        object_type="ce_job",
        object_id=str(job.pk),
        object_name=job.name,
        detail={"variables": sorted(env)},
    )
    return job


# ---------------------------------------------------------------------------------------------
# Job runs


def _run_dir(run: JobRun) -> Path:
    return Path(settings.JOB_LOG_DIR) / run.project_id / run.name


def retention(job_env: dict[str, str], ended_at: datetime) -> datetime:
    """When a finished run is removed: CE_REMOVE_COMPLETED_JOBS is IMMEDIATELY (default) or e.g. 3d."""
    value = str(job_env.get("CE_REMOVE_COMPLETED_JOBS", "IMMEDIATELY")).strip()
    match = RETENTION_RE.match(value)
    if not match:
        return ended_at
    amount, unit = int(match.group(1)), match.group(2)
    return ended_at + timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


def job_run_start(
    *, project_id: str, job_name: str, run_name: str, env: dict[str, str], timeout_seconds: int
) -> JobRun:
    """Record the run and hand it to a supervisor process once the row is committed."""
    job = job_get(project_id=project_id, job_name=job_name)
    with transaction.atomic():
        run, created = JobRun.objects.get_or_create(
            project=job.project,
            name=run_name,
            defaults={
                "job": job,
                "timeout_seconds": timeout_seconds,
                "deadline": timezone.now() + timedelta(seconds=timeout_seconds),
            },
        )
        if created:
            db_name = str(connection.settings_dict["NAME"])
            transaction.on_commit(lambda: _spawn_supervisor(run.pk, dict(env), db_name))
    return run


# Supervisors outlive the call that starts them; holding them here lets finished ones be reaped
# (no zombies) without ever waiting on a running one.
_supervisors: list[subprocess.Popen[bytes]] = []


def _spawn_supervisor(run_pk: int, env: dict[str, str], db_name: str) -> None:
    _supervisors[:] = [p for p in _supervisors if p.poll() is None]
    log_dir = Path(settings.JOB_LOG_DIR)
    log_dir.mkdir(parents=True, exist_ok=True)
    # The supervisor uses the very database this process uses (a test database, say).
    supervisor_env = {**os.environ, "SM_DB_NAME": db_name}
    with open(log_dir / "supervisor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "run_job", str(run_pk)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=supervisor_env,
            cwd=str(settings.BASE_DIR),
            start_new_session=True,
        )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(env).encode())
    proc.stdin.close()
    _supervisors.append(proc)


@dataclass(frozen=True)
class RunOutcome:
    run_name: str
    project_id: str
    status: str
    exit_code: int | None
    timed_out: bool
    timeout_seconds: int


def _redact(text: str, env: dict[str, str]) -> str:
    for key, value in env.items():
        if value and len(value) >= 8 and is_secret_env_name(key):
            text = text.replace(value, "[redacted]")
    return text


def _read_log(path: Path) -> str:
    if not path.exists():
        return ""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size > LOG_LIMIT:
            fh.seek(size - LOG_LIMIT)
            return "[… earlier output truncated …]\n" + fh.read().decode(errors="replace")
        return fh.read().decode(errors="replace")


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def job_run_supervise(*, run_pk: int, extra_env: dict[str, str]) -> RunOutcome | None:
    """Run the job to completion or its deadline (the body of `manage.py run_job`)."""
    now = timezone.now()
    if not JobRun.objects.filter(pk=run_pk, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=now
    ):
        return None  # stopped before it started, or another supervisor has it
    run = JobRun.objects.select_related("job").get(pk=run_pk)
    job_env = {k: _placeholders(str(v)) for k, v in run.job.env.items()}
    workdir = _run_dir(run)
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(workdir),
        "PYTHONUNBUFFERED": "1",
        **job_env,
        **extra_env,
    }
    argv = [_placeholders(part) for part in run.job.command]
    out_path, err_path = workdir / "stdout.log", workdir / "stderr.log"
    timed_out = False
    exit_code: int | None
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=str(workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as exc:
            err.write(f"could not start the job: {exc.strerror} ({argv[0]})\n".encode())
            proc = None
        if proc is None:
            exit_code = 127
        else:
            JobRun.objects.filter(pk=run.pk).update(pid=proc.pid)
            remaining = (
                max(0.0, (run.deadline - timezone.now()).total_seconds()) if run.deadline else None
            )
            try:
                exit_code = proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=KILL_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    _kill_group(proc.pid, signal.SIGKILL)
                    proc.wait()
                exit_code = proc.returncode
            _kill_group(proc.pid, signal.SIGKILL)  # stray grandchildren
    ended = timezone.now()
    if timed_out:
        status = RunStatus.TIMED_OUT
    else:
        status = RunStatus.SUCCEEDED if exit_code == 0 else RunStatus.FAILED
    secret_env = {**job_env, **extra_env}
    JobRun.objects.filter(pk=run.pk).update(
        status=status,
        exit_code=exit_code,
        ended_at=ended,
        stdout=_redact(_read_log(out_path), secret_env),
        stderr=_redact(_read_log(err_path), secret_env),
        remove_after=retention(job_env, ended),
    )
    # The captured logs now live (redacted) in the database; the raw files go.
    shutil.rmtree(workdir, ignore_errors=True)
    return RunOutcome(
        run_name=run.name,
        project_id=run.project_id,
        status=status,
        exit_code=exit_code,
        timed_out=timed_out,
        timeout_seconds=run.timeout_seconds,
    )


def job_run_stop(*, project_id: str, run_name: str) -> bool:
    run = JobRun.objects.filter(project_id=project_id, name=run_name).first()
    if run is None or run.status in FINISHED_RUN_STATUSES:
        return False
    if run.status == RunStatus.PENDING and JobRun.objects.filter(
        pk=run.pk, status=RunStatus.PENDING
    ).update(
        status=RunStatus.FAILED,
        ended_at=timezone.now(),
        stderr="Stopped before it started.",
        remove_after=timezone.now(),
    ):
        return True
    if run.pid:
        _kill_group(run.pid, signal.SIGTERM)
        return True
    return False


def job_runs_cleanup(*, now: datetime | None = None) -> dict[str, int]:
    """Remove runs past their retention; finish runs whose supervisor vanished past the deadline."""
    now = now or timezone.now()
    orphaned = 0
    stale = JobRun.objects.filter(
        status=RunStatus.RUNNING, deadline__lt=now - timedelta(seconds=SUPERVISOR_GRACE_SECONDS)
    )
    for run in stale:
        if run.pid:
            _kill_group(run.pid, signal.SIGKILL)
        orphaned += JobRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.TIMED_OUT, ended_at=now, remove_after=retention(run.job.env, now)
        )
    expired = list(JobRun.objects.filter(remove_after__lte=now))
    for run in expired:
        shutil.rmtree(_run_dir(run), ignore_errors=True)
    removed, _ = JobRun.objects.filter(pk__in=[r.pk for r in expired]).delete()
    return {"removed": removed, "orphaned": orphaned}
