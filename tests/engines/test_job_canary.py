"""The job's secret outputs and its API key appear nowhere but in the encrypted version."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django_q.models import Task

from console.models import AuditEvent
from engines_app.providers.embedded.code_engine.models import FINISHED_RUN_STATUSES, JobRun
from secrets_app import seed
from secrets_app.models import Secret, SecretVersion
from secrets_app.services import secret_version_payload_read
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from tests.cloud_fixtures import wait_for_task, wait_until
from tests.factories import create_user, factory_actor

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_outputs_and_api_key_leak_nowhere(cloud, q_sync, caplog, owner_client):
    caplog.set_level(logging.DEBUG)
    secrets_made = []
    for configuration, parameters in [
        ("token-provider", {"user_name": "alice"}),
        ("certificate-provider", {"common_name": "canary.example.com"}),
    ]:
        secret = custom_credentials_secret_create(
            actor=cloud["actor"],
            name=f"canary-{configuration}",
            configuration=configuration,
            parameters=parameters,
            secret_group_id=cloud["group"].pk,
        )
        assert wait_for_task(secret.pk).status == "credentials_created"
        secrets_made.append(secret)

    reader = factory_actor()
    canaries = []
    for secret in secrets_made:
        payload = secret_version_payload_read(
            actor=reader, version_id=SecretVersion.objects.get(secret=secret).pk
        )
        canaries += list(payload.values())
        canaries += [
            base64.b64decode(v).decode() for k, v in payload.items() if k.endswith("_base64")
        ]
    key_secret = Secret.objects.get(name=seed.JOB_KEY_SECRET)
    canaries.append(
        secret_version_payload_read(actor=reader, version_id=key_secret.versions.get().pk)[
            "api_key"
        ]
    )
    assert len(canaries) == 6 and all(len(c) >= 20 for c in canaries)

    staff = Client()
    staff.force_login(
        create_user(username="auditor", manage_groups=True)
    )  # Manager: may open the run pages
    # The job reports before it exits: the scan looks at what the runs leave once they ended.
    wait_until(
        lambda: not JobRun.objects.exclude(status__in=FINISHED_RUN_STATUSES).exists(),
        what="the runs to end",
    )
    runs = list(JobRun.objects.all())
    q_tasks = list(Task.objects.all())
    assert len(runs) == 2 and len(q_tasks) >= 2, "the places scanned really hold the runs' records"
    places = {
        "log records": "\n".join(r.getMessage() for r in caplog.records),
        "job run logs": "\n".join(r.stdout + r.stderr for r in runs),
        # Runs are supervised in this process (its log records are above); what they leave in
        # the job runs' folder is scanned too.
        "job runs folder": "\n".join(
            path.read_text(errors="replace")
            for path in Path(settings.JOB_LOG_DIR).rglob("*")
            if path.is_file()
        ),
        "django-q2 tasks": "\n".join(f"{t.args!r} {t.kwargs!r} {t.result!r}" for t in q_tasks),
        "audit events": json.dumps(list(AuditEvent.objects.values()), default=str),
        "service instances page": owner_client.get("/cloud/service-instances/").content.decode(),
        "job run pages": "\n".join(
            staff.get(url).content.decode()
            for url in [
                "/cloud/code-engine/runs/",
                *(f"/cloud/code-engine/runs/{r.pk}/" for r in runs),
            ]
        ),
    }
    assert all(r.name in places["job run pages"] for r in runs), "the run pages show the runs"
    assert "canary-token-provider" in places["audit events"], "the audit log names the secret"
    for name, text in places.items():
        for canary in canaries:
            assert canary not in text, f"a secret value leaked into {name}"
