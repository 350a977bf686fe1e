"""Fixtures of the failed-task inbox tests: the lifecycle tests' clock, personas and custom
credentials world (a Code Engine that records runs; the tests play the job), and failed tasks
of two error codes, one of them a delete task on the retry ladder."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from secrets_app.models import Secret, SecretTask, TaskType
from secrets_app.services.rotation import secret_rotate
from tests.lifecycle import conftest as lifecycle
from tests.lifecycle import factories as f

# The lifecycle tests' fixtures: the stopped clock (autouse), personas and the custom world.
clock = lifecycle.clock
code_engine = lifecycle.code_engine
custom_world = lifecycle.custom_world
group = lifecycle.group
manager = lifecycle.manager
people = lifecycle.people
writer = lifecycle.writer


def client_for(principal_name: str) -> Client:
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.get(username=principal_name))
    return client


@pytest.fixture
def clients(people) -> dict[str, Client]:
    return {
        role: client_for(f"lc-{role.lower()}")
        for role in ("Reader", "SecretsReader", "Writer", "Manager", "nobody")
    }


def other_group(name: str):
    """Another secret group, the job allowed to report on its tasks too."""
    from engines_app.providers.embedded.iam.models import ServiceId
    from engines_app.providers.iam import get_iam
    from secrets_app import seed
    from tests.factories import create_group
    from tests.lifecycle.factories import ADMIN

    made = create_group(name=name)
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    get_iam().grant(
        actor=ADMIN, role="SecretTaskUpdater", service_id=job.pk, secret_group_id=made.pk
    )
    return made


def failed_create(group, *, code: str = "ERR10004", name: str | None = None) -> SecretTask:
    """A custom secret whose first create task failed with `code`."""
    secret = f.custom_secret(group=group, name=name)
    return f.report_failed(f.latest_task(secret, TaskType.CREATE_CREDENTIALS), code=code)


def failed_delete(group, writer, *, code: str = "ERR10002") -> tuple[Secret, SecretTask]:
    """An active secret on version 3 whose version 1 delete task failed: on the ladder."""
    secret = f.activate(f.custom_secret(group=group), credentials_id="tok-1")
    for n in (2, 3):
        f.report_created(
            secret_rotate(principal=writer, secret_id=secret.pk).task,
            credentials_id=f"tok-{n}",
            token=f"token-{n}",
        )
    task = f.report_failed(f.latest_task(secret, TaskType.DELETE_CREDENTIALS), code=code)
    return secret, task


@pytest.fixture
def failures(group, writer, custom_world) -> dict[str, Any]:
    """Two creates failed with ERR10004 and one delete with ERR10002 (on the ladder)."""
    creates = [failed_create(group), failed_create(group)]
    secret, delete = failed_delete(group, writer)
    return {"creates": creates, "delete": delete, "delete_secret": secret}
