"""Demo data of the embedded cloud itself: the Code Engine project with the sample jobs, the
token service's store, demo identities and access groups, and service instances. Idempotent.

Reached through the provider interfaces' seed methods (secrets_app/seed.py calls them); a real
IBM Cloud adapter seeds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from console.identity import Actor
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, Project
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessGroup, ServiceId
from engines_app.providers.iam import SECRETS_MANAGER_SERVICE
from engines_app.sample_jobs import token_service

PROJECT = "credentials-providers"
REGION = "us-south"
# A second project that Secrets Manager is NOT authorized on, with a job no configuration uses:
# a newcomer walks Add configuration on it end to end, through the Authorize prompt.
PLAYGROUND_PROJECT = "providers-playground"
PLAYGROUND_JOB = "my-token-provider"
TOKEN_SERVICE_USERS = ["alice", "bob", "carol", "demo"]
CE_AUTHORIZATION_ROLES = ("Viewer", "Writer")


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
    # Reads its source secret through GET /api/v2/secrets/{id}: the service ID a configuration
    # gives it needs SecretsReader on that secret's group. No configuration is seeded for it.
    SampleJob(
        name="derived-key-provider",
        script="derived_key_provider.py",
        env={
            "SMIN_SOURCE_SECRET_ID": "type:secret_id, required:true",
            "SMIN_CONTEXT": "type:string, required:false",
            "SMOUT_DERIVED_KEY": "type:string, required:true",
            "CE_REMOVE_COMPLETED_JOBS": "1d",
        },
    ),
]


def token_service_path() -> str:
    return str(settings.SM_TOKEN_SERVICE_DB)


def _project_ensure(*, actor: Actor, name: str) -> Project:
    return Project.objects.filter(name=name, region=REGION).first() or ce.project_create(
        actor=actor, name=name, region=REGION
    )


def _job_ensure(*, actor: Actor, project: Project, name: str, spec: SampleJob) -> None:
    if not Job.objects.filter(project=project, name=name).exists():
        ce.job_create(
            actor=actor,
            project=project,
            name=name,
            command=["{python}", "{sample_jobs_dir}/" + spec.script],
            env=spec.env,
        )


def seed_playground(*, actor: Actor) -> Project:
    """The project that is not authorized for Secrets Manager, with a free token provider job.

    Its job leaves CE_REMOVE_COMPLETED_JOBS unset, as a new job would: the configuration made on
    it sets IMMEDIATELY, which the Environment variables tab can then change to 3d.
    """
    project = _project_ensure(actor=actor, name=PLAYGROUND_PROJECT)
    token = next(spec for spec in SAMPLE_JOBS if spec.name == "token-provider")
    free = SampleJob(
        name=PLAYGROUND_JOB,
        script=token.script,
        env={k: v for k, v in token.env.items() if k != "CE_REMOVE_COMPLETED_JOBS"},
    )
    _job_ensure(actor=actor, project=project, name=PLAYGROUND_JOB, spec=free)
    return project


def seed_code_engine(*, actor: Actor) -> Project:
    """The authorized project with both sample jobs (the demo's configurations use them), and
    the playground project. Returns the authorized one."""
    project = _project_ensure(actor=actor, name=PROJECT)
    for spec in SAMPLE_JOBS:
        _job_ensure(actor=actor, project=project, name=spec.name, spec=spec)
    seed_playground(actor=actor)
    Path(token_service_path()).parent.mkdir(parents=True, exist_ok=True)
    token_service.init_store(token_service_path(), users=TOKEN_SERVICE_USERS)
    iam.authorization_ensure(
        actor=actor,
        source_service=SECRETS_MANAGER_SERVICE,
        target_service="codeengine",
        target_resource=project.pk,
        roles=list(CE_AUTHORIZATION_ROLES),
    )
    return project


def service_id_ensure(*, actor: Actor, name: str, description: str) -> ServiceId:
    return ServiceId.objects.filter(name=name).first() or iam.service_id_create(
        actor=actor, name=name, description=description
    )


def access_groups_ensure(*, actor: Actor, groups: dict[str, str]) -> list[AccessGroup]:
    """The named access groups (created once, kept as they are after)."""
    return [
        AccessGroup.objects.filter(name=name).first()
        or iam.access_group_create(actor=actor, name=name, description=description)
        for name, description in groups.items()
    ]
