"""Faults of a credentials provider job: it crashes without calling back, or calls back twice.

The other job faults are proven where the job runner and the protocol are tested, each ending
with the same `assert_consistent`:
- a job that hangs past its timeout (killed at the deadline, task failed with task_timeout) and
  its callback after the timeout (400, nothing changes): tests/engines/test_job_protocol.py
  `test_hanging_job_is_killed_at_the_timeout_and_a_late_callback_is_refused`;
- the sweep that fails a task whose timeout passed while no supervisor was left to do it, and a
  late callback on it: `test_sweep_fails_tasks_past_their_timeout_and_late_callbacks_change_nothing`
  in the same file;
- a different report on a finished task (400): `test_callback_errors` there.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid

import pytest
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator

from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
from engines_app.providers.embedded.iam import services as iam
from secrets_app.models import SecretState, SecretTask, TaskStatus
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from secrets_app.services.task_queue import status_entry
from tests.cloud_fixtures import wait_for_task, wait_until
from tests.faults.consistency import assert_consistent
from tests.faults.jobs import CRASHING, job_configuration, token_is_live

pytestmark = pytest.mark.django_db(transaction=True)


def create_secret(cloud, configuration: str, user_name: str = "alice"):
    return custom_credentials_secret_create(
        actor=cloud["actor"],
        name=f"fault-{uuid.uuid4().hex[:8]}",
        configuration=configuration,
        parameters={"user_name": user_name},
        secret_group_id=cloud["group"].pk,
    )


def ended_run(task_id: str) -> JobRun:
    return wait_until(
        lambda: JobRun.objects.filter(name=task_id, ended_at__isnull=False).first(),
        what=f"the job run {task_id} to end",
    )


def test_a_job_that_crashes_without_calling_back_fails_its_task(cloud, q_sync):
    job_configuration(cloud, name="crasher", script=CRASHING)
    secret = create_secret(cloud, "crasher")

    task = wait_for_task(secret.pk)
    run = ended_run(task.pk)
    assert run.status == RunStatus.FAILED and run.exit_code != 0
    assert "about to crash" in run.stdout
    assert task.status == TaskStatus.FAILED
    assert task.errors[0]["code"] == "job_exited_without_result"
    assert f"exited with code {run.exit_code} without reporting" in task.errors[0]["description"]
    state = assert_consistent(secret)
    assert state.secret.state == SecretState.PRE_ACTIVATION and state.versions == []


def test_a_report_whose_answer_was_lost_is_repeated_and_nothing_is_undone(
    cloud, q_sync, lossy_proxy
):
    """The job's first report is applied but its answer never arrives; the job retries it (a
    connection error is retryable) and hears 200, so it keeps the token it created. Before the
    repeat was recognised, the retry got 400 and the job revoked the token that the secret's
    current version holds."""
    proxy = lossy_proxy(lambda method, path, before: method == "PUT" and before == 0)
    secret = create_secret(cloud, "token-provider")

    task = wait_for_task(secret.pk)
    run = ended_run(task.pk)
    reports = proxy.seen("PUT", f"/tasks/{task.pk}")
    assert [(e.status, e.dropped) for e in reports] == [(200, True), (200, False)]
    assert run.status == RunStatus.SUCCEEDED and run.exit_code == 0, run.stderr
    assert "connection error" in run.stderr and "retrying" in run.stderr
    assert "undoing" not in run.stderr
    state = assert_consistent(secret)
    assert state.statuses == [TaskStatus.CREDENTIALS_CREATED]
    assert state.secret.state == SecretState.ACTIVE and len(state.versions) == 1
    assert state.current is not None and token_is_live(state.current), "the token was revoked"


def _put(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_the_same_report_sent_at_once_by_many_stores_one_version(cloud):
    """Eight copies of one credentials_created report race (a job and its retries, or a
    redelivering proxy): one applies, the others are answered as the repeats they are."""
    secret = create_secret(cloud, "token-provider")  # no worker: the test plays the job
    task = secret.tasks.get()
    SecretTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.PROCESSING,
        status_history=[*task.status_history, status_entry(TaskStatus.PROCESSING)],
    )
    _, key = iam.api_key_create(
        actor=cloud["actor"], name="job", service_id=cloud["job_service_id"]
    )
    token = IAMAuthenticator(key, url=cloud["url"]).token_manager.get_token()
    url = f"{cloud['url']}/api/v2/secrets/{secret.pk}/tasks/{task.pk}"
    body = {
        "status": "credentials_created",
        "credentials": {"id": "tok-1", "payload": {"token": "tks_the-one-token"}},
    }
    answers: list[tuple[int, dict]] = []
    start = threading.Barrier(8)

    def report() -> None:
        start.wait(timeout=30)
        answers.append(_put(url, token, body))

    threads = [threading.Thread(target=report) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [status for status, _ in answers] == [200] * 8, answers
    assert {answer["status"] for _, answer in answers} == {"credentials_created"}
    assert all(answer["updated_by"] for _, answer in answers)
    assert not SecretTask.objects.get(pk=task.pk).no_retry, "a repeat is no refusal"

    # A different report on the finished task is still refused, and changes nothing.
    other = {**body, "credentials": {"id": "tok-2", "payload": {"token": "tks_another"}}}
    status, error = _put(url, token, other)
    assert status == 400 and "already credentials_created" in error["errors"][0]["message"]
    state = assert_consistent(secret)
    assert state.statuses == [TaskStatus.CREDENTIALS_CREATED] and len(state.versions) == 1
    assert state.current is not None and state.current.credentials_id == "tok-1"
