"""The objects and personas the authorization matrix runs against (tests/authz/test_matrix.py).

Everything that a URL can name lives in secret group A ("team-a"): secrets of each type (an
arbitrary one on its second version, one with a lock, custom credentials ones with a finished, a
failed and a queued task, IAM and service credentials), a configuration, a Test configuration
run, a Code Engine project with a job and a run, a service instance, an API key and an access
policy of a bystander service ID, and wizard drafts of every kind for every persona (plus one of
another user, which nobody else may open).

The personas (PERSONAS, in the table's column order): anonymous; a Reader, a SecretsReader and
a Writer on group A; a Manager of the instance; a stranger (signed in, no role); and the job's
service ID, which holds SecretTaskUpdater on group A as a custom credentials job's identity
does. Console personas are users with a session; for the API each of them (the job included)
presents a bearer token obtained from POST /identity/token with an API key of its own.

Built through the services, like every factory of the suite; the matrix wraps the build in a
transaction it rolls back at the end of its module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse

from console.identity import Actor, actor_for_user
from console.wizards import draft_start, registered_wizards
from engines_app.models import Configuration, ConfigurationTest
from engines_app.providers.embedded.code_engine import services as ce_services
from engines_app.providers.embedded.code_engine.models import Job, JobRun, Project
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessPolicy, ApiKey, ServiceId
from engines_app.providers.embedded.resource_controller import services as rc_services
from engines_app.providers.embedded.resource_controller.models import ServiceInstance
from engines_app.providers.iam import get_iam
from secrets_app import seed
from secrets_app.models import (
    Secret,
    SecretGroup,
    SecretTask,
    SecretVersion,
    TaskStatus,
    TaskType,
    VersionAlias,
)
from secrets_app.services import config_tests
from secrets_app.services import service_credentials as sc
from secrets_app.services.locks import locks_create
from secrets_app.services.rotation import secret_rotate
from tests.factories import create_group, create_secret, create_user, grant
from tests.lifecycle import factories as lifecycle
from tests.lifecycle.fakes import RECORDER

ADMIN = Actor(iam_id="IBMid-0000000997", name="authz-setup", system=True)
PASSWORD = "correct-horse-battery"

ANON, READER, SREADER, WRITER, MANAGER, STRANGER, JOB = (
    "anonymous",
    "reader",
    "secrets_reader",
    "writer",
    "manager",
    "stranger",
    "job",
)
# The table's column order.
PERSONAS = (ANON, READER, SREADER, WRITER, MANAGER, STRANGER, JOB)
# The personas that are console users (a session, and a user API key for the API).
USERS = (READER, SREADER, WRITER, MANAGER, STRANGER)
LOCK_NAME = "authz-lock"
RECORDING = "tests.lifecycle.fakes.RecordingCodeEngine"
SPARE_JOB = "authz-spare-job"


@dataclass
class World:
    group: SecretGroup  # group A: every persona's roles are here
    other_group: SecretGroup  # group B: nobody but the Manager holds a role on it
    users: dict[str, User]
    tokens: dict[str, str]  # persona -> bearer token (every persona but anonymous)
    arbitrary: Secret  # on version 2: a current and a previous version
    current: SecretVersion
    previous: SecretVersion
    locked: Secret  # its current version holds LOCK_NAME
    locked_version: SecretVersion
    custom: Secret  # active: its create task finished
    custom_task: SecretTask
    failed_task: SecretTask  # a failed create task (retry, acknowledge, give up)
    queued_task: SecretTask  # a queued create task (cancel)
    iam_secret: Secret
    service_secret: Secret
    configuration: Configuration
    config_test: ConfigurationTest
    project: Project
    job: Job
    run: JobRun
    instance: ServiceInstance
    api_key: ApiKey  # a bystander service ID's key
    policy: AccessPolicy  # the bystander's Reader role on group A
    drafts: dict[tuple[str, str], UUID] = field(default_factory=dict)  # (persona, kind) -> id
    foreign_drafts: dict[str, UUID] = field(default_factory=dict)  # kind -> another user's draft

    def client(self, persona: str, *, api: bool) -> Client:
        """A client for the persona: a fresh sign-in for console users (a sign-in counts as a
        recent password), a bearer token for the API and for the job everywhere."""
        client = Client()
        if persona in self.tokens and (api or persona == JOB):
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {self.tokens[persona]}"
        if persona in USERS and not api:
            client.force_login(self.users[persona])
        return client


def _token(api_key: str) -> str:
    response = Client().post(
        reverse("iam-token"),
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": api_key},
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def _people(group: SecretGroup) -> dict[str, User]:
    users = {
        READER: create_user(username="authz-reader"),
        SREADER: create_user(username="authz-secrets-reader"),
        WRITER: create_user(username="authz-writer"),
        MANAGER: create_user(username="authz-manager", manage_groups=True),
        STRANGER: create_user(username="authz-stranger"),
    }
    grant(users[READER], "Reader", group=group)
    grant(users[SREADER], "SecretsReader", group=group)
    grant(users[WRITER], "Writer", group=group)
    return users


def _user_tokens(users: dict[str, User]) -> dict[str, str]:
    tokens = {}
    for persona, user in users.items():
        _, value = iam.api_key_create(
            actor=actor_for_user(user), name=f"{persona}-key", user=iam.iam_user_for(user)
        )
        tokens[persona] = _token(value)
    return tokens


def _job_token(group: SecretGroup) -> str:
    """The credentials provider job's service ID, allowed to report on group A's tasks."""
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    get_iam().grant(
        actor=ADMIN, role="SecretTaskUpdater", service_id=job.pk, secret_group_id=group.pk
    )
    _, value = iam.api_key_create(actor=ADMIN, name="authz-job-key", service_id=job)
    return _token(value)


def _version(secret: Secret, alias: str) -> SecretVersion:
    return SecretVersion.objects.get(secret=secret, alias=alias)


def build_world() -> World:
    group = create_group(name="team-a", description="The matrix's group A")
    users = _people(group)
    manager = get_iam().principal_for_user(users[MANAGER])

    # The embedded cloud: Code Engine with the sample jobs, the IAM engine, the job's identity
    # and the configurations; service instances, one authorized.
    project = seed.seed_code_engine(actor=ADMIN)
    seed.seed_iam_engine(actor=ADMIN)
    key_secret = seed.seed_provider_access(actor=ADMIN)
    seed.seed_configurations(actor=ADMIN, project=project, api_key_secret=key_secret)
    tokens = {**_user_tokens(users), JOB: _job_token(group)}
    rc_services.seed_service_instances(actor=ADMIN)
    instance = ServiceInstance.objects.get(name="postgres-orders")
    sc.authorize_service_instance(actor=ADMIN, instance_crn=instance.crn)

    arbitrary = create_secret(name="authz-arbitrary", group=group, payload="first value")
    secret_rotate(principal=manager, secret_id=arbitrary.pk, payload="second value")
    locked = create_secret(name="authz-locked", group=group, payload="locked value")
    locks_create(principal=manager, secret_id=locked.pk, locks=[{"name": LOCK_NAME}])

    # Custom credentials: the lifecycle tests' Code Engine records the runs and the job's
    # reports go through the services; one run is recorded by the embedded Code Engine too (it
    # is never started: the transaction that would hand it to a supervisor is never committed).
    with override_settings(
        SM_PROVIDERS={**getattr(settings, "SM_PROVIDERS", {}), "code_engine": RECORDING}
    ):
        custom = lifecycle.activate(lifecycle.custom_secret(group=group, name="authz-custom"))
        custom_task = lifecycle.latest_task(custom, TaskType.CREATE_CREDENTIALS)
        failed = lifecycle.custom_secret(group=group, name="authz-custom-failed")
        failed_task = lifecycle.report_failed(
            lifecycle.latest_task(failed, TaskType.CREATE_CREDENTIALS)
        )
        queued = lifecycle.custom_secret(group=group, name="authz-custom-queued")
        queued_task = lifecycle.latest_task(queued, TaskType.CREATE_CREDENTIALS)
    RECORDER.clear()
    assert queued_task.status == TaskStatus.QUEUED and failed_task.status == TaskStatus.FAILED

    iam_secret = lifecycle.iam_secret(group=group, name="authz-iam")
    service_secret = lifecycle.service_secret(
        group=group, instance_crn=instance.crn, name="authz-service"
    )

    configuration = Configuration.objects.get(name="token-provider")
    config_test = config_tests.configuration_test_start(
        actor=actor_for_user(users[WRITER]),
        configuration_name=configuration.name,
        parameters={"user_name": "probe"},
        secret_group_id=group.pk,
    )
    job = Job.objects.get(project=project, name="token-provider")
    # A job no configuration uses yet, for the API's create_configuration.
    ce_services.job_create(
        actor=ADMIN,
        project=project,
        name=SPARE_JOB,
        command=list(job.command),
        env=ce_services.job_runtime_env(job),
    )
    run = ce_services.job_run_start(
        project_id=project.pk,
        job_name=job.name,
        run_name=custom_task.pk,
        env={},
        timeout_seconds=600,
    )

    bystander = iam.service_id_create(actor=ADMIN, name="authz-bystander")
    policy = iam.policy_grant(
        actor=ADMIN, role="Reader", secret_group_id=group.pk, service_id=bystander
    )
    api_key, _ = iam.api_key_create(actor=ADMIN, name="authz-bystander-key", service_id=bystander)

    world = World(
        group=group,
        other_group=create_group(name="team-b", description="The matrix's group B"),
        users=users,
        tokens=tokens,
        arbitrary=arbitrary,
        current=_version(arbitrary, VersionAlias.CURRENT),
        previous=_version(arbitrary, VersionAlias.PREVIOUS),
        locked=locked,
        locked_version=_version(locked, VersionAlias.CURRENT),
        custom=custom,
        custom_task=custom_task,
        failed_task=failed_task,
        queued_task=queued_task,
        iam_secret=iam_secret,
        service_secret=service_secret,
        configuration=configuration,
        config_test=config_test,
        project=project,
        job=job,
        run=run,
        instance=instance,
        api_key=api_key,
        policy=policy,
    )
    draft_owner = create_user(username="authz-draft-owner", manage_groups=True)
    for kind, wizard in registered_wizards().items():
        for persona, user in users.items():
            world.drafts[persona, kind] = draft_start(owner=user, wizard=wizard).id
        world.foreign_drafts[kind] = draft_start(owner=draft_owner, wizard=wizard).id
    return world
