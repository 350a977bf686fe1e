"""Which repeated reports are answered as repeats (secrets_app/services/task_reports.py).

The report that finished a task, sent again, returns the task unchanged; any other report on a
finished task is still refused with 400 (TaskStateError). The end-to-end cases, a lost answer and
eight racing copies, are in test_job_faults.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from console.identity import Actor
from engines_app.providers.embedded.iam.models import ServiceId
from engines_app.providers.iam import Principal, get_iam
from secrets_app import seed
from secrets_app.models import SecretGroup, SecretTask, TaskStatus
from secrets_app.services.custom_credentials import (
    TaskStateError,
    custom_credentials_secret_create,
    secret_task_report,
)
from tests.faults.consistency import assert_consistent

pytestmark = pytest.mark.django_db

ADMIN = Actor(iam_id="IBMid-0000000999", name="test-admin", system=True)
CREATED = {
    "status": "credentials_created",
    "credentials": {"id": "tok-1", "payload": {"token": "tks_first"}},
}
FAILED = {"status": "failed", "errors": [{"code": "ERR10001", "description": "no such user"}]}


@pytest.fixture
def job() -> Principal:
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key_secret = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key_secret)
    sid = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    return get_iam().principal_for_actor(Actor(iam_id=sid.iam_id, name=sid.name))


def new_task() -> SecretTask:
    secret = custom_credentials_secret_create(
        actor=ADMIN,
        name="repeats",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=SecretGroup.objects.get(name=seed.PROVIDER_GROUP).pk,
    )
    return secret.tasks.get()


def report(job: Principal, task: SecretTask, body: dict[str, Any]) -> SecretTask:
    return secret_task_report(principal=job, secret_id=task.secret_id, task_id=task.pk, body=body)


def test_the_created_report_again_is_a_repeat_and_other_credentials_are_refused(job):
    task = new_task()
    first = report(job, task, CREATED)
    again = report(job, task, CREATED)
    assert again.pk == first.pk and again.status == TaskStatus.CREDENTIALS_CREATED
    assert again.last_update_date == first.last_update_date, "a repeat writes nothing"
    for other in (
        {**CREATED, "credentials": {"id": "tok-1", "payload": {"token": "tks_other"}}},
        {**CREATED, "credentials": {"id": "tok-2", "payload": {"token": "tks_first"}}},
        FAILED,
    ):
        with pytest.raises(TaskStateError):
            report(job, task, other)
    state = assert_consistent(task.secret)
    assert state.statuses == [TaskStatus.CREDENTIALS_CREATED] and len(state.versions) == 1
    assert SecretTask.objects.get(pk=task.pk).no_retry, "the refusals told the job: no retry"


def test_the_failed_report_again_is_a_repeat_and_other_errors_are_refused(job):
    task = new_task()
    report(job, task, FAILED)
    assert report(job, task, FAILED).errors == FAILED["errors"]
    assert not SecretTask.objects.get(pk=task.pk).no_retry
    with pytest.raises(TaskStateError):
        report(job, task, {**FAILED, "errors": [{"code": "ERR10002", "description": "other"}]})
    with pytest.raises(TaskStateError):
        report(job, task, CREATED)
    state = assert_consistent(task.secret)
    assert state.statuses == [TaskStatus.FAILED] and state.codes == ["ERR10001"]
    assert state.versions == []
