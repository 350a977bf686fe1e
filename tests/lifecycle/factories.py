"""Secrets of every type for the lifecycle tests, made through the services, and the job's side
of the custom credentials protocol (dispatch, then the callback a job sends)."""

from __future__ import annotations

import itertools
from typing import Any

from console.identity import Actor
from engines_app.providers.embedded.iam import services as iam_services
from engines_app.providers.embedded.iam.models import ApiKey, ServiceId
from engines_app.providers.embedded.resource_controller.models import ResourceKey
from engines_app.providers.iam import Principal, get_iam
from secrets_app import seed
from secrets_app.models import Secret, SecretGroup, SecretTask, SecretVersion, TaskType
from secrets_app.services.custom_credentials import (
    custom_credentials_secret_create,
    secret_task_dispatch,
    secret_task_report,
)
from secrets_app.services.iam_credentials import iam_credentials_secret_create
from secrets_app.services.service_credentials import service_credentials_secret_create
from tests.lifecycle.fakes import RECORDER

ADMIN = Actor(iam_id="IBMid-0000000999", name="lifecycle-admin", system=True)
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_seq)}"


# ---------------------------------------------------------------------------------------------
# IAM credentials


def service_id(name: str | None = None) -> ServiceId:
    return iam_services.service_id_create(actor=ADMIN, name=name or unique("app"))


def iam_secret(
    *,
    group: SecretGroup,
    reuse: bool = True,
    ttl: str = "2d",
    rotation: dict[str, Any] | None = None,
    static_service_id: ServiceId | None = None,
    name: str | None = None,
) -> Secret:
    """With `static_service_id`, that service ID; otherwise one Secrets Manager generates in a
    fresh access group."""
    if static_service_id is None:
        access_group = iam_services.access_group_create(actor=ADMIN, name=unique("deployers"))
        where: dict[str, Any] = {"access_groups": [access_group.pk]}
    else:
        where = {"service_id": static_service_id.pk}
    return iam_credentials_secret_create(
        actor=ADMIN,
        name=name or unique("iam"),
        ttl=ttl,
        reuse_api_key=reuse,
        rotation=rotation,
        secret_group_id=group.pk,
        **where,
    )


def api_key_of(version: SecretVersion) -> ApiKey | None:
    return ApiKey.objects.filter(pk=version.credentials_id).first()


# ---------------------------------------------------------------------------------------------
# Service credentials


def service_secret(
    *,
    group: SecretGroup,
    instance_crn: str,
    ttl: str | None = None,
    rotation: dict[str, Any] | None = None,
    serviceid_crn: str | None = None,
    name: str | None = None,
) -> Secret:
    return service_credentials_secret_create(
        actor=ADMIN,
        name=name or unique("svc"),
        instance_crn=instance_crn,
        role="Writer",
        serviceid_crn=serviceid_crn,
        hmac=False,
        ttl=ttl,
        rotation=rotation,
        secret_group_id=group.pk,
    )


def resource_key_of(version: SecretVersion) -> ResourceKey:
    return ResourceKey.objects.get(crn=version.credentials_id)


# ---------------------------------------------------------------------------------------------
# Custom credentials and the job's side of the protocol


def job_principal() -> Principal:
    """The credentials provider job's identity (SecretTaskUpdater), as its bearer token maps."""
    job = ServiceId.objects.get(name=seed.JOB_SERVICE_ID)
    return get_iam().principal_for_actor(Actor(iam_id=job.iam_id, name=job.name))


def custom_secret(
    *,
    group: SecretGroup,
    ttl: str | None = None,
    rotation: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    name: str | None = None,
) -> Secret:
    """A token-provider secret, still in pre_activation with its create task queued."""
    return custom_credentials_secret_create(
        actor=ADMIN,
        name=name or unique("token"),
        configuration="token-provider",
        parameters=parameters or {"user_name": "alice"},
        ttl=ttl,
        rotation=rotation,
        secret_group_id=group.pk,
    )


def latest_task(secret: Secret, task_type: str | None = None) -> SecretTask:
    tasks = SecretTask.objects.filter(secret_id=secret.pk)
    if task_type:
        tasks = tasks.filter(type=task_type)
    task = tasks.order_by("-creation_date", "-attempt").first()
    assert task is not None, f"secret {secret.name} has no {task_type or ''} task"
    return task


def dispatch(task: SecretTask) -> dict[str, str]:
    """The worker picks the task up and starts its job run; returns the run's environment."""
    assert secret_task_dispatch(task_id=task.pk) == "started", task.errors
    return RECORDER.started[task.pk]


def report(task: SecretTask, body: dict[str, Any]) -> SecretTask:
    """The job's PUT .../tasks/{id}."""
    return secret_task_report(
        principal=job_principal(), secret_id=task.secret_id, task_id=task.pk, body=body
    )


def report_created(task: SecretTask, *, credentials_id: str, token: str) -> SecretTask:
    dispatch(task)
    return report(
        task,
        {
            "status": "credentials_created",
            "credentials": {"id": credentials_id, "payload": {"token": token}},
        },
    )


def report_deleted(task: SecretTask) -> SecretTask:
    dispatch(task)
    return report(task, {"status": "credentials_deleted"})


def report_failed(task: SecretTask, *, code: str = "ERR10001") -> SecretTask:
    dispatch(task)
    return report(
        task, {"status": "failed", "errors": [{"code": code, "description": "provider said no"}]}
    )


def activate(secret: Secret, *, credentials_id: str = "tok-1", token: str = "token-1") -> Secret:
    """The job creates the first credentials: the secret becomes active on version 1."""
    report_created(
        latest_task(secret, TaskType.CREATE_CREDENTIALS), credentials_id=credentials_id, token=token
    )
    return Secret.objects.get(pk=secret.pk)
