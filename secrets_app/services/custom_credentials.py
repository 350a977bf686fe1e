"""Custom credentials secrets and their secret tasks (sm-api.md §4.9, §5).

A secret starts in pre_activation with a queued create_credentials task. A django-q2 worker
dispatches the task to the configuration's Code Engine job; the job reports back through
`secret_task_update` (PUT /api/v2/secrets/{id}/tasks/{task_id}), which stores the version and
activates the secret, or records the provider's errors.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Unpack
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console import validation
from console.audit import AuditSubject, audit_record
from console.errors import NotFoundError, ServiceError
from console.identity import Actor
from engines_app import schema as schemas
from engines_app.models import ConfigType, Configuration
from engines_app.providers.code_engine import RunOutcome, get_code_engine
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
    VersionAlias,
)
from secrets_app.permissions import authorize_in_scope, get_secret_for_principal
from secrets_app.services.creation import SecretDetails, SecretPlan, secret_create
from secrets_app.services.credentials import credentials_retire
from secrets_app.services.iam_credentials import next_rotation
from secrets_app.services.task_queue import StatusHistoryAppend, status_entry, task_create
from secrets_app.services.task_reports import repeats_final_report, validate_errors
from secrets_app.services.versions import payload_erase, secret_version_payload_read, version_add
from secrets_app.signals import secret_task_finished

logger = logging.getLogger(__name__)

JOB_ACTOR = Actor(
    iam_id="iam-ServiceId-secrets-manager-jobs", name="Secrets Manager (job runner)", system=True
)
CE_ROLES = ("Viewer", "Writer")
ROTATION_TRIGGERS = (TaskTrigger.MANUAL_SECRET_ROTATION, TaskTrigger.AUTOMATIC_SECRET_ROTATION)


class TaskStateError(ServiceError):
    code = "task_not_updatable"
    status = 400


def _task_error(code: str, description: str) -> list[dict[str, str]]:
    return [{"code": code, "description": description}]


def configuration_get(name: str, *, field: str = "configuration") -> Configuration:
    if (
        not isinstance(name, str)
        or not validation.CONFIGURATION_REF_RE.match(name)
        or not 2 <= len(name) <= 128
    ):
        raise ValidationError(
            {
                field: "A configuration name is 2 to 128 letters, digits, dashes, dots and underscores."
            }
        )
    config = Configuration.objects.filter(
        config_type=ConfigType.CUSTOM_CREDENTIALS, name=name
    ).first()
    if config is None:
        raise ValidationError(
            {field: f"There is no custom credentials configuration named {name!r}."}
        )
    return config


# ---------------------------------------------------------------------------------------------
# Creating secrets and tasks


def custom_credentials_secret_create(
    *,
    actor: Actor,
    configuration: str,
    parameters: dict[str, Any] | None = None,
    ttl: str | None = None,
    rotation: dict[str, Any] | None = None,
    probe: bool = False,
    **details: Unpack[SecretDetails],
) -> Secret:
    """Create the secret in pre_activation and queue its create_credentials task.

    `probe` marks the throwaway secret of a "Test configuration" run (hidden from the table).
    """

    def check() -> tuple[Configuration, dict[str, Any], int | None, dict[str, Any] | None]:
        errors: dict[str, list[ValidationError]] = {}
        config: Configuration | None = None
        params: dict[str, Any] = {}
        ttl_seconds = policy = None
        try:
            config = configuration_get(configuration)
            params = schemas.validate_against(
                config.schema, parameters or {}, kind="parameter", field="parameters"
            )
        except ValidationError as exc:
            exc.update_error_dict(errors)
        try:
            ttl_seconds = validation.parse_ttl(ttl, secret_type=SecretType.CUSTOM_CREDENTIALS)
            policy = validation.validate_rotation(
                rotation, secret_type=SecretType.CUSTOM_CREDENTIALS, ttl_seconds=ttl_seconds
            )
        except ValidationError as exc:
            exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)
        assert config is not None
        return config, params, ttl_seconds, policy

    def provision(
        checked: tuple[Configuration, dict[str, Any], int | None, dict[str, Any] | None],
    ) -> SecretPlan:
        config, params, ttl_seconds, policy = checked

        def queue_create_task(secret: Secret, cleaned: dict[str, Any]) -> None:
            task_create(
                actor=actor,
                secret=secret,
                task_type=TaskType.CREATE_CREDENTIALS,
                trigger=TaskTrigger.SECRET_CREATION,
                version_custom_metadata=cleaned["version_custom_metadata"],
            )

        return SecretPlan(
            columns={
                "state_reason": "Waiting for the credentials provider job to create the credentials.",
                "ttl_seconds": ttl_seconds,
                "rotation": policy,
                "configuration": config,
                "parameters": params,
                "probe": probe,
            },
            state=SecretState.PRE_ACTIVATION,
            then=queue_create_task,
        )

    return secret_create(
        actor=actor,
        secret_type=SecretType.CUSTOM_CREDENTIALS,
        check=check,
        provision=provision,
        **details,
    )


# ---------------------------------------------------------------------------------------------
# Dispatching a task to its job


def _fail(task_id: str, *, code: str, description: str, actor: Actor = JOB_ACTOR) -> bool:
    """Fail a task that is not finished yet. Returns False if it already was."""
    open_statuses = [TaskStatus.QUEUED, TaskStatus.PROCESSING]
    changed = SecretTask.objects.filter(pk=task_id, status__in=open_statuses).update(
        status=TaskStatus.FAILED,
        status_history=StatusHistoryAppend(status_entry(TaskStatus.FAILED)),
        errors=_task_error(code, description),
        updated_by=actor.iam_id,
        last_update_date=timezone.now(),
    )
    if changed:
        task = SecretTask.objects.select_related("secret").get(pk=task_id)
        if task.type == TaskType.CREATE_CREDENTIALS and task.trigger in ROTATION_TRIGGERS:
            Secret.all_objects.filter(pk=task.secret_id).update(last_rotation_failed=True)
        audit_record(
            actor=actor,
            action="secret_task.fail",
            object_type="secret_task",
            object_id=task_id,
            object_name=task.secret.name,
            detail={"code": code},
        )
        secret_task_finished.send(sender=SecretTask, task=task, actor=actor)
    return bool(changed)


def _access_api_key(config: Configuration, *, task_id: str) -> str:
    if config.api_key_ref_id is None:
        raise ServiceError(
            f"Configuration {config.name} has no IAM credentials secret (api_key_ref), and the embedded "
            "Code Engine does not support trusted profiles."
        )
    current = (
        SecretVersion.objects.filter(secret_id=config.api_key_ref_id, alias=VersionAlias.CURRENT)
        .values_list("pk", flat=True)
        .first()
    )
    if current is None:
        raise ServiceError(
            f"The IAM credentials secret of configuration {config.name} has no current version."
        )
    # Read on record for the run it is handed to (the audit log's reason names the task).
    payload = secret_version_payload_read(
        actor=JOB_ACTOR,
        version_id=current,
        reason=f"access key of the job run for task {task_id}",
    )
    if not isinstance(payload, dict) or not payload.get("api_key"):
        raise ServiceError(
            f"The IAM credentials secret of configuration {config.name} holds no API key."
        )
    return str(payload["api_key"])


def job_environment(task: SecretTask, api_key: str) -> dict[str, str]:
    """The per-run environment of §5.4."""
    secret = task.secret
    assert secret.configuration is not None
    env = {
        "SM_ACTION": task.type,
        "SM_TRIGGER": task.trigger,
        "SM_INSTANCE_URL": settings.SM_PUBLIC_URL,
        # Python jobs point IAMAuthenticator here; the embedded IAM lives on the console itself.
        "SM_IAM_URL": settings.SM_PUBLIC_URL,
        "SM_SECRET_TASK_ID": task.pk,
        "SM_SECRET_ID": str(secret.pk),
        "SM_SECRET_NAME": secret.name,
        "SM_SECRET_GROUP_ID": secret.secret_group_id,
        "SM_ACCESS_APIKEY": api_key,
    }
    if task.type == TaskType.DELETE_CREDENTIALS:
        version = task.secret_version
        env["SM_CREDENTIALS_ID"] = task.credentials_id or (
            version.credentials_id if version else ""
        )
        env["SM_SECRET_VERSION_ID"] = str(task.secret_version_ref or "")
    for param in secret.configuration.schema.get("parameters", []):
        if param["name"] in secret.parameters:
            value = schemas.env_value(secret.parameters[param["name"]])
            env[param["env_variable_name"]] = value
            # The providers' README names the variable SMIN_<NAME>_VALUE while their code reads
            # SM_<NAME>_VALUE (sm-api.md §10.10): set both.
            env[f"SMIN_{param['name'].upper()}_VALUE"] = value
    return env


def secret_task_dispatch(*, task_id: str) -> str:
    """Claim a queued task and start its job run. Idempotent: a redelivered call does nothing."""
    claimed = SecretTask.objects.filter(pk=task_id, status=TaskStatus.QUEUED).update(
        status=TaskStatus.PROCESSING,
        status_history=StatusHistoryAppend(status_entry(TaskStatus.PROCESSING)),
        updated_by=JOB_ACTOR.iam_id,
        last_update_date=timezone.now(),
    )
    if not claimed:
        return "not queued"
    task = SecretTask.objects.select_related("secret__configuration", "secret_version").get(
        pk=task_id
    )
    config = task.secret.configuration
    assert config is not None
    try:
        if not get_iam().authorization_exists(
            source_service="secrets-manager",
            target_service="codeengine",
            target_resource=config.code_engine_project_id,
            roles=CE_ROLES,
        ):
            raise ServiceError(
                "Secrets Manager is not authorized to run jobs in Code Engine project "
                f"{config.code_engine_project_id} (roles Viewer and Writer are needed)."
            )
        api_key = _access_api_key(config, task_id=task.pk)
        get_code_engine().start_job_run(
            project_id=config.code_engine_project_id,
            job_name=config.code_engine_job_name,
            run_name=task.pk,
            env=job_environment(task, api_key),
            timeout_seconds=config.task_timeout_seconds,
        )
    except ServiceError as exc:
        _fail(task_id, code="job_not_started", description=exc.message)
        return "failed to start"
    return "started"


def _where_the_logs_are(task_id: str, *, logs_kept: bool, retention_setting: str) -> str:
    if logs_kept:
        return (
            f"Its logs are in Code Engine → Job runs → {task_id} (kept for {retention_setting}, "
            "per the job's CE_REMOVE_COMPLETED_JOBS)."
        )
    return (
        f"Its logs were not kept, because the job's CE_REMOVE_COMPLETED_JOBS is "
        f"{retention_setting}. To keep runs and their logs, set it to a duration such as 3d on "
        "the job's environment variables (Code Engine → the job), then retry."
    )


def secret_task_run_finished(
    *,
    task_id: str,
    exit_code: int | None,
    timed_out: bool,
    timeout_seconds: int,
    logs_kept: bool = True,
    retention_setting: str = "",
) -> bool:
    """Called when a job run ends. A task the job never reported on is failed here."""
    logs = _where_the_logs_are(task_id, logs_kept=logs_kept, retention_setting=retention_setting)
    if timed_out:
        return _fail(
            task_id,
            code="task_timeout",
            description=(
                f"The credentials provider job did not report back within the task timeout "
                f"({validation.human_duration(timeout_seconds)}) and was stopped. {logs}"
            ),
        )
    return _fail(
        task_id,
        code="job_exited_without_result",
        description=f"The job run {task_id} exited with code {exit_code} without reporting a result. {logs}",
    )


def on_job_run_finished(sender: object, *, outcome: RunOutcome, **kwargs: object) -> None:
    """Receiver of the Code Engine provider's job_run_finished signal (see SecretsAppConfig)."""
    secret_task_run_finished(
        task_id=outcome.run_name,
        exit_code=outcome.exit_code,
        timed_out=outcome.timed_out,
        timeout_seconds=outcome.timeout_seconds,
        logs_kept=outcome.logs_kept,
        retention_setting=outcome.retention_setting,
    )


def secret_tasks_sweep(*, now: Any = None) -> int:
    """Fail processing tasks whose configuration's task_timeout has passed (the supervisor's backstop)."""
    now = now or timezone.now()
    failed = 0
    processing = SecretTask.objects.filter(status=TaskStatus.PROCESSING).select_related(
        "secret__configuration"
    )
    for task in processing:
        config = task.secret.configuration
        timeout = config.task_timeout_seconds if config else validation.TASK_TIMEOUT_MIN
        if task.last_update_date + timedelta(seconds=timeout) <= now and _fail(
            task.pk,
            code="task_timeout",
            description=f"The task was still processing after its timeout ({validation.human_duration(timeout)}).",
        ):
            failed += 1
            if config:
                get_code_engine().stop_job_run(
                    project_id=config.code_engine_project_id, run_name=task.pk
                )
    return failed


# ---------------------------------------------------------------------------------------------
# The job's callback, and cancellation


def _task_for(principal: Principal, secret_id: UUID | str, task_id: str, action: str) -> SecretTask:
    """The task, locked, with its secret, if the caller may take `action` on it: 404 when the
    secret does not exist or lies outside the caller's scope, 403 for too weak a role, 404
    when the secret has no such task. Task and secret are read in one query (the secret's
    own lookup only when no task matches), and the caller's roles once."""
    missing = NotFoundError(f"Secret {secret_id} does not exist.")
    try:
        # A force-deleted secret's delete tasks still run and report: the join reads through
        # the base manager, which keeps deleted secrets, as Secret.all_objects below.
        task = (
            SecretTask.objects.select_for_update(of=("self",))
            .select_related("secret")
            .filter(pk=task_id, secret_id=secret_id)
            .first()
        )
        secret = task.secret if task else Secret.all_objects.filter(pk=secret_id).first()
    except (ValidationError, ValueError):
        raise missing from None
    if secret is None:
        raise missing
    authorize_in_scope(
        principal,
        action,
        secret_group_id=secret.secret_group_id,
        subject=AuditSubject("secret", str(secret.pk), secret.name),
        missing=missing,
    )
    if task is None:
        raise NotFoundError(f"Secret {secret_id} has no task {task_id}.")
    return task


def secret_task_report(
    *, principal: Principal, secret_id: UUID | str, task_id: str, body: dict[str, Any]
) -> SecretTask:
    """The job's callback (PUT .../tasks/{id}). A 400 or 404 answer means the task cannot be
    updated by a retry (sm-api.md §5.6), so the task is marked: the delete-retry ladder skips
    it once it fails."""
    try:
        return secret_task_update(
            principal=principal, secret_id=secret_id, task_id=task_id, body=body
        )
    except (ValidationError, ServiceError) as exc:
        if (400 if isinstance(exc, ValidationError) else exc.status) in (400, 404):
            secret_task_refused(principal=principal, secret_id=secret_id, task_id=task_id)
        raise


@transaction.atomic
def secret_task_refused(*, principal: Principal, secret_id: UUID | str, task_id: str) -> bool:
    """Record that a report on this task was answered 400 or 404, which tells the job that no
    retry can fix it (§5.6): the delete-retry ladder skips the task once it fails. Only a caller
    who may update the task marks it (a 403 marks nothing). Returns whether a task was marked."""
    try:
        secret = Secret.all_objects.get(pk=secret_id)
    except (Secret.DoesNotExist, ValidationError, ValueError):
        return False
    iam = get_iam()
    if not iam.is_allowed(principal, "secret_task.update", secret_group_id=secret.secret_group_id):
        return False
    return SecretTask.objects.filter(pk=task_id, secret=secret).update(no_retry=True) > 0


@transaction.atomic
def secret_task_update(
    *, principal: Principal, secret_id: UUID | str, task_id: str, body: dict[str, Any]
) -> SecretTask:
    task = _task_for(principal, secret_id, task_id, "secret_task.update")
    status = body.get("status")
    allowed = {
        TaskStatus.CREDENTIALS_CREATED: {"status", "credentials"},
        TaskStatus.CREDENTIALS_DELETED: {"status"},
        TaskStatus.FAILED: {"status", "errors"},
    }
    if status not in allowed:
        raise ValidationError(
            {"status": "status must be credentials_created, credentials_deleted or failed."}
        )
    if extra := set(body) - allowed[status]:
        raise ValidationError(
            {sorted(extra)[0]: f"A {status} update does not take {', '.join(sorted(extra))}."}
        )
    if repeats_final_report(task, body):
        logger.info("Task %s: the report that finished it came again; answered as before.", task.pk)
        return task
    if task.is_terminal:
        raise TaskStateError(
            f"Task {task.pk} is already {task.status}; a finished task accepts no further updates."
        )
    if status == TaskStatus.CREDENTIALS_CREATED and task.type != TaskType.CREATE_CREDENTIALS:
        raise TaskStateError(
            f"Task {task.pk} deletes credentials; it cannot report credentials_created."
        )
    if status == TaskStatus.CREDENTIALS_DELETED and task.type != TaskType.DELETE_CREDENTIALS:
        raise TaskStateError(
            f"Task {task.pk} creates credentials; it cannot report credentials_deleted."
        )
    # Lock the secret's row only: its configuration is a nullable (outer) join, and PostgreSQL
    # refuses FOR UPDATE on the nullable side of an outer join.
    secret = (
        Secret.all_objects.select_for_update(of=("self",))
        .select_related("configuration")
        .get(pk=task.secret_id)
    )
    task.secret = secret  # the locked row, for the receivers of secret_task_finished
    actor = principal.actor
    detail: dict[str, Any] = {"status": status}
    if status == TaskStatus.CREDENTIALS_CREATED:
        credentials = body.get("credentials")
        if not isinstance(credentials, dict) or set(credentials) != {"id", "payload"}:
            raise ValidationError(
                {"credentials": 'credentials must be {"id": "...", "payload": {...}}.'}
            )
        if not isinstance(credentials["id"], str) or len(credentials["id"]) > 256:
            raise ValidationError(
                {"credentials": "credentials.id must be a string of at most 256 characters."}
            )
        assert secret.configuration is not None
        payload = schemas.validate_against(
            secret.configuration.schema,
            credentials["payload"],
            kind="credential",
            field="credentials.payload",
        )
        now = timezone.now()
        expires = now + timedelta(seconds=secret.ttl_seconds) if secret.ttl_seconds else None
        activated: tuple[str, ...] = ()
        if secret.deleted_at is None:
            secret.state, secret.state_reason = SecretState.ACTIVE, ""
            secret.expiration_date = expires
            secret.next_rotation_date = next_rotation(secret.rotation, now)
            secret.last_rotation_failed = False
            activated = (
                "state",
                "state_reason",
                "expiration_date",
                "next_rotation_date",
                "last_rotation_failed",
            )
        version = version_add(
            actor=actor,
            secret=secret,
            payload=payload,
            version_custom_metadata=task.version_custom_metadata,
            credentials_id=credentials["id"],
            auto_rotated=task.trigger == TaskTrigger.AUTOMATIC_SECRET_ROTATION,
            expiration_date=expires,
            trigger=task.trigger,
            also_save=activated,
        )
        task.secret_version = version
        task.secret_version_ref = version.pk
        if secret.deleted_at is not None:
            # The secret was force-deleted while this task ran: delete what the job just made.
            payload_erase(version)
            credentials_retire(
                actor=actor,
                secret=secret,
                version=version,
                trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
            )
        detail["credentials_id"] = credentials["id"]
    elif status == TaskStatus.CREDENTIALS_DELETED:
        if task.secret_version_id:
            version = SecretVersion.objects.get(pk=task.secret_version_id)
            version.credentials_deleted_at = timezone.now()
            payload_erase(version, also=("credentials_deleted_at",))
    else:
        task.errors = validate_errors(body.get("errors"))
        detail["codes"] = [e["code"] for e in task.errors]
        if task.type == TaskType.CREATE_CREDENTIALS and task.trigger in ROTATION_TRIGGERS:
            # §5.6: a failed rotation sets last_rotation_failed, as _fail does for the tasks
            # that fail without the job's report.
            Secret.all_objects.filter(pk=secret.pk).update(last_rotation_failed=True)
    task.status = status
    task.status_history = [*task.status_history, status_entry(status)]
    task.updated_by = actor.iam_id
    task.save()
    if secret.configuration is not None:
        get_code_engine().record_run_report(
            project_id=secret.configuration.code_engine_project_id, run_name=task.pk
        )
    audit_record(
        actor=actor,
        action="secret_task.update",
        object_type="secret_task",
        object_id=task.pk,
        object_name=secret.name,
        detail=detail,
    )
    secret_task_finished.send(sender=SecretTask, task=task, actor=actor)
    return task


@transaction.atomic
def secret_task_cancel(*, principal: Principal, secret_id: UUID | str, task_id: str) -> SecretTask:
    """Cancel a queued or processing task. The record stays, failed with code task_cancelled."""
    task = _task_for(principal, secret_id, task_id, "secret_task.delete")
    if task.is_terminal:
        raise TaskStateError(
            f"Task {task.pk} is already {task.status}; only queued or processing tasks can be cancelled."
        )
    was_processing = task.status == TaskStatus.PROCESSING
    _fail(
        task.pk,
        code="task_cancelled",
        description=f"Cancelled by {principal.name}.",
        actor=principal.actor,
    )
    config = task.secret.configuration
    if was_processing and config is not None:
        project_id, run_name = config.code_engine_project_id, task.pk
        transaction.on_commit(
            lambda: get_code_engine().stop_job_run(project_id=project_id, run_name=run_name)
        )
    task.refresh_from_db()
    return task


def secret_tasks_for(*, principal: Principal, secret_id: UUID | str) -> list[SecretTask]:
    """A secret's tasks, newest first: 404 outside the caller's scope, 403 below Reader."""
    secret = get_secret_for_principal(principal, secret_id, "secret_task.read")
    return list(secret.tasks.order_by("-creation_date", "-pk"))


def secret_task_for(*, principal: Principal, secret_id: UUID | str, task_id: str) -> SecretTask:
    for task in secret_tasks_for(principal=principal, secret_id=secret_id):
        if task.pk == task_id:
            return task
    raise NotFoundError(f"Secret {secret_id} has no task {task_id}.")
