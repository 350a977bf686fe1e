"""Test configuration: a create-then-delete round trip through a configuration's real job.

`configuration_test_start` creates a probe custom credentials secret (hidden from the secrets
table) whose create_credentials task runs the job. When the job reports credentials_created,
`on_secret_task_finished` (a receiver of `secrets_app.signals.secret_task_finished`, which the
task state machine sends for every task that ends) queues a delete_credentials task for the new
version (the same job, with SM_CREDENTIALS_ID and SM_SECRET_VERSION_ID set), and
`probe_task_finished` moves the test on: credentials_deleted makes it succeed, any failure makes
it fail with the provider's error. Either way the probe ends
destroyed and keeps no secret data.
"""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from console.audit import audit_record
from console.identity import Actor
from engines_app import services as engine_services
from engines_app.models import (
    ConfigTestStatus,
    ConfigType,
    Configuration,
    ConfigurationTest,
)
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import (
    Secret,
    SecretState,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskStatus,
    TaskTrigger,
    TaskType,
)
from secrets_app.services.custom_credentials import custom_credentials_secret_create
from secrets_app.services.task_queue import task_create

PROBE_PREFIX = "config-test-"
SKIPPED = "skipped"


def probe_name(configuration_name: str) -> str:
    return f"{PROBE_PREFIX}{configuration_name}-{pysecrets.token_hex(4)}"


def job_identity(config: Configuration) -> str:
    """The service ID whose API key the job reports with (that of the api_key_ref secret), or ""."""
    key_secret = config.api_key_ref
    if key_secret is None or key_secret.secret_type != SecretType.IAM_CREDENTIALS:
        return ""
    return key_secret.service_id


def job_reporting_group_ids(config: Configuration) -> set[str] | None:
    """The secret groups where the job's identity may report task results (None: every group)."""
    service_id = job_identity(config)
    if not service_id:
        return set()
    principal = Principal(iam_id=f"iam-{service_id}", name=service_id, kind="service_id")
    return get_iam().group_ids_allowing(principal, "secret_task.update")


@transaction.atomic
def configuration_test_start(
    *,
    actor: Actor,
    configuration_name: str,
    parameters: dict[str, Any],
    secret_group_id: str,
) -> ConfigurationTest:
    """Create the probe secret (its create task is dispatched on commit) and the test record."""
    config = engine_services.configuration_get(
        name=configuration_name, config_type=ConfigType.CUSTOM_CREDENTIALS
    )
    probe = custom_credentials_secret_create(
        actor=actor,
        name=probe_name(config.name),
        configuration=config.name,
        parameters=parameters,
        secret_group_id=secret_group_id,
        description=f"Made by Test configuration for {config.name}; destroyed when the test ends.",
        probe=True,
    )
    test = ConfigurationTest.objects.create(
        configuration=config,
        probe=probe,
        create_status=TaskStatus.QUEUED,
        created_by=actor.iam_id,
    )
    audit_record(
        actor=actor,
        action="configuration.test",
        object_type="configuration",
        object_id=str(config.pk),
        object_name=config.name,
        detail={"test_id": str(test.pk), "probe_secret_id": str(probe.pk)},
    )
    return test


def _destroy(probe: Secret, reason: str) -> None:
    """End a probe: state destroyed, and no version keeps its (sealed) credentials."""
    for version in SecretVersion.objects.filter(secret=probe, payload_available=True):
        version.payload_available = False
        version.set_sealed(None)
        version.save(
            update_fields=[
                "payload_available",
                "sealed_key_id",
                "sealed_wrapped_key",
                "sealed_ciphertext",
            ]
        )
    Secret.objects.filter(pk=probe.pk).update(
        state=SecretState.DESTROYED, state_reason=reason, updated_at=timezone.now()
    )


def _first_error(task: SecretTask) -> tuple[str, str]:
    errors = task.errors or []
    if not errors:
        return "", ""
    return str(errors[0].get("code", "")), str(errors[0].get("description", ""))


def on_secret_task_finished(*, task: SecretTask, actor: Actor, **_: Any) -> None:
    """A probe's task ended: once its credentials exist, delete them again through the same
    job (task_create queues it on commit); a deleted or failed probe task ends the test."""
    secret = task.secret
    if not secret.probe:
        return
    if task.status == TaskStatus.CREDENTIALS_CREATED:
        task_create(
            actor=actor,
            secret=secret,
            task_type=TaskType.DELETE_CREDENTIALS,
            trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
            version=task.secret_version,
        )
    probe_task_finished(task=task)


@transaction.atomic
def probe_task_finished(*, task: SecretTask) -> ConfigurationTest | None:
    """Record a probe task's outcome on its test; finish the test when nothing more will run."""
    test = (
        ConfigurationTest.objects.select_for_update()
        .filter(probe_id=task.secret_id, status=ConfigTestStatus.RUNNING)
        .first()
    )
    if test is None:
        return None
    probe = Secret.objects.get(pk=task.secret_id)
    now = timezone.now()
    if task.type == TaskType.CREATE_CREDENTIALS:
        test.create_status = task.status
        if task.status == TaskStatus.CREDENTIALS_CREATED:
            # secret_task_update has just queued the delete task.
            test.delete_status = TaskStatus.QUEUED
            test.save(update_fields=["create_status", "delete_status"])
            return test
        code, description = _first_error(task)
        test.delete_status = SKIPPED
        test.error_code = code
        test.message = f"Creating credentials failed: {description}"[:2048]
    elif task.status == TaskStatus.CREDENTIALS_DELETED:
        test.delete_status = task.status
        test.message = "The job created credentials and deleted them again."
    else:
        code, description = _first_error(task)
        version = task.secret_version
        credentials = f" {version.credentials_id}" if version and version.credentials_id else ""
        test.delete_status = task.status
        test.error_code = code
        test.message = (
            f"Credentials{credentials} were created, but deleting them failed: {description} "
            "They may still exist in the credentials provider."
        )[:2048]
    test.status = (
        ConfigTestStatus.SUCCEEDED
        if task.status == TaskStatus.CREDENTIALS_DELETED
        else ConfigTestStatus.FAILED
    )
    test.finished_at = now
    test.save()
    _destroy(probe, f"Test configuration {test.get_status_display().lower()}.")
    return test


# ---------------------------------------------------------------------------------------------
# What the status page shows


@dataclass(frozen=True)
class ConfigTestStep:
    key: str  # "create" | "delete"
    title: str
    status: str  # waiting | queued | processing | credentials_created | credentials_deleted | failed | skipped
    label: str
    task_id: str
    errors: list[dict[str, str]]

    @property
    def state(self) -> str:
        """A coarse state for styling: pending, running, done, failed or skipped."""
        return {
            "waiting": "pending",
            TaskStatus.QUEUED: "pending",
            TaskStatus.PROCESSING: "running",
            TaskStatus.CREDENTIALS_CREATED: "done",
            TaskStatus.CREDENTIALS_DELETED: "done",
            TaskStatus.FAILED: "failed",
            SKIPPED: "skipped",
        }.get(self.status, "pending")


STEP_LABELS = {
    "waiting": "Waiting for the create step",
    TaskStatus.QUEUED: "Queued",
    TaskStatus.PROCESSING: "Running the job",
    TaskStatus.CREDENTIALS_CREATED: "Credentials created",
    TaskStatus.CREDENTIALS_DELETED: "Credentials deleted",
    TaskStatus.FAILED: "Failed",
    SKIPPED: "Skipped: nothing was created",
}


def configuration_test_steps(test: ConfigurationTest) -> list[ConfigTestStep]:
    """Both steps with their live status: the probe's tasks while they exist, else the record."""
    tasks: dict[str, SecretTask] = {}
    if test.probe_id:
        for found in SecretTask.objects.filter(secret_id=test.probe_id).order_by("creation_date"):
            tasks.setdefault(found.type, found)
    steps = []
    for key, task_type, title, recorded in (
        ("create", TaskType.CREATE_CREDENTIALS, "Create credentials", test.create_status),
        ("delete", TaskType.DELETE_CREDENTIALS, "Delete credentials", test.delete_status),
    ):
        task = tasks.get(task_type)
        if recorded == SKIPPED:
            status = SKIPPED
        elif task is not None:
            status = task.status
        else:
            status = recorded or "waiting"
        steps.append(
            ConfigTestStep(
                key=key,
                title=title,
                status=status,
                label=STEP_LABELS.get(status, status),
                task_id=task.pk if task else "",
                errors=list(task.errors) if task else [],
            )
        )
    return steps
