"""Embedded Code Engine services: projects, jobs, and job runs as real local subprocesses.

A job run is supervised by a thread of the process that starts it (supervisor.py), not by a
django-q2 worker's task: the task returns once the run is handed over, so a job that hangs never
holds a worker, and the supervising thread kills the job's process group at the run's deadline.
The run's variables (which carry SM_ACCESS_APIKEY) stay in that process's memory until they are
handed to the job; they never go to a file or the database.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import re
import select
import shutil
import signal
import subprocess
import traceback
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from console import crypto
from console.audit import INSTANCE, audit_denied, audit_record
from console.errors import AccessDeniedError, NotFoundError, ServiceError
from console.identity import Actor
from engines_app.providers.code_engine import RunOutcome, job_run_finished
from engines_app.providers.embedded.code_engine import commands, sandbox, supervisor
from engines_app.providers.embedded.code_engine.models import (
    FINISHED_RUN_STATUSES,
    Job,
    JobRun,
    Project,
    RunStatus,
)
from engines_app.providers.embedded.code_engine.run_audit import audit_run_ended, audit_run_started
from engines_app.providers.embedded.code_engine.sandbox import RunPlan
from engines_app.providers.iam import get_iam
from engines_app.regions import REGIONS

JOB_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LOG_LIMIT = 64 * 1024
KILL_GRACE_SECONDS = 5
SUPERVISOR_GRACE_SECONDS = 60
RETENTION_RE = re.compile(r"^(\d+)([mhd])$")
RETENTION_MAX = timedelta(days=365)
MANAGE_ACTION = "code_engine.manage"
SECRET_ENV_SUFFIXES = ("APIKEY", "API_KEY", "PASSWORD", "TOKEN", "SECRET")
SEALED_COLUMNS = ("sealed_key_id", "sealed_wrapped_key", "sealed_ciphertext")
logger = logging.getLogger(__name__)


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


_placeholders = commands.expand


def authorize_manage(actor: Actor) -> None:
    """Projects and jobs are changed by Managers of the instance only: a job runs commands on
    this host (the console pages check the same rule first, through providers.access)."""
    iam = get_iam()
    if not iam.is_allowed(iam.principal_for_actor(actor), MANAGE_ACTION, secret_group_id=None):
        audit_denied(actor=actor, action=MANAGE_ACTION, subject=INSTANCE)
        raise AccessDeniedError(
            f"{actor.name} may not change Code Engine projects and jobs: that needs the Manager "
            "role on this instance, because a job runs commands on this host."
        )


# ---------------------------------------------------------------------------------------------
# Projects and jobs. Commands that people give go through definitions.py (the command policy);
# job_create takes the command as it is, for the demo seed and tests, whose commands are code.


@transaction.atomic
def project_create(*, actor: Actor, name: str, region: str) -> Project:
    authorize_manage(actor)
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if region not in REGIONS:
        errors["region"] = f"Unknown region {region!r}; use one of {', '.join(REGIONS)}."
    if not name or len(name) > 128 or not name.isprintable():
        errors["name"] = "A project name is 1 to 128 printable characters long."
    elif Project.objects.filter(region=region, name=name).exists():
        errors["name"] = f"A project named {name!r} already exists in {region}."
    if errors:
        raise ValidationError(errors)
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


def _sealed_env(job: Job) -> dict[str, str]:
    sealed = job.get_sealed()
    if sealed is None:
        return {}
    return dict(json.loads(crypto.open_sealed(sealed, context=job.seal_context())))


def store_env(job: Job, env: dict[str, str]) -> None:
    """Split variables into plain ones (`env`) and sealed secret ones; the caller saves."""
    plain = {k: v for k, v in env.items() if not is_secret_env_name(k)}
    secret = {k: v for k, v in env.items() if is_secret_env_name(k)}
    job.env = plain
    job.secret_names = sorted(secret)
    job.set_sealed(
        crypto.seal(json.dumps(secret).encode(), context=job.seal_context()) if secret else None
    )


def job_runtime_env(job: Job) -> dict[str, str]:
    """Every variable of the job, secret ones opened: for the run's environment only."""
    return {**job.env, **_sealed_env(job)}


def job_env_names(job: Job) -> list[tuple[str, bool]]:
    """(name, is secret) of every variable, for pages: values of secret ones are never needed."""
    names = [(k, False) for k in job.env] + [(k, True) for k in job.secret_names]
    return sorted(names)


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
    authorize_manage(actor)
    job = Job.objects.create(project=project, name=name, command=list(command))
    store_env(job, _clean_env(env))  # sealing binds the value to the row, so after create
    job.save(update_fields=["env", "secret_names", *SEALED_COLUMNS])
    audit_record(
        actor=actor,
        action="code_engine.job.create",
        object_type="ce_job",
        object_id=str(job.pk),
        object_name=name,
    )
    return job


def job_get(*, project_id: str, job_name: str, region: str | None = None) -> Job:
    """The job, with its project, in one query; the project alone is looked up only to say
    which of the two is missing."""
    job = Job.objects.filter(project_id=project_id, name=job_name).select_related("project").first()
    project = job.project if job else Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFoundError(f"Code Engine project {project_id} does not exist.", field="project_id")
    if region and project.region != region:
        raise NotFoundError(
            f"Code Engine project {project.name} is in {project.region}, not {region}.",
            field="region",
        )
    if job is None:
        raise NotFoundError(
            f"Code Engine project {project.name} has no job named {job_name!r}.", field="job_name"
        )
    return job


@transaction.atomic
def job_set_env(*, actor: Actor, project_id: str, job_name: str, env: dict[str, str]) -> Job:
    job = job_get(project_id=project_id, job_name=job_name)
    store_env(job, {**job_runtime_env(job), **_clean_env(env)})
    job.save(update_fields=["env", "secret_names", *SEALED_COLUMNS, "updated_at"])
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
    """Per run: the captured logs, and `home/`, the only directory the job itself can write."""
    return Path(settings.JOB_LOG_DIR) / run.project_id / run.name


def retention(job_env: dict[str, str], ended_at: datetime) -> datetime:
    """When a finished run is removed: CE_REMOVE_COMPLETED_JOBS is IMMEDIATELY (default) or e.g. 3d."""
    value = str(job_env.get("CE_REMOVE_COMPLETED_JOBS", "IMMEDIATELY")).strip()
    match = RETENTION_RE.match(value)
    if not match:
        return ended_at
    amount, unit = int(match.group(1)), match.group(2)
    if amount > RETENTION_MAX.total_seconds():  # no timedelta overflow, whatever the unit
        return ended_at + RETENTION_MAX
    kept = timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    return ended_at + min(kept, RETENTION_MAX)


def job_run_start(
    *, project_id: str, job_name: str, run_name: str, env: dict[str, str], timeout_seconds: int
) -> JobRun:
    """Record the run and hand it to this process's run supervisors once the row is committed.

    The run is Pending until a supervising thread is free (supervisor.py bounds how many runs go
    at once); its deadline counts from now. Refused (ServiceError) when SM_JOB_SANDBOX=required
    and the sandbox cannot run here.
    """
    job = job_get(project_id=project_id, job_name=job_name)
    status = sandbox.sandbox_status()
    if status.refuses_jobs:
        raise ServiceError(status.describe())
    sandbox.warn_if_unsandboxed(status)
    plan = sandbox.run_plan(status)
    with transaction.atomic():
        run, created = JobRun.objects.get_or_create(
            project=job.project,
            name=run_name,
            defaults={
                "job": job,
                "timeout_seconds": timeout_seconds,
                "deadline": timezone.now() + timedelta(seconds=timeout_seconds),
                "sandboxed": plan.sandboxed,
            },
        )
        if created:
            audit_run_started(run)
            run_env = {**job_runtime_env(job), **env}  # the run's variables win
            supervise = functools.partial(_supervise, run.pk, run_env, plan)
            transaction.on_commit(lambda: supervisor.pool.submit(supervise, name=run_name))
    return run


def _supervise(run_pk: int, run_env: dict[str, str], plan: RunPlan) -> None:
    """The work of a supervising thread for one run: run it, tell who listens, tidy up."""
    try:
        outcome = job_run_supervise(run_pk=run_pk, run_env=run_env, plan=plan)
        if outcome is not None:
            job_run_finished.send(sender=JobRun, outcome=outcome)
            # A run kept for no time (IMMEDIATELY) goes now, once its listeners have read it;
            # the scheduled job_runs_cleanup removes the others, and ends lost runs.
            JobRun.objects.filter(pk=run_pk, remove_after__lte=timezone.now()).delete()
    except Exception as exc:
        # The text may quote the run's variables (an API key): only a redacted copy is logged.
        text = "".join(traceback.format_exception(exc))
        logger.error("Job run %s: supervision failed:\n%s", run_pk, _redact(text, run_env))
        _close_after_failure(run_pk)


def _close_after_failure(run_pk: int) -> None:
    """A run whose supervision broke off is ended as failed, never left running."""
    with contextlib.suppress(Exception):
        run = JobRun.objects.filter(pk=run_pk).first()
        if run is None or run.status in FINISHED_RUN_STATUSES:
            return
        if run.pid:
            _kill_group(run.pid, signal.SIGKILL)
        now = timezone.now()
        with transaction.atomic():
            if JobRun.objects.filter(
                pk=run_pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
            ).update(
                status=RunStatus.FAILED,
                ended_at=now,
                stderr="The supervision of this run failed; the console's log says why.",
                remove_after=retention(run.job.env, now),
            ):
                audit_run_ended(
                    run, status=RunStatus.FAILED, exit_code=None, note="supervision failed"
                )
        shutil.rmtree(_run_dir(run), ignore_errors=True)


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


def _job_environment(run_env: dict[str, str], home: Path) -> dict[str, str]:
    """Exactly what the job sees: a few basics, then the job's and the run's variables."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **{k: _placeholders(str(v)) for k, v in run_env.items()},
    }


def _start(plan: RunPlan, argv: list[str], env: dict[str, str], home: Path, out, err):  # type: ignore[no-untyped-def]
    """The job's process, in its own session (so its whole group can be killed), limited."""
    if plan.sandboxed:
        sandbox.give_external_dir_to(plan)
        # bwrap runs with exactly the job's environment and hands it on: never on a command
        # line, which any local user can read.
        command = sandbox.sandboxed_argv(plan, argv=argv, home=home)
    else:
        command = argv
    return subprocess.Popen(
        sandbox.limited_argv(plan, command),
        env=env,
        cwd=str(home),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )


QUEUED_TOO_LONG_NOTE = (
    "This run did not start: its deadline passed while it waited for a free slot (at most "
    "{limit} runs go at once in the process that started it, SM_JOB_MAX_CONCURRENT_RUNS)."
)


def _wait_for_exit(proc: subprocess.Popen[bytes], timeout: float | None) -> int | None:
    """The exit code, or None once `timeout` seconds passed first. Woken by the exit itself (a
    pidfd), not by Popen.wait's polling, which notices an exit up to 50 ms late."""
    if timeout is not None:
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # an old kernel: poll
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if not poller.poll(max(0, math.ceil(timeout * 1000))):
                return None
        finally:
            os.close(pidfd)
    return proc.wait()


def job_run_supervise(*, run_pk: int, run_env: dict[str, str], plan: RunPlan) -> RunOutcome | None:
    """Run the job to completion or its deadline (the work of a supervising thread).

    `run_env` holds every variable of the run, the job's sealed ones already opened when the run
    was started: supervision never needs the root key. A run whose deadline passed while it
    waited for a slot ends timed out without starting. None: the run was no longer pending.
    """
    now = timezone.now()
    pending = JobRun.objects.filter(pk=run_pk, status=RunStatus.PENDING)
    in_time = Q(deadline__isnull=True) | Q(deadline__gt=now)
    if not pending.filter(in_time).update(status=RunStatus.RUNNING, started_at=now):
        if pending.exists():
            return _end_unstarted(run_pk, now)
        return None  # stopped before it started, or another supervisor has it
    run = JobRun.objects.select_related("job").get(pk=run_pk)
    run_dir = _run_dir(run)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    home = run_dir / "home"
    sandbox.prepare_home(plan, home)
    env = _job_environment(run_env, home)
    argv = [_placeholders(part) for part in run.job.command]
    out_path, err_path = run_dir / "stdout.log", run_dir / "stderr.log"
    timed_out = False
    exit_code: int | None
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = _start(plan, argv, env, home, out, err)
        except OSError as exc:
            err.write(f"could not start the job: {exc.strerror} ({argv[0]})\n".encode())
            proc = None
        if proc is None:
            exit_code = 127
        else:
            try:
                JobRun.objects.filter(pk=run.pk).update(pid=proc.pid)
                remaining = (
                    max(0.0, (run.deadline - timezone.now()).total_seconds())
                    if run.deadline
                    else None
                )
                exit_code = _wait_for_exit(proc, remaining)
                if exit_code is None:
                    timed_out = True
                    _kill_group(proc.pid, signal.SIGTERM)
                    exit_code = _wait_for_exit(proc, KILL_GRACE_SECONDS)
            finally:
                # Stray grandchildren (outside a sandbox), or the whole job if supervision broke.
                _kill_group(proc.pid, signal.SIGKILL)
                exit_code = proc.wait()
    ended = timezone.now()
    if timed_out:
        status = RunStatus.TIMED_OUT
    else:
        status = RunStatus.SUCCEEDED if exit_code == 0 else RunStatus.FAILED
    # The job's setting as it is now: a Deploy while the run went on applies to it too.
    job_env = Job.objects.filter(pk=run.job_id).values_list("env", flat=True).first() or {}
    remove_after = retention(job_env, ended)
    with transaction.atomic():
        JobRun.objects.filter(pk=run.pk).update(
            status=status,
            exit_code=exit_code,
            ended_at=ended,
            stdout=_redact(_read_log(out_path), run_env),
            stderr=_redact(_read_log(err_path), run_env),
            remove_after=remove_after,
        )
        audit_run_ended(run, status=status, exit_code=exit_code)
    # The captured logs now live (redacted) in the database; the raw files go.
    shutil.rmtree(run_dir, ignore_errors=True)
    return _outcome(run, status, exit_code, job_env, ended=ended, remove_after=remove_after)


def _outcome(
    run: JobRun,
    status: str,
    exit_code: int | None,
    job_env: dict[str, str],
    *,
    ended: datetime,
    remove_after: datetime,
) -> RunOutcome:
    return RunOutcome(
        run_name=run.name,
        project_id=run.project_id,
        status=status,
        exit_code=exit_code,
        timed_out=status == RunStatus.TIMED_OUT,
        timeout_seconds=run.timeout_seconds,
        logs_kept=remove_after > ended,
        retention_setting=str(job_env.get("CE_REMOVE_COMPLETED_JOBS", "IMMEDIATELY")),
    )


def _end_unstarted(run_pk: int, now: datetime) -> RunOutcome | None:
    run = JobRun.objects.select_related("job").get(pk=run_pk)
    remove_after = retention(run.job.env, now)
    with transaction.atomic():
        if not JobRun.objects.filter(pk=run_pk, status=RunStatus.PENDING).update(
            status=RunStatus.TIMED_OUT,
            ended_at=now,
            stderr=QUEUED_TOO_LONG_NOTE.format(limit=supervisor.pool.limit()),
            remove_after=remove_after,
        ):
            return None
        audit_run_ended(run, status=RunStatus.TIMED_OUT, exit_code=None, note="never started")
    return _outcome(
        run, RunStatus.TIMED_OUT, None, run.job.env, ended=now, remove_after=remove_after
    )


def job_run_record_report(*, project_id: str, run_name: str) -> None:
    """Note that the job reported its result (the secret task's callback arrived)."""
    JobRun.objects.filter(project_id=project_id, name=run_name, reported_at__isnull=True).update(
        reported_at=timezone.now()
    )


def job_run_stop(*, project_id: str, run_name: str) -> bool:
    run = JobRun.objects.filter(project_id=project_id, name=run_name).first()
    if run is None or run.status in FINISHED_RUN_STATUSES:
        return False
    with transaction.atomic():
        if run.status == RunStatus.PENDING and JobRun.objects.filter(
            pk=run.pk, status=RunStatus.PENDING
        ).update(
            status=RunStatus.FAILED,
            ended_at=timezone.now(),
            stderr="Stopped before it started.",
            remove_after=timezone.now(),
        ):
            audit_run_ended(run, status=RunStatus.FAILED, exit_code=None, note="stopped")
            return True
    if run.pid:
        _kill_group(run.pid, signal.SIGTERM)
        return True
    return False


LOST_SUPERVISOR_NOTE = (
    "The supervisor of this run (the process that started it, a worker) stopped before the run "
    "ended, so its exit code and output were not recorded (the raw output was discarded: it had "
    "not been redacted)."
)
UNSTARTED_NOTE = (
    "This run never started: the process that was to supervise it (a worker) stopped while the "
    "run waited for a free slot, and the run's deadline has passed."
)


def job_runs_cleanup(*, now: datetime | None = None) -> dict[str, int]:
    """Remove runs past their retention; finish runs whose supervisor vanished past the deadline.

    A run whose job had reported its result before the supervisor vanished ends as `lost` (its
    exit code is unknown), not `timed_out`. Its raw log files are removed at once. A run that
    was still waiting for a slot when its supervising process went ends `timed_out`, unstarted.
    """
    now = now or timezone.now()
    orphaned = 0
    stale = JobRun.objects.filter(
        status=RunStatus.RUNNING, deadline__lt=now - timedelta(seconds=SUPERVISOR_GRACE_SECONDS)
    ).select_related("job")
    for run in stale:
        if run.pid:
            _kill_group(run.pid, signal.SIGKILL)
        if run.reported_at:
            status = RunStatus.LOST
            note = f"{LOST_SUPERVISOR_NOTE} The job had reported its result at {run.reported_at:%Y-%m-%d %H:%M:%S} UTC."
        else:
            status = RunStatus.TIMED_OUT
            note = f"{LOST_SUPERVISOR_NOTE} The job had not reported a result by its deadline."
        with transaction.atomic():
            if JobRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                status=status, ended_at=now, stderr=note, remove_after=retention(run.job.env, now)
            ):
                orphaned += 1
                audit_run_ended(run, status=status, exit_code=None, note="supervisor lost")
        shutil.rmtree(_run_dir(run), ignore_errors=True)
    unstarted = JobRun.objects.filter(
        status=RunStatus.PENDING, deadline__lt=now - timedelta(seconds=SUPERVISOR_GRACE_SECONDS)
    ).select_related("job")
    for run in unstarted:
        with transaction.atomic():
            if JobRun.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
                status=RunStatus.TIMED_OUT,
                ended_at=now,
                stderr=UNSTARTED_NOTE,
                remove_after=retention(run.job.env, now),
            ):
                orphaned += 1
                audit_run_ended(
                    run, status=RunStatus.TIMED_OUT, exit_code=None, note="never started"
                )
    expired = list(JobRun.objects.filter(remove_after__lte=now))
    for run in expired:
        shutil.rmtree(_run_dir(run), ignore_errors=True)
    removed, _ = JobRun.objects.filter(pk__in=[r.pk for r in expired]).delete()
    return {"removed": removed, "orphaned": orphaned}
