"""What an activation costs the database: the job's report (PUT .../tasks/{id}), the dispatch
that starts its run, and the role lookups of an API call, each a fixed number of queries
(issue 13: the burst of activations is bound by CPU, and every query costs some of it).

The requests go through the in-process test client, so that the queries are captured on this
thread's connection; the same endpoints through the official SDK are tests/api/test_tasks.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from engines_app.providers.embedded.iam import services as iam
from secrets_app.models import Secret, SecretState, SecretTask, TaskStatus
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_dispatch,
)
from tests.api.conftest import SETUP

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def _queued(cloud: dict[str, Any]) -> tuple[Secret, SecretTask]:
    secret = custom_credentials_secret_create(
        actor=SETUP,
        name=f"queries-{uuid.uuid4().hex[:8]}",
        configuration="token-provider",
        parameters={"user_name": "alice"},
        secret_group_id=cloud["group"].pk,
    )
    return secret, secret.tasks.get()


def _bearer(client: Client, service_id: Any) -> str:
    _, key = iam.api_key_create(actor=SETUP, name="queries", service_id=service_id)
    answer = client.post("/identity/token", {"grant_type": TOKEN_GRANT, "apikey": key})
    assert answer.status_code == 200, answer.content
    return f"Bearer {answer.json()['access_token']}"


def _policy_lookups(queries: CaptureQueriesContext) -> int:
    return sum('FROM "iam_accesspolicy"' in q["sql"] for q in queries.captured_queries)


def test_the_jobs_report_activates_the_secret_in_14_queries(cloud):
    secret, task = _queued(cloud)
    client = Client()
    bearer = _bearer(client, cloud["job_service_id"])
    body = {
        "status": "credentials_created",
        "credentials": {"id": "c-1", "payload": {"token": "t"}},
    }
    with CaptureQueriesContext(connection) as queries:
        answer = client.put(
            f"/api/v2/secrets/{secret.pk}/tasks/{task.pk}",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=bearer,
        )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == TaskStatus.CREDENTIALS_CREATED
    # The token's key, the transaction, task and secret (joined), the roles once, the locked
    # secret, the previous version, the aliases, the newest serials, the version, one update
    # of the secret (state and count together), the task, the run's report and the audit.
    assert len(queries.captured_queries) == 14, [q["sql"][:80] for q in queries.captured_queries]
    assert _policy_lookups(queries) == 1
    secret.refresh_from_db()
    assert secret.state == SecretState.ACTIVE and secret.versions_total == 1


def test_a_report_on_a_missing_task_or_secret_still_answers_404(cloud):
    secret, task = _queued(cloud)
    client = Client()
    bearer = _bearer(client, cloud["job_service_id"])
    body = json.dumps({"status": "failed", "errors": [{"code": "E1", "description": "x"}]})

    def put(secret_id: object, task_id: str) -> dict[str, Any]:
        answer = client.put(
            f"/api/v2/secrets/{secret_id}/tasks/{task_id}",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=bearer,
        )
        assert answer.status_code == 404, answer.content
        return answer.json()["errors"][0]

    no_task = f"sm-task-{uuid.UUID(int=0)}"
    assert put(secret.pk, no_task)["message"] == f"Secret {secret.pk} has no task {no_task}."
    gone = uuid.uuid4()
    assert put(gone, task.pk)["message"] == f"Secret {gone} does not exist."
    assert SecretTask.objects.get(pk=task.pk).status == TaskStatus.QUEUED


def test_the_dispatch_starts_the_run_in_18_queries(cloud, settings):
    settings.SM_JOB_SANDBOX = "off"  # only its queries matter here
    _, task = _queued(cloud)
    with CaptureQueriesContext(connection) as queries:
        assert secret_task_dispatch(task_id=task.pk) == "started"
    # The claim, the task with its secret, the service authorization, the audited read of the
    # job's API key (7, its transaction included), the job with its project, and the run's
    # record (6: its transaction, the lookup, a savepoint, the row and the audit).
    assert len(queries.captured_queries) == 18, [q["sql"][:80] for q in queries.captured_queries]


def test_an_api_read_looks_up_the_callers_roles_once(cloud, settings):
    secret, _ = _queued(cloud)
    reader = iam.service_id_create(actor=SETUP, name="queries-reader")
    iam.policy_grant(
        actor=SETUP, role="Reader", secret_group_id=cloud["group"].pk, service_id=reader
    )
    client = Client()
    bearer = _bearer(client, reader)
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(f"/api/v2/secrets/{secret.pk}/metadata", HTTP_AUTHORIZATION=bearer)
    assert answer.status_code == 200, answer.content
    assert _policy_lookups(queries) == 1
    # Too weak a role is still a 403 that names the role, after the same single lookup.
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(f"/api/v2/secrets/{secret.pk}", HTTP_AUTHORIZATION=bearer)
    assert answer.status_code == 403 and "SecretsReader" in answer.json()["errors"][0]["message"]
    assert _policy_lookups(queries) == 1
