"""The world the bad-input tables post into: the demo's embedded cloud and secrets of every kind,
plus objects of the tests' own (a group, an arbitrary secret with two versions and a lock, a Code
Engine project and job, a service ID with an API key), and a Manager signed in to the console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from console.identity import Actor
from engines_app.models import Configuration
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, Project
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessPolicy, ApiKey, ServiceId
from engines_app.providers.iam import get_iam
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup, SecretTask, SecretType, TaskStatus, TaskType
from secrets_app.services.locks import locks_create
from secrets_app.services.rotation import secret_rotate
from tests.factories import create_group, create_secret, create_user

ADMIN = Actor(iam_id="IBMid-0000000999", name="bad-input-admin", system=True)
PASSWORD = "correct-horse-battery"


@dataclass
class World:
    client: Client
    owner: Any
    group: SecretGroup
    arbitrary: Secret  # two versions; the current one holds the lock "held"
    unlocked: Secret  # arbitrary, one version, no lock (the demo's expiring note)
    custom: Secret  # custom credentials (token-provider), active, three versions
    iam_secret: Secret  # IAM credentials, reuse on
    failed_task: SecretTask  # a failed create task, unresolved
    failed_delete: SecretTask  # a failed delete task, unresolved
    config: Configuration
    project: Project
    job: Job
    service_id: ServiceId
    api_key: ApiKey
    policy: AccessPolicy  # Reader for service_id on group

    def version(self, secret: Secret, alias: str = "current") -> Any:
        return secret.versions.get(alias=alias)


@pytest.fixture
def world(db) -> World:
    seed.seed_embedded_cloud(actor=ADMIN)
    owner = create_user(username="bad-input-owner", password=PASSWORD, manage_groups=True)
    group = create_group(name="bad-input-group", description="The bad-input tests' group")
    arbitrary = create_secret(name="bad-input-value", group=group, payload="first-value")
    principal = get_iam().principal_for_actor(ADMIN)
    secret_rotate(principal=principal, secret_id=arbitrary.pk, payload="second-value")
    locks_create(
        principal=principal,
        secret_id=arbitrary.pk,
        locks=[{"name": "held", "description": "by the tests", "attributes": {"k": "v"}}],
    )
    project = ce.project_create(actor=ADMIN, name="bad-input-project", region="us-south")
    job = ce.job_create(
        actor=ADMIN,
        project=project,
        name="bad-input-job",
        command=["true"],
        env={
            "SMIN_USER": "type:string, required:true",
            "SMOUT_TOKEN": "type:string, required:true",
        },
    )
    service_id = iam.service_id_create(actor=ADMIN, name="bad-input-app")
    api_key, _ = iam.api_key_create(actor=ADMIN, name="bad-input-key", service_id=service_id)
    policy = iam.policy_grant(
        actor=ADMIN, role="Reader", secret_group_id=group.pk, service_id=service_id
    )
    client = Client()
    client.force_login(owner)
    assert client.get("/secrets/").status_code == 200  # the owner's IAM identity exists now
    failed = SecretTask.objects.filter(
        secret__name=seed.INBOX_FAILING[0], status=TaskStatus.FAILED
    ).get()
    return World(
        client=client,
        owner=owner,
        group=group,
        arbitrary=arbitrary,
        unlocked=Secret.objects.get(secret_type=SecretType.ARBITRARY, name=seed.EXPIRING_NOTE),
        custom=Secret.objects.get(
            secret_type=SecretType.CUSTOM_CREDENTIALS, name=seed.INBOX_HISTORY
        ),
        iam_secret=Secret.objects.get(
            secret_type=SecretType.IAM_CREDENTIALS, name=seed.JOB_KEY_SECRET
        ),
        failed_task=failed,
        failed_delete=SecretTask.objects.get(
            secret__name=seed.INBOX_HISTORY,
            type=TaskType.DELETE_CREDENTIALS,
            status=TaskStatus.FAILED,
        ),
        config=Configuration.objects.get(name="token-provider"),
        project=project,
        job=job,
        service_id=service_id,
        api_key=api_key,
        policy=policy,
    )
