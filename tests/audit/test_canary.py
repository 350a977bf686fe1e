"""Never a value: canary values go through every audited path (reads in the console and the API,
keys minted, tokens issued, a job's sealed variables, the job's access key, credentials a job
reports, refused reads), and no audit row, detail included, nor any export contains one."""

from __future__ import annotations

import json
import secrets

import pytest
from django.test import Client

from console.identity import Actor
from console.models import AuditEvent
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.iam import services as iam
from secrets_app import services
from secrets_app.models import TaskType
from tests.audit.conftest import bearer_headers
from tests.factories import create_secret, create_user, grant
from tests.lifecycle import factories as f

pytestmark = pytest.mark.django_db

SETUP = Actor(iam_id="IBMid-0000000996", name="canary-setup", system=True)


def canary(label: str) -> str:
    return f"CANARY-{label}-{secrets.token_hex(12)}"


def test_no_audit_row_nor_export_holds_a_value(custom_world, iam_engine, api_as, auditor_client):
    values: list[str] = []
    client = Client()

    # An arbitrary secret, rotated, revealed in the console and read twice through the API.
    first, second = canary("payload"), canary("rotated")
    values += [first, second]
    secret = create_secret(name="canary-control-name", payload=first)
    services.arbitrary_secret_rotate(actor=SETUP, secret_id=secret.pk, payload=second)
    reader = create_user(username="canary-reader")
    grant(reader, "SecretsReader")
    console = Client()
    console.force_login(reader)
    shown = console.post(
        f"/secrets/{secret.pk}/reveal/", {"version": "previous", "reason": "canary check"}
    )
    assert first in shown.content.decode()
    headers, _ = api_as("SecretsReader")
    assert second in client.get(f"/api/v2/secrets/{secret.pk}", headers=headers).content.decode()
    version = secret.versions.get(alias="previous")
    read = client.get(f"/api/v2/secrets/{secret.pk}/versions/{version.pk}", headers=headers)
    assert first in read.content.decode()

    # Refused reads of the same value.
    weak, _ = api_as("Reader")
    assert client.get(f"/api/v2/secrets/{secret.pk}", headers=weak).status_code == 403

    # An API key minted by hand, and a token issued for it.
    sid = iam.service_id_create(actor=SETUP, name="canary-sid")
    _, key_value = iam.api_key_create(actor=SETUP, name="canary-key", service_id=sid)
    values.append(key_value)
    token = client.post(
        "/identity/token",
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": key_value},
    ).json()["access_token"]
    values.append(token)
    values.append(bearer_headers(sid)["Authorization"].removeprefix("Bearer "))

    # The IAM engine's API key, read by a Manager through the API.
    manager, _ = api_as("Manager")
    config = client.get(f"/api/v2/configurations/{iam_engine.name}", headers=manager).json()
    values.append(config["api_key"])

    # A job's sealed variable, set and changed.
    sealed, resealed = canary("job-env"), canary("job-env-2")
    values += [sealed, resealed]
    project = custom_world["project"]
    job = ce.job_create(
        actor=SETUP,
        project=project,
        name="canary-job",
        command=["{python}", "-c", "pass"],
        env={"DB_PASSWORD": sealed},
    )
    ce.job_set_env(
        actor=SETUP, project_id=project.pk, job_name=job.name, env={"DB_PASSWORD": resealed}
    )

    # The job's access key (read for its run), and credentials a job reports.
    token_value = canary("job-credentials")
    values.append(token_value)
    custom = f.custom_secret(group=custom_world["key_secret"].secret_group)
    task = f.latest_task(custom, TaskType.CREATE_CREDENTIALS)
    env = f.dispatch(task)
    values.append(env["SM_ACCESS_APIKEY"])
    f.report(
        task,
        {
            "status": "credentials_created",
            "credentials": {"id": "canary-cred", "payload": {"token": token_value}},
        },
    )

    events = list(AuditEvent.objects.all())
    texts = [json.dumps({k: str(v) for k, v in e.__dict__.items()}) for e in events]
    # The control: the scan does see what the log is meant to hold.
    assert any("canary-control-name" in text for text in texts)
    assert {"secret.read_payload", "iam.api_key.create", "iam.token.issue"} <= {
        e.action for e in events
    }
    assert any(e.outcome == "denied" for e in events)
    exports = [
        b"".join(auditor_client.get(f"/audit/export.{fmt}").streaming_content).decode()
        for fmt in ("csv", "json")
    ]
    assert "canary-control-name" in exports[0] and "canary-control-name" in exports[1]
    page = auditor_client.get("/audit/").content.decode()
    for value in values:
        assert value and len(value) >= 20
        leaks = [t for t in texts if value in t]
        assert leaks == [], f"{value[:12]}… is in the audit log"
        assert all(value not in export for export in exports)
        assert value not in page
