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

PROJECT = "credentials-providers"
REGION = "us-south"
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
]


def token_service_path() -> str:
    return str(settings.SM_TOKEN_SERVICE_DB)


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
