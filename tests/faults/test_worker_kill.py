"""The worker (a real `manage.py qcluster`) killed with SIGKILL in the middle of a job run, then
restarted: the job dies with it, nothing is half-written, the orphaned task and run reach their
ends as the rules say, and the restarted worker carries on (the failed creation's retry runs).

The worker supervises the run in a thread (code_engine/supervisor.py); the sandbox's
--die-with-parent ends the job with it. Nobody is left to end the run or fail the task, so the
backstops do, with the times the rules give: the sweep fails a processing task at its task
timeout (sm-api.md §5.7), and the run cleanup ends a running run a grace period after its
deadline. A creation that failed is not retried by itself (§5.7, UNVERIFIED there); a person
retries it from the failed-task inbox.

The scheduler of the restarted worker would run both backstops within a minute; the test queues
them itself, and lets their time pass by moving the task's claim and the run's deadline back by
it (the timeout is 10 minutes).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db.models import F
from django_q.models import Task
from django_q.tasks import async_task

from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
from engines_app.providers.iam import get_iam
from secrets_app.models import Secret, SecretState, SecretTask, TaskResolution, TaskStatus
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from secrets_app.services.inbox import task_retry
from tests.cloud_fixtures import wait_for_task, wait_until
from tests.factories import create_user, grant
from tests.faults.consistency import assert_consistent
from tests.faults.jobs import (
    GATED,
    job_configuration,
    pid_alive,
    processes_of,
    raw_output,
    token_is_live,
)

pytestmark = pytest.mark.django_db(transaction=True)

SWEEP = "secrets_app.tasks.sweep"
RUN_CLEANUP = "engines_app.providers.embedded.code_engine.tasks.cleanup_job_runs"


def run_on_worker(func: str) -> str:
    """Queue a scheduled task's function for the worker and wait until it ran; its result."""
    task_id = async_task(func)
    done = wait_until(
        lambda: Task.objects.filter(id=task_id).first(), timeout=60, what=f"{func} to run"
    )
    assert done.success, done.result
    return str(done.result)


def test_a_worker_killed_in_the_middle_of_a_job_run_then_restarted(cloud, gate, workers):
    job_configuration(cloud, name="gated", script=GATED, gate=gate)
    first = workers.start()
    secret = custom_credentials_secret_create(
        actor=cloud["actor"],
        name=f"killed-{uuid.uuid4().hex[:8]}",
        configuration="gated",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    task = secret.tasks.get()
    wait_until(
        lambda: "waiting at the gate" in raw_output(task.pk),
        timeout=60,
        what="the worker to start the job",
    )
    run = JobRun.objects.get(name=task.pk)
    assert run.status == RunStatus.RUNNING and run.pid and processes_of(task.pk)
    assert run.sandboxed, "a job dies with its worker inside the sandbox (--die-with-parent)"

    workers.kill(first)
    wait_until(lambda: not processes_of(task.pk), what="the job to die with its worker")
    assert not pid_alive(run.pid)
    gate.open(task.pk)  # no job is left to go through it
    # Nothing was half-written: the task is still processing, its run still running.
    assert SecretTask.objects.get(pk=task.pk).status == TaskStatus.PROCESSING
    assert JobRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert Secret.objects.get(pk=secret.pk).versions_total == 0

    workers.start()
    timeout = timedelta(minutes=10, seconds=1)
    SecretTask.objects.filter(pk=task.pk).update(last_update_date=F("last_update_date") - timeout)
    grace = timedelta(seconds=ce.SUPERVISOR_GRACE_SECONDS + 1)
    JobRun.objects.filter(pk=run.pk).update(deadline=F("deadline") - timeout - grace)
    assert run_on_worker(SWEEP) == "timed-out tasks failed: 1"
    assert run_on_worker(RUN_CLEANUP) == "job runs removed: 0, orphaned: 1"

    orphan = JobRun.objects.get(pk=run.pk)
    assert orphan.status == RunStatus.TIMED_OUT and "supervisor of this run" in orphan.stderr
    state = assert_consistent(secret)
    assert state.statuses == [TaskStatus.FAILED] and state.codes == ["task_timeout"]
    assert state.secret.state == SecretState.PRE_ACTIVATION and state.versions == []
    assert run_on_worker(SWEEP) == "timed-out tasks failed: 0", "failed once"

    # The restarted worker carries on: the creation, retried from the inbox, runs to the end.
    writer = create_user(username="fault-writer")
    grant(writer, "Writer", group=cloud["group"])
    retry = task_retry(principal=get_iam().principal_for_user(writer), task_id=task.pk)
    wait_until(
        lambda: "waiting at the gate" in raw_output(retry.pk),
        timeout=60,
        what="the restarted worker to start the retry's job",
    )
    gate.open(retry.pk)
    finished = wait_for_task(secret.pk, timeout=60)
    assert finished.pk == retry.pk and finished.status == TaskStatus.CREDENTIALS_CREATED
    wait_until(
        lambda: JobRun.objects.filter(name=retry.pk, status=RunStatus.SUCCEEDED).exists(),
        what="the retry's run to succeed",
    )
    state = assert_consistent(secret)
    assert state.statuses == [TaskStatus.FAILED, TaskStatus.CREDENTIALS_CREATED]
    assert state.tasks[0].resolution == TaskResolution.SUCCEEDED_LATER
    assert state.secret.state == SecretState.ACTIVE and len(state.versions) == 1
    assert state.current is not None and token_is_live(state.current)
