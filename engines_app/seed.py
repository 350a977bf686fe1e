"""Demo data for the embedded cloud: Code Engine jobs, IAM identities, configurations. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from console.identity import Actor
from engines_app import services as engine_services
from engines_app.models import ConfigType, Configuration
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, Project
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import (
    AccessGroup,
    ApiKey,
    Role,
    ServiceAuthorization,
    ServiceId,
)
from secrets_app import services as secret_services
from secrets_app.models import Secret, SecretGroup, SecretType
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from secrets_app.services.iam_credentials import iam_credentials_secret_create

PROJECT = "credentials-providers"
REGION = "us-south"
PROVIDER_GROUP = "custom-credentials"
JOB_SERVICE_ID = "credentials-provider-job"
ENGINE_SERVICE_ID = "secrets-manager-iam-engine"
JOB_KEY_SECRET = "credentials-provider-job-apikey"
TOKEN_SERVICE_USERS = ["alice", "bob", "carol", "demo"]
# Access groups that IAM credentials secrets can generate their service IDs in.
ACCESS_GROUPS = {
    "developers": "Developers: service IDs of development tooling and CI jobs",
    "operators": "Operators: service IDs of deployment and operations automation",
}


@dataclass(frozen=True)
class SampleJob:
    name: str
    script: str
    env: dict[str, str]


SAMPLE_JOBS = [
    SampleJob(
        name="certificate-provider",
        script="certificate_provider.py",
        env={
            "SMIN_COMMON_NAME": "type:string, required:true",
            "SMIN_EXPIRATION_DAYS": "type:integer, required:false",
            "SMIN_KEY_ALGO": "type:enum[RSA|ECDSA], required:false",
            "SMOUT_CERTIFICATE_BASE64": "type:string, required:true",
            "SMOUT_PRIVATE_KEY_BASE64": "type:string, required:true",
            # Keep finished runs for a day so that their logs can be read in the console.
            "CE_REMOVE_COMPLETED_JOBS": "1d",
        },
    ),
    SampleJob(
        name="token-provider",
        script="token_provider.py",
        env={
            "SMIN_USER_NAME": "type:string, required:true",
            "SMIN_SCOPE": "type:enum[admin|user], required:false",
            "SMIN_EXPIRES": "type:integer, required:false",
            "SMOUT_TOKEN": "type:string, required:true",
            "TOKEN_SERVICE_DB": "{external_dir}/token-service/tokens.sqlite3",
            "CE_REMOVE_COMPLETED_JOBS": "1d",
        },
    ),
]


def token_service_path() -> str:
    return str(settings.SM_EXTERNAL_DIR / "token-service" / "tokens.sqlite3")


def seed_code_engine(*, actor: Actor) -> Project:
    project = Project.objects.filter(name=PROJECT, region=REGION).first() or ce.project_create(
        actor=actor, name=PROJECT, region=REGION
    )
    for spec in SAMPLE_JOBS:
        if not Job.objects.filter(project=project, name=spec.name).exists():
            ce.job_create(
                actor=actor,
                project=project,
                name=spec.name,
                command=["{python}", "{base_dir}/engines_app/sample_jobs/" + spec.script],
                env=spec.env,
            )
    from engines_app.sample_jobs import token_service

    Path(token_service_path()).parent.mkdir(parents=True, exist_ok=True)
    token_service.init_store(token_service_path(), users=TOKEN_SERVICE_USERS)
    if not engine_services.code_engine_authorized(project.pk):
        iam.authorization_create(
            actor=actor,
            source_service="secrets-manager",
            target_service="codeengine",
            target_resource=project.pk,
            roles=list(engine_services.CE_AUTHORIZATION_ROLES),
        )
    return project


def _service_id(actor: Actor, name: str, description: str) -> ServiceId:
    return ServiceId.objects.filter(name=name).first() or iam.service_id_create(
        actor=actor, name=name, description=description
    )


def seed_iam_engine(*, actor: Actor) -> Configuration:
    existing = Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first()
    if existing:
        return existing
    engine = _service_id(
        actor, ENGINE_SERVICE_ID, "Lets Secrets Manager create service IDs and API keys."
    )
    _, value = iam.api_key_create(actor=actor, name=f"{ENGINE_SERVICE_ID}-key", service_id=engine)
    return engine_services.iam_configuration_create(actor=actor, api_key=value)


def seed_access_groups(*, actor: Actor) -> list[AccessGroup]:
    """The access groups "developers" and "operators" (created once, kept as they are after)."""
    return [
        AccessGroup.objects.filter(name=name).first()
        or iam.access_group_create(actor=actor, name=name, description=description)
        for name, description in ACCESS_GROUPS.items()
    ]


def seed_provider_access(*, actor: Actor) -> Secret:
    """The job's identity: a service ID with SecretTaskUpdater on a dedicated group, and its key."""
    group = SecretGroup.objects.filter(name=PROVIDER_GROUP).first() or secret_services.group_create(
        actor=actor,
        name=PROVIDER_GROUP,
        description="Custom credentials secrets made by the sample provider jobs",
    )
    job_sid = _service_id(actor, JOB_SERVICE_ID, "Identity of the credentials provider jobs")
    iam.policy_grant(
        actor=actor, role=Role.SECRET_TASK_UPDATER, secret_group_id=group.pk, service_id=job_sid
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
        service_id=job_sid.pk,
        rotation={"auto_rotate": True, "interval": 30, "unit": "day"},
        labels=["custom-credentials", "jobs"],
    )


def seed_configurations(
    *, actor: Actor, project: Project, api_key_secret: Secret
) -> list[Configuration]:
    configs = []
    for spec in SAMPLE_JOBS:
        config = Configuration.objects.filter(
            config_type=ConfigType.CUSTOM_CREDENTIALS, name=spec.name
        ).first()
        configs.append(
            config
            or engine_services.custom_configuration_create(
                actor=actor,
                name=spec.name,
                region=REGION,
                project_id=project.pk,
                job_name=spec.name,
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


def seed_embedded_cloud(*, actor: Actor) -> dict[str, int]:
    project = seed_code_engine(actor=actor)
    seed_iam_engine(actor=actor)
    access_groups = seed_access_groups(actor=actor)
    key_secret = seed_provider_access(actor=actor)
    configs = seed_configurations(actor=actor, project=project, api_key_secret=key_secret)
    from engines_app.providers.embedded.resource_controller.services import seed_service_instances

    instances = seed_service_instances(actor=actor)
    made = seed_custom_secret(actor=actor)
    return {
        "configurations": len(configs),
        "service_instances": instances,
        "custom_secrets": int(made is not None),
        "access_groups": len(access_groups),
        "api_keys": ApiKey.objects.count(),
        "authorizations": ServiceAuthorization.objects.count(),
    }
