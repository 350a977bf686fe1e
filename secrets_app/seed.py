"""Demo data for the console: the IAM engine, the provider job's identity and
key, the custom credentials configurations, one custom credentials secret, and secrets whose
lease or rotation comes within minutes (seed_lifecycle_demo). Idempotent.

The embedded cloud's own demo data (Code Engine project and sample jobs, service instances,
identities) comes through the provider interfaces' seed methods.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.identity import Actor
from engines_app import services as engine_services
from engines_app.models import ConfigType, Configuration
from engines_app.providers.code_engine import get_code_engine
from engines_app.providers.iam import get_iam
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app import services as secret_services
from secrets_app.models import Secret, SecretGroup, SecretTask, SecretType, TaskStatus, TaskType
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_report,
)
from secrets_app.services.iam_credentials import iam_credentials_secret_create
from secrets_app.services.rotation import rotation_bring_forward, secret_rotate

REGION = "us-south"
PROVIDER_GROUP = "custom-credentials"
JOB_SERVICE_ID = "credentials-provider-job"
ENGINE_SERVICE_ID = "secrets-manager-iam-engine"
JOB_KEY_SECRET = "credentials-provider-job-apikey"
# The configurations, one per sample job of the embedded Code Engine.
SAMPLE_JOB_NAMES = ("certificate-provider", "token-provider")
# Access groups that IAM credentials secrets can generate their service IDs in.
# Secrets whose lease ends, or whose rotation comes, within minutes of seeding.
EXPIRING_NOTE = "demo-expiring-note"
SHORT_LEASE_KEY = "demo-short-lease-key"
ROTATING_KEY = "demo-rotating-key"
ACCESS_GROUPS = {
    "developers": "Developers: service IDs of development tooling and CI jobs",
    "operators": "Operators: service IDs of deployment and operations automation",
}


def token_service_path() -> str:
    """The sample token service's store, where tests look for the tokens the job made."""
    return str(settings.SM_TOKEN_SERVICE_DB)


def seed_code_engine(*, actor: Actor) -> Any:
    """The Code Engine project with the sample jobs (its `pk` is the project id)."""
    return get_code_engine().seed_demo(actor=actor)


def seed_iam_engine(*, actor: Actor) -> Configuration:
    existing = Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first()
    if existing:
        return existing
    iam = get_iam()
    engine = iam.seed_service_id(
        actor=actor,
        name=ENGINE_SERVICE_ID,
        description="Lets Secrets Manager create service IDs and API keys.",
    )
    key = iam.create_api_key(
        actor=actor, service_id=engine.id, name=f"{ENGINE_SERVICE_ID}-key", description=""
    )
    return engine_services.iam_configuration_create(actor=actor, api_key=key.value)


def seed_access_groups(*, actor: Actor) -> list[Any]:
    """The access groups "developers" and "operators" (created once, kept as they are after)."""
    return get_iam().seed_access_groups(actor=actor, groups=ACCESS_GROUPS)


def seed_provider_access(*, actor: Actor) -> Secret:
    """The job's identity: a service ID with SecretTaskUpdater on a dedicated group, and its key."""
    group = SecretGroup.objects.filter(name=PROVIDER_GROUP).first() or secret_services.group_create(
        actor=actor,
        name=PROVIDER_GROUP,
        description="Custom credentials secrets made by the sample provider jobs",
    )
    iam = get_iam()
    job_sid = iam.seed_service_id(
        actor=actor, name=JOB_SERVICE_ID, description="Identity of the credentials provider jobs"
    )
    iam.grant(
        actor=actor, role="SecretTaskUpdater", service_id=job_sid.id, secret_group_id=group.pk
    )
    secret = Secret.objects.filter(
        secret_type=SecretType.IAM_CREDENTIALS, name=JOB_KEY_SECRET
    ).first()
    if secret:
        return secret
    return iam_credentials_secret_create(
        actor=actor,
        name=JOB_KEY_SECRET,
        description="API key that the credentials provider jobs use to report back",
        secret_group_id=group.pk,
        ttl="90d",
        reuse_api_key=True,
        service_id=job_sid.id,
        rotation={"auto_rotate": True, "interval": 30, "unit": "day"},
        labels=["custom-credentials", "jobs"],
    )


def seed_configurations(
    *, actor: Actor, project: Any, api_key_secret: Secret
) -> list[Configuration]:
    configs = []
    for job_name in SAMPLE_JOB_NAMES:
        config = Configuration.objects.filter(
            config_type=ConfigType.CUSTOM_CREDENTIALS, name=job_name
        ).first()
        configs.append(
            config
            or engine_services.custom_configuration_create(
                actor=actor,
                name=job_name,
                region=REGION,
                project_id=project.pk,
                job_name=job_name,
                api_key_ref=str(api_key_secret.pk),
                task_timeout="10m",
            )
        )
    return configs


def seed_custom_secret(*, actor: Actor) -> Secret | None:
    """One custom credentials secret, so a newcomer sees a task go from queued to active."""
    name = "demo-example-com-certificate"
    if Secret.objects.filter(secret_type=SecretType.CUSTOM_CREDENTIALS, name=name).exists():
        return None
    return custom_credentials_secret_create(
        actor=actor,
        name=name,
        configuration="certificate-provider",
        parameters={"common_name": "example.com", "expiration_days": 90, "key_algo": "RSA"},
        secret_group_id=SecretGroup.objects.get(name=PROVIDER_GROUP).pk,
        description="A self-signed certificate made by the sample certificate provider job",
        labels=["demo", "certificates"],
    )


def seed_lifecycle_demo(*, actor: Actor) -> int:
    """Secrets whose lease ends within minutes and one whose automatic rotation is due soon, so
    that a newcomer can watch the sweeps happen. Made once: a later run leaves them as they are."""
    made = 0
    now = timezone.now()
    if not Secret.all_objects.filter(secret_type=SecretType.ARBITRARY, name=EXPIRING_NOTE).exists():
        secret_services.arbitrary_secret_create(
            actor=actor,
            name=EXPIRING_NOTE,
            payload="a demo value that expires ten minutes after make run seeded it",
            description="Its expiration date is ten minutes after seeding: watch it move to Destroyed.",
            labels=["demo", "expires-soon"],
            expiration_date=now + timedelta(minutes=10),
        )
        made += 1
    developers = [g.id for g in get_iam().access_groups() if g.name == "developers"]
    for name, ttl, rotation, description in (
        (
            SHORT_LEASE_KEY,
            "5m",
            None,
            "An API key with a five-minute lease: when it ends, the key and its generated "
            "service ID are deleted.",
        ),
        (
            ROTATING_KEY,
            "2d",
            {"auto_rotate": True, "interval": 1, "unit": "day"},
            "Rotates every day; seeded with its first rotation due three minutes after seeding.",
        ),
    ):
        if Secret.all_objects.filter(secret_type=SecretType.IAM_CREDENTIALS, name=name).exists():
            continue
        secret = iam_credentials_secret_create(
            actor=actor,
            name=name,
            ttl=ttl,
            reuse_api_key=True,
            access_groups=developers,
            description=description,
            labels=["demo"],
            rotation=rotation,
        )
        if rotation:
            rotation_bring_forward(actor=actor, secret_id=secret.pk, at=now + timedelta(minutes=3))
        made += 1
    return made


INBOX_HISTORY = "demo-inbox-rotated-token"
INBOX_FAILING = ("demo-inbox-unknown-user-1", "demo-inbox-unknown-user-2")


def _latest(secret: Secret, task_type: str) -> SecretTask:
    task = secret.tasks.filter(type=task_type, status=TaskStatus.QUEUED).first()
    assert task is not None
    return task


@transaction.atomic
def seed_inbox_demo(*, actor: Actor) -> int:
    """Something real for the failed-task inbox, its chart and the version history: a token
    secret rotated to version 3 whose version 1 delete failed (ERR10002, on the daily retry
    ladder), and two secrets whose creation failed (ERR10004). The results are reported through
    the task callback service, as the job would, inside this transaction: the tasks are settled
    before any worker could pick them up. Made once."""
    if Secret.all_objects.filter(
        secret_type=SecretType.CUSTOM_CREDENTIALS, name=INBOX_HISTORY
    ).exists():
        return 0
    principal = get_iam().principal_for_actor(actor)
    group_id = SecretGroup.objects.get(name=PROVIDER_GROUP).pk

    def report(task: SecretTask, body: dict[str, Any]) -> None:
        secret_task_report(
            principal=principal, secret_id=task.secret_id, task_id=task.pk, body=body
        )

    secret = custom_credentials_secret_create(
        actor=actor,
        name=INBOX_HISTORY,
        configuration="token-provider",
        parameters={"user_name": "demo-user"},
        secret_group_id=group_id,
        description="Rotated twice; the provider failed to delete version 1's token.",
        labels=["demo", "inbox"],
        version_custom_metadata={"reason": "initial"},
    )
    for n in (1, 2, 3):
        report(
            _latest(secret, TaskType.CREATE_CREDENTIALS),
            {
                "status": "credentials_created",
                "credentials": {
                    "id": f"demo-token-{n}",
                    "payload": {"token": f"demo-{n}-{secret.pk}"},
                },
            },
        )
        if n < 3:
            secret_rotate(
                principal=principal,
                secret_id=secret.pk,
                version_custom_metadata={"reason": f"rotation {n}"},
            )
    failure = "error: the token service is unreachable; the token was not revoked"
    report(
        _latest(secret, TaskType.DELETE_CREDENTIALS),
        {"status": "failed", "errors": [{"code": "ERR10002", "description": failure}]},
    )
    for name in INBOX_FAILING:
        failing = custom_credentials_secret_create(
            actor=actor,
            name=name,
            configuration="token-provider",
            parameters={"user_name": "nobody-here"},
            secret_group_id=group_id,
            description="Its creation failed: the token service does not know the user.",
            labels=["demo", "inbox"],
        )
        report(
            _latest(failing, TaskType.CREATE_CREDENTIALS),
            {
                "status": "failed",
                "errors": [
                    {"code": "ERR10004", "description": "error: cannot create role: unknown user"}
                ],
            },
        )
    return 3


def seed_embedded_cloud(*, actor: Actor) -> dict[str, int]:
    project = seed_code_engine(actor=actor)
    seed_iam_engine(actor=actor)
    access_groups = seed_access_groups(actor=actor)
    key_secret = seed_provider_access(actor=actor)
    configs = seed_configurations(actor=actor, project=project, api_key_secret=key_secret)
    instances = get_resource_controller().seed_demo(actor=actor)
    made = seed_custom_secret(actor=actor)
    lifecycle = seed_lifecycle_demo(actor=actor)
    inbox = seed_inbox_demo(actor=actor)
    return {
        "inbox_demo_secrets": inbox,
        "lifecycle_demo_secrets": lifecycle,
        "configurations": len(configs),
        "service_instances": instances,
        "custom_secrets": int(made is not None),
        "access_groups": len(access_groups),
    }
