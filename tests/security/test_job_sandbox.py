"""Finding 2: a provider job cannot read the instance's secrets, and finding 12: job variables
marked secret are sealed.

Each test runs real job runs: a supervising thread of this process, and the job inside
bubblewrap (installed by `make test`). The hostile job tries to read the root key file, the database, the SECRET_KEY
file, the project tree, the host's /tmp and every other process's environment; it prints what
it managed to read, and the tests assert that it managed nothing. The fallback path (no
bubblewrap) and SM_JOB_SANDBOX=required are tested by pointing SM_JOB_BWRAP at nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.errors import ServiceError
from console.identity import Actor
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, JobRun, RunStatus
from engines_app.providers.embedded.code_engine.sandbox import sandbox_status
from tests.cloud_fixtures import wait_until
from tests.factories import create_user

pytestmark = pytest.mark.django_db(transaction=True)
SETUP = Actor(iam_id="IBMid-0000000999", name="setup", system=True)
CANARY = "sandbox-canary-" + uuid.uuid4().hex
HOSTILE = textwrap.dedent(
    """
    import json, os, sys, time, resource
    found = {}
    def attempt(label, path):
        try:
            with open(path, "rb") as fh:
                found[label] = fh.read(200000).decode(errors="replace")
        except OSError as exc:
            found[label] = "DENIED " + type(exc).__name__
    for label, path in json.loads(os.environ["TARGETS"]).items():
        attempt(label, path)
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        attempt("environ of " + pid, "/proc/%s/environ" % pid)
    release = os.path.join(os.environ["HOME"], "release")
    deadline = time.monotonic() + float(os.environ.get("WAIT", "0"))
    while time.monotonic() < deadline and not os.path.exists(release):
        time.sleep(0.05)
    print(json.dumps({
        "found": found,
        "pids": pids,
        "uid": os.getuid(),
        "tmp": os.listdir("/tmp"),
        "listing_of_data_dir_parent": sorted(os.listdir(os.path.dirname(os.environ["DATA_DIR"])))
            if os.path.isdir(os.path.dirname(os.environ["DATA_DIR"])) else [],
        "env": sorted(os.environ),
        "limits": {
            "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
            "as": resource.getrlimit(resource.RLIMIT_AS)[0],
            "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
        },
    }))
    """
)


@pytest.fixture
def project():
    return ce.project_create(actor=SETUP, name=f"sbx-{uuid.uuid4().hex[:6]}", region="us-south")


@pytest.fixture
def canaries(tmp_path_factory):
    """Secret-looking files where a job must not reach: the data directory and the host's /tmp."""
    data = Path(django_settings.DATA_DIR)
    made = []
    for name in ("root.key", "secret.key"):
        path = data / name
        if not path.exists():
            path.write_text(CANARY)
            path.chmod(0o600)
            made.append(path)
    host_tmp = Path("/tmp") / f"host-canary-{uuid.uuid4().hex}"
    host_tmp.write_text(CANARY)
    yield (
        {
            "root key": str(data / "root.key"),
            "secret key": str(data / "secret.key"),
            "database": str(connection.settings_dict["NAME"]),
            "project tree": str(Path(django_settings.BASE_DIR) / "console" / "settings.py"),
            "host tmp": str(host_tmp),
        },
        host_tmp.name,
    )
    for path in made:
        path.unlink(missing_ok=True)
    host_tmp.unlink(missing_ok=True)


def _run_job(project, *, script: str, env: dict[str, str], timeout: int = 60) -> JobRun:
    job = ce.job_create(
        actor=SETUP,
        project=project,
        name=f"job-{uuid.uuid4().hex[:8]}",
        command=["{python}", "-c", script],
        env={"CE_REMOVE_COMPLETED_JOBS": "1d", **env},
    )
    return ce.job_run_start(
        project_id=project.pk,
        job_name=job.name,
        run_name=f"sm-task-{uuid.uuid4()}",
        env={"SM_ACCESS_APIKEY": "run-secret-" + uuid.uuid4().hex},
        timeout_seconds=timeout,
    )


def _finished(run: JobRun) -> JobRun:
    return wait_until(
        lambda: JobRun.objects.filter(pk=run.pk, status__in=ce.FINISHED_RUN_STATUSES).first(),
        timeout=60,
        what="the job run to finish",
    )


def _report(run: JobRun) -> dict:
    assert run.status == RunStatus.SUCCEEDED, (run.status, run.stdout, run.stderr)
    return json.loads(run.stdout.strip().splitlines()[-1])


needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="make test installs bubblewrap; run it first"
)


@needs_bwrap
def test_a_sandboxed_job_reads_nothing_of_the_instance(project, canaries, monkeypatch):
    targets, host_tmp_name = canaries
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", CANARY)  # would reach a supervisor's env
    assert sandbox_status().sandboxed
    run = _run_job(
        project,
        script=HOSTILE,
        env={"TARGETS": json.dumps(targets), "DATA_DIR": str(django_settings.DATA_DIR)},
    )
    report = _report(_finished(run))
    assert JobRun.objects.get(pk=run.pk).sandboxed
    for label in targets:
        assert report["found"][label].startswith("DENIED"), (label, report["found"][label][:80])
    leaked = {label: text for label, text in report["found"].items() if CANARY in text}
    assert leaked == {}
    # Its own PID namespace: bwrap's init and the job, never the supervisor or the server.
    assert len(report["pids"]) <= 3 and str(os.getpid()) not in report["pids"]
    assert all(
        text.startswith("DENIED") or "SM_ACCESS_APIKEY" in text or text == ""
        for label, text in report["found"].items()
        if label.startswith("environ of")
    )
    assert host_tmp_name not in report["tmp"]  # a private /tmp
    if os.geteuid() == 0:
        assert report["uid"] == django_settings.SM_JOB_UID  # never root
    assert "SECRET_KEY" not in report["env"] and "SM_ROOT_KEY" not in report["env"]
    assert "DJANGO_SUPERUSER_PASSWORD" not in report["env"]


@needs_bwrap
def test_the_supervisor_environment_is_minimal(project, canaries, monkeypatch):
    """The run is supervised by a thread of the process that started it: the only process it
    adds is the job's (bwrap, then the job inside), which starts with an empty environment."""
    targets, _ = canaries
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", CANARY)
    run = _run_job(
        project,
        script=HOSTILE,
        env={
            "TARGETS": json.dumps(targets),
            "DATA_DIR": str(django_settings.DATA_DIR),
            "WAIT": "30",
        },
    )
    started = wait_until(
        lambda: JobRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, pid__isnull=False
        ).first(),
        what="the job to start",
    )
    # No supervisor process between this one and the job's.
    stat = Path(f"/proc/{started.pid}/stat").read_text()
    assert int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()
    cmdline = Path(f"/proc/{started.pid}/cmdline").read_bytes()
    assert cmdline.split(b"\0")[0].endswith(b"bwrap")
    # The job's variables are not on the world-readable command line...
    assert json.dumps(targets).encode() not in cmdline
    # ... but in bwrap's own environment (owner-only), which is exactly the job's.
    environ = Path(f"/proc/{started.pid}/environ").read_bytes().decode()
    names = {item.split("=", 1)[0] for item in environ.split("\0") if item}
    basics = {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    assert names >= basics | {"TARGETS", "DATA_DIR", "WAIT"}, names
    assert not names & {"DJANGO_SETTINGS_MODULE", "SM_ROOT_KEY", "DJANGO_SUPERUSER_PASSWORD"}
    values = dict(item.split("=", 1) for item in environ.split("\0") if "=" in item)
    assert values["SM_ACCESS_APIKEY"].encode() not in cmdline, "the API key is on the command line"
    for secret in (django_settings.SECRET_KEY, os.environ["SM_ROOT_KEY"], CANARY):
        assert secret not in environ
    home = ce._run_dir(JobRun.objects.get(pk=run.pk)) / "home"
    (home / "release").write_text("go")
    _report(_finished(run))


@needs_bwrap
def test_resource_limits_come_from_the_settings(project, canaries, settings):
    settings.SM_JOB_CPU_SECONDS = 7
    settings.SM_JOB_MEMORY_MB = 700
    settings.SM_JOB_MAX_PROCESSES = 33
    targets, _ = canaries
    run = _run_job(
        project,
        script=HOSTILE,
        env={"TARGETS": json.dumps(targets), "DATA_DIR": str(django_settings.DATA_DIR)},
    )
    limits = _report(_finished(run))["limits"]
    assert limits == {"cpu": 7, "as": 700 * 1024 * 1024, "nproc": 33}


@needs_bwrap
def test_a_job_past_its_cpu_limit_is_killed(project, settings):
    settings.SM_JOB_CPU_SECONDS = 1
    run = _finished(_run_job(project, script="while True: pass", env={}))
    assert run.status == RunStatus.FAILED and run.exit_code != 0


def test_without_bubblewrap_jobs_run_unsandboxed_and_everyone_is_told(project, settings, caplog):
    settings.SM_JOB_BWRAP = "/nonexistent/bwrap"
    run = _finished(_run_job(project, script="print('hello')", env={}))
    assert run.status == RunStatus.SUCCEEDED and not run.sandboxed
    assert "NOT sandboxed" in caplog.text and "bubblewrap" in caplog.text
    manager = Client()
    manager.force_login(create_user(username="mgr", manage_groups=True))
    for url in (reverse("cloud:ce-projects"), reverse("cloud:ce-run", args=[run.pk])):
        html = manager.get(url).content.decode()
        assert "NOT sandboxed" in html and 'role="alert"' in html
    assert "Not sandboxed" in manager.get(reverse("cloud:ce-run", args=[run.pk])).content.decode()


def test_required_mode_refuses_to_run_jobs_without_a_sandbox(project, settings):
    settings.SM_JOB_BWRAP = "/nonexistent/bwrap"
    settings.SM_JOB_SANDBOX = "required"
    with pytest.raises(ServiceError, match="SM_JOB_SANDBOX=required"):
        _run_job(project, script="print('hello')", env={})
    assert not JobRun.objects.exists()


@needs_bwrap
def test_the_code_engine_pages_say_jobs_are_sandboxed(project):
    manager = Client()
    manager.force_login(create_user(username="mgr", manage_groups=True))
    html = manager.get(reverse("cloud:ce-projects")).content.decode()
    assert "Job runs are sandboxed with bubblewrap" in html


# --- Finding 12: secret job variables are sealed -------------------------------------------------


def test_secret_job_variables_are_sealed_and_still_reach_the_job(project):
    value = "db-" + uuid.uuid4().hex
    job = ce.job_create(
        actor=SETUP,
        project=project,
        name="with-db-password",
        command=[
            "{python}",
            "-c",
            "import hashlib, os; print(hashlib.sha256(os.environ['DB_PASSWORD'].encode()).hexdigest())",
        ],
        env={"DB_PASSWORD": value, "REGION": "eu", "CE_REMOVE_COMPLETED_JOBS": "1d"},
    )
    stored = Job.objects.get(pk=job.pk)
    assert "DB_PASSWORD" not in stored.env and stored.secret_names == ["DB_PASSWORD"]
    assert stored.has_sealed_value
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM code_engine_job WHERE id = %s", [job.pk])
        assert value not in repr(cursor.fetchall())
    run = ce.job_run_start(
        project_id=project.pk,
        job_name=job.name,
        run_name=f"sm-task-{uuid.uuid4()}",
        env={},
        timeout_seconds=60,
    )
    finished = _finished(run)
    assert finished.stdout.strip() == hashlib.sha256(value.encode()).hexdigest(), finished.stderr
    # Updating other variables keeps the sealed one.
    ce.job_set_env(actor=SETUP, project_id=project.pk, job_name=job.name, env={"REGION": "us"})
    assert ce.job_runtime_env(Job.objects.get(pk=job.pk))["DB_PASSWORD"] == value


SUPERVISING_PROCESS = textwrap.dedent(
    """
    import sys, threading, django
    django.setup()
    from engines_app.providers.embedded.code_engine import services as ce
    project_id, job_name, run_name, timeout = sys.argv[1:]
    ce.job_run_start(project_id=project_id, job_name=job_name, run_name=run_name, env={},
                     timeout_seconds=int(timeout))
    threading.Event().wait()  # a long-lived process, as a worker is, until it is killed
    """
)


def test_a_killed_supervisor_leaves_no_raw_logs(project, canaries):
    """Finding 11: raw (unredacted) output never outlives a lost supervisor (here: the worker
    process that started the run and supervises it, killed)."""
    job = ce.job_create(
        actor=SETUP,
        project=project,
        name=f"job-{uuid.uuid4().hex[:8]}",
        command=["{python}", "-c", "import time\nprint('x' * 100, flush=True)\ntime.sleep(60)"],
        env={"CE_REMOVE_COMPLETED_JOBS": "1d"},
    )
    run_name = f"sm-task-{uuid.uuid4()}"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISING_PROCESS, project.pk, job.name, run_name, "2"],
        cwd=django_settings.BASE_DIR,
        env=dict(os.environ, SM_DB_NAME=str(connection.settings_dict["NAME"])),
        start_new_session=True,
    )
    try:
        run = wait_until(
            lambda: JobRun.objects.filter(
                name=run_name, status=RunStatus.RUNNING, pid__isnull=False
            ).first(),
            what="the job to start",
        )
        run_dir = ce._run_dir(JobRun.objects.get(pk=run.pk))
        wait_until(lambda: (run_dir / "stdout.log").exists(), what="the raw log")
    finally:
        os.killpg(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
    stale = JobRun.objects.get(pk=run.pk)
    later = stale.deadline + datetime.timedelta(seconds=ce.SUPERVISOR_GRACE_SECONDS + 1)
    ce.job_runs_cleanup(now=later)
    ended = JobRun.objects.get(pk=run.pk)
    assert ended.status == RunStatus.TIMED_OUT and "supervisor" in ended.stderr
    assert not run_dir.exists()


# --- Finding 11: runs that lost their supervisor, and where a failed task's logs are ------------


def test_a_run_whose_job_reported_is_not_called_timed_out_after_a_lost_supervisor(project):
    job = ce.job_create(
        actor=SETUP,
        project=project,
        name="lost",
        command=["true"],
        env={"CE_REMOVE_COMPLETED_JOBS": "1d"},
    )
    now = timezone.now()
    run = JobRun.objects.create(
        name=f"sm-task-{uuid.uuid4()}",
        project=project,
        job=job,
        status=RunStatus.RUNNING,
        timeout_seconds=60,
        deadline=now,
        started_at=now,
    )
    ce.job_run_record_report(project_id=project.pk, run_name=run.name)
    ce.job_runs_cleanup(now=now + datetime.timedelta(seconds=ce.SUPERVISOR_GRACE_SECONDS + 1))
    ended = JobRun.objects.get(pk=run.pk)
    assert ended.status == RunStatus.LOST
    assert "had reported its result" in ended.stderr


def test_a_failed_task_says_its_logs_were_not_kept_and_how_to_keep_them(cloud, q_sync, settings):
    from secrets_app.services.custom_credentials import custom_credentials_secret_create
    from tests.cloud_fixtures import wait_for_task

    ce.job_set_env(
        actor=SETUP,
        project_id=cloud["project"].pk,
        job_name="token-provider",
        env={"CE_REMOVE_COMPLETED_JOBS": "IMMEDIATELY"},
    )
    settings.SM_PUBLIC_URL = "http://127.0.0.1:9"  # nothing listens: the job cannot report
    secret = custom_credentials_secret_create(
        actor=SETUP,
        name="unreported",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    task = wait_for_task(secret.pk)
    description = task.errors[0]["description"]
    assert task.errors[0]["code"] == "job_exited_without_result"
    assert "logs were not kept" in description and "IMMEDIATELY" in description
    assert "3d" in description
    # Removed, as the setting says (the supervisor removes it right after failing the task).
    wait_until(lambda: not JobRun.objects.filter(name=task.pk).exists(), what="the run's removal")


def test_the_supervisor_never_needs_the_root_key(project, settings):
    """The parent opens the job's sealed variables; the supervisor gets no root key at all, so
    one under a different root key (here: the test settings' default) still runs the job."""
    import base64
    import secrets

    settings.SM_ROOT_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
    value = "db-" + uuid.uuid4().hex
    job = ce.job_create(
        actor=SETUP,
        project=project,
        name="sealed-under-another-key",
        command=["{python}", "-c", "import os; print(len(os.environ['DB_PASSWORD']))"],
        env={"DB_PASSWORD": value, "CE_REMOVE_COMPLETED_JOBS": "1d"},
    )
    run = ce.job_run_start(
        project_id=project.pk,
        job_name=job.name,
        run_name=f"sm-task-{uuid.uuid4()}",
        env={},
        timeout_seconds=60,
    )
    finished = _finished(run)
    assert finished.status == RunStatus.SUCCEEDED, finished.stderr
    assert finished.stdout.strip() == str(len(value))
