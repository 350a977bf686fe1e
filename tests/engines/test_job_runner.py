"""The job runner: runs supervised by threads of the process that starts them, a bounded number
at once (SM_JOB_MAX_CONCURRENT_RUNS), the rest waiting in order; the timeout kill of the whole
process group, log redaction, and the ends of runs whose supervision broke off or never began."""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from console.identity import Actor
from engines_app.providers.code_engine import RunOutcome, job_run_finished
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, JobRun, RunStatus
from engines_app.providers.embedded.code_engine.supervisor import pool
from tests.cloud_fixtures import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
SETUP = Actor(iam_id="IBMid-0000000999", name="setup", system=True)
# Waits until its release file exists (the job's own loop; the test waits on conditions).
HOLD = (
    "import os, time\n"
    "print('started', flush=True)\n"
    "while not os.path.exists(os.environ['RELEASE']):\n"
    "    time.sleep(0.02)\n"
    "print('released', flush=True)\n"
)


@pytest.fixture
def project():
    return ce.project_create(actor=SETUP, name=f"run-{uuid.uuid4().hex[:6]}", region="us-south")


@pytest.fixture
def gate():
    """A folder that job runs can see (the external folder): release files appear there."""
    folder = Path(django_settings.SM_EXTERNAL_DIR) / f"gate-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, mode=0o755)
    return folder


@pytest.fixture
def outcomes():
    """What the runner announces on job_run_finished, as it happens."""
    seen: list[RunOutcome] = []

    def receive(sender: object, *, outcome: RunOutcome, **kwargs: object) -> None:
        seen.append(outcome)

    job_run_finished.connect(receive, dispatch_uid="test-job-runner")
    yield seen
    job_run_finished.disconnect(dispatch_uid="test-job-runner")


def _job(project, script: str, env: dict[str, str] | None = None) -> Job:
    return ce.job_create(
        actor=SETUP,
        project=project,
        name=f"job-{uuid.uuid4().hex[:8]}",
        command=["{python}", "-c", script],
        env={"CE_REMOVE_COMPLETED_JOBS": "1d", **(env or {})},
    )


def _start(job: Job, *, env: dict[str, str] | None = None, timeout: int = 60) -> JobRun:
    return ce.job_run_start(
        project_id=job.project_id,
        job_name=job.name,
        run_name=f"sm-task-{uuid.uuid4()}",
        env=env or {},
        timeout_seconds=timeout,
    )


def _finished(run: JobRun, timeout: float = 60) -> JobRun:
    return wait_until(
        lambda: JobRun.objects.filter(pk=run.pk, status__in=ce.FINISHED_RUN_STATUSES).first(),
        timeout=timeout,
        what=f"run {run.name} to finish",
    )


def test_at_most_the_bound_runs_at_once_and_the_others_wait_in_order(project, gate, settings):
    settings.SM_JOB_MAX_CONCURRENT_RUNS = 2
    pool.reset_stats()
    job = _job(project, HOLD)
    runs = [_start(job, env={"RELEASE": str(gate / f"release-{i}")}) for i in range(5)]
    pks = [run.pk for run in runs]

    def statuses() -> Counter[str]:
        return Counter(JobRun.objects.filter(pk__in=pks).values_list("status", flat=True))

    for i, run in enumerate(runs):
        running = min(2, len(runs) - i)
        wait_until(
            lambda run=run, running=running: (
                statuses()[RunStatus.RUNNING] == running
                and JobRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).exists()
            ),
            what=f"run {i} to start, with {running} running",
        )
        now = statuses()
        assert now[RunStatus.RUNNING] == running, now
        # Beyond the bound, runs wait (Pending), they do not fail.
        assert now[RunStatus.PENDING] == len(runs) - i - running, now
        assert now[RunStatus.FAILED] == now[RunStatus.TIMED_OUT] == 0, now
        (gate / f"release-{i}").write_text("go")
        assert _finished(run).status == RunStatus.SUCCEEDED

    ended = list(JobRun.objects.filter(pk__in=pks).order_by("started_at"))
    assert all(r.status == RunStatus.SUCCEEDED and "released" in r.stdout for r in ended)
    assert [r.pk for r in ended] == pks, "first come, first served"
    for run in ended:  # never more than two runs' lifetimes overlap
        overlapping = [r for r in ended if r.started_at <= run.started_at < r.ended_at]
        assert len(overlapping) <= 2
    assert pool.most_at_once == 2
    assert pool.wait_idle(timeout=10) and pool.counts() == (0, 0)


def test_a_run_whose_deadline_passes_while_it_waits_ends_timed_out_unstarted(
    project, gate, settings, outcomes
):
    settings.SM_JOB_MAX_CONCURRENT_RUNS = 1
    holder = _start(_job(project, HOLD), env={"RELEASE": str(gate / "release")})
    late = _start(_job(project, "print('never')"), timeout=1)
    wait_until(
        lambda: JobRun.objects.filter(pk=holder.pk, status=RunStatus.RUNNING).exists(),
        what="the first run to start",
    )
    wait_until(lambda: timezone.now() > late.deadline, what="the second run's deadline")
    assert JobRun.objects.get(pk=late.pk).status == RunStatus.PENDING
    (gate / "release").write_text("go")
    ended = _finished(late)
    assert ended.status == RunStatus.TIMED_OUT
    assert ended.started_at is None and ended.pid is None and ended.stdout == ""
    assert "did not start" in ended.stderr and "SM_JOB_MAX_CONCURRENT_RUNS" in ended.stderr
    wait_until(lambda: any(o.run_name == late.name for o in outcomes), what="the announcement")
    outcome = next(o for o in outcomes if o.run_name == late.name)
    assert outcome.timed_out and outcome.exit_code is None and outcome.timeout_seconds == 1
    assert _finished(holder).status == RunStatus.SUCCEEDED


def test_the_timeout_kills_the_whole_process_group(project):
    marker = f"grandchild-{uuid.uuid4().hex}"
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])\n"
        "print('spawned', flush=True)\n"
        "time.sleep(600)\n"
    )
    run = _start(_job(project, script), timeout=2)

    def marked() -> list[str]:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if marker.encode() in cmdline.read_bytes():
                    found.append(cmdline.parent.name)
            except OSError:
                continue  # ended meanwhile
        return found

    wait_until(marked, what="the job's own child process")
    ended = _finished(run, timeout=30)
    assert ended.status == RunStatus.TIMED_OUT and "spawned" in ended.stdout
    wait_until(lambda: not marked(), timeout=10, what="the job's child to be killed too")
    # The run's directory goes right after its end is recorded (the supervisor reads the logs
    # from it into that record first), so a moment after the status may be seen.
    wait_until(
        lambda: not ce._run_dir(ended).exists(), timeout=10, what="the run's directory to go"
    )


def test_the_job_environment_is_minimal_and_its_secrets_are_redacted_in_the_logs(project):
    api_key = "run-secret-" + uuid.uuid4().hex
    password = "db-" + uuid.uuid4().hex
    script = (
        "import json, os\n"
        "print(json.dumps(sorted(os.environ)))\n"
        "print(os.environ['SM_ACCESS_APIKEY'], os.environ['DB_PASSWORD'], flush=True)\n"
    )
    run = _start(
        _job(project, script, {"DB_PASSWORD": password}), env={"SM_ACCESS_APIKEY": api_key}
    )
    ended = _finished(run)
    assert ended.status == RunStatus.SUCCEEDED, ended.stderr
    names, values = ended.stdout.strip().splitlines()
    # bwrap sets PWD where it starts the job (its home).
    assert set(json.loads(names)) - {"PWD"} == {
        "PATH",
        "LANG",
        "HOME",
        "TMPDIR",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "CE_REMOVE_COMPLETED_JOBS",
        "DB_PASSWORD",
        "SM_ACCESS_APIKEY",
    }
    assert values == "[redacted] [redacted]"
    assert api_key not in ended.stdout + ended.stderr and password not in ended.stdout


def test_a_run_whose_supervision_breaks_off_ends_failed_and_the_log_is_redacted(
    project, monkeypatch, caplog
):
    api_key = "run-secret-" + uuid.uuid4().hex

    def broken(plan, home):
        raise RuntimeError(f"cannot prepare {home} with {api_key}")

    monkeypatch.setattr(ce.sandbox, "prepare_home", broken)
    with caplog.at_level(logging.ERROR):
        run = _start(_job(project, "print('never')"), env={"SM_ACCESS_APIKEY": api_key})
        ended = _finished(run)
        assert pool.wait_idle(timeout=10)
    assert ended.status == RunStatus.FAILED and "supervision of this run failed" in ended.stderr
    assert "supervision failed" in caplog.text and "RuntimeError" in caplog.text
    assert api_key not in caplog.text and "[redacted]" in caplog.text


def test_the_cleanup_ends_a_pending_run_whose_supervising_process_went(project):
    job = _job(project, "print('never')")
    now = timezone.now()
    run = JobRun.objects.create(
        name=f"sm-task-{uuid.uuid4()}",
        project=project,
        job=job,
        status=RunStatus.PENDING,
        timeout_seconds=60,
        deadline=now,
    )
    assert ce.job_runs_cleanup(now=now)["orphaned"] == 0  # within the grace period: left alone
    later = now + datetime.timedelta(seconds=ce.SUPERVISOR_GRACE_SECONDS + 1)
    assert ce.job_runs_cleanup(now=later)["orphaned"] == 1
    ended = JobRun.objects.get(pk=run.pk)
    assert ended.status == RunStatus.TIMED_OUT and ended.ended_at == later
    assert "never started" in ended.stderr
    assert ended.remove_after == later + datetime.timedelta(days=1)


def test_runs_go_at_once_up_to_the_default_bound(project, gate):
    """The default bound lets several runs of one process go side by side."""
    assert django_settings.SM_JOB_MAX_CONCURRENT_RUNS >= 2
    job = _job(project, HOLD)
    runs = [_start(job, env={"RELEASE": str(gate / "all")}) for _ in range(2)]
    wait_until(
        lambda: (
            JobRun.objects.filter(pk__in=[r.pk for r in runs], status=RunStatus.RUNNING).count()
            == 2
        ),
        what="both runs to go at once",
    )
    (gate / "all").write_text("go")
    assert all(_finished(run).status == RunStatus.SUCCEEDED for run in runs)


def _supervising_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("job-run-")]


def test_runs_one_after_another_reuse_a_thread_and_its_database_connection(project, monkeypatch):
    """Issue 13: a thread (and so a database connection; on PostgreSQL a server process) per
    run cost every activation a connect. An idle thread waits for the next run; draining the
    pool (wait_idle) ends it at once, not after IDLE_SECONDS."""
    import threading

    from django.db import connection

    from engines_app.providers.embedded.code_engine import supervisor

    monkeypatch.setattr(supervisor, "IDLE_SECONDS", 600.0)
    seen: list[tuple[int, int]] = []
    real = ce.job_run_supervise

    def spy(**kwargs):
        outcome = real(**kwargs)
        seen.append((threading.get_ident(), id(connection.connection)))
        return outcome

    monkeypatch.setattr(ce, "job_run_supervise", spy)
    job = _job(project, "print('hi')")
    for _ in range(3):
        assert _finished(_start(job)).status == RunStatus.SUCCEEDED
        wait_until(lambda: pool.counts() == (0, 0) and len(seen) > 0, what="the run's end")
    assert len(seen) == 3 and len(set(seen)) == 1, seen
    assert _supervising_threads() == ["job-run-1"]  # idle, still there
    assert pool.wait_idle(timeout=30) and _supervising_threads() == []


def test_an_idle_supervising_thread_ends_after_idle_seconds(project, monkeypatch):
    from engines_app.providers.embedded.code_engine import supervisor

    monkeypatch.setattr(supervisor, "IDLE_SECONDS", 0.3)
    assert _finished(_start(_job(project, "print('hi')"))).status == RunStatus.SUCCEEDED
    wait_until(lambda: not _supervising_threads(), timeout=20, what="the idle thread to end")
