"""Secrets engine configurations: custom credentials and IAM credentials (sm-api.md §4.10)."""

from __future__ import annotations

import re
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.urls import reverse

from console import crypto, validation
from console.audit import audit_record
from console.errors import (
    ConflictError,
    DuplicateNameError,
    LimitExceededError,
    NotFoundError,
    ServiceError,
)
from console.identity import Actor
from engines_app import schema as schemas
from engines_app.models import ConfigTestStatus, ConfigType, Configuration
from engines_app.ports import KeySecret, key_secret
from engines_app.providers.code_engine import JobUser, get_code_engine
from engines_app.providers.iam import SECRETS_MANAGER_SERVICE, get_iam

CE_AUTHORIZATION_ROLES = ("Viewer", "Writer")
# "Authorize" on the IAM credentials tab: Secrets Manager → IAM Identity service, role Operator.
IAM_AUTHORIZATION_TARGET = "iam-identity"
IAM_AUTHORIZATION_ROLES = ("Operator",)
IAM_CONFIGURATION_NAME = "iam-configuration"
API_KEY_RE = r"^(?:[A-Za-z0-9_\-]{4})*(?:[A-Za-z0-9_\-]{2}==|[A-Za-z0-9_\-]{3}=)?$"


def code_engine_authorized(project_id: str) -> bool:
    return get_iam().authorization_exists(
        source_service="secrets-manager",
        target_service="codeengine",
        target_resource=project_id,
        roles=CE_AUTHORIZATION_ROLES,
    )


def iam_identity_authorized() -> bool:
    """Whether Secrets Manager may manage service IDs and API keys without an API key of its own."""
    return get_iam().authorization_exists(
        source_service="secrets-manager",
        target_service=IAM_AUTHORIZATION_TARGET,
        target_resource="",
        roles=IAM_AUTHORIZATION_ROLES,
    )


def _api_key_ref(secret_id: str | None) -> KeySecret | None:
    if not secret_id:
        return None
    if not validation.UUID_RE.match(str(secret_id)):
        raise ValidationError(
            {"api_key_ref": "api_key_ref is the id (a UUID) of an IAM credentials secret."}
        )
    secret = key_secret(str(secret_id))
    if secret is None:
        raise ValidationError(
            {"api_key_ref": f"There is no IAM credentials secret with id {secret_id}."}
        )
    if not secret.auto_rotates:
        raise ValidationError(
            {
                "api_key_ref": f"IAM credentials secret {secret.name} must have automatic rotation turned on."
            }
        )
    return secret


@transaction.atomic
def custom_configuration_create(
    *,
    actor: Actor,
    name: str,
    region: str,
    project_id: str,
    job_name: str,
    api_key_ref: str | None = None,
    task_timeout: str | None = None,
) -> Configuration:
    """Create a custom credentials configuration and derive its schema from the job's variables."""
    validation.validate_configuration_name(name)
    timeout_text, timeout_seconds = validation.parse_task_timeout(task_timeout)
    if Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS, name=name).exists():
        raise DuplicateNameError(
            "name", f"A custom credentials configuration named {name!r} already exists."
        )
    if (
        Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS).count()
        >= validation.CUSTOM_CONFIGURATIONS_MAX
    ):
        raise LimitExceededError(
            f"This instance already has {validation.CUSTOM_CONFIGURATIONS_MAX} custom credentials configurations, the maximum."
        )
    ce = get_code_engine()
    try:
        job = ce.get_job(project_id=project_id, job_name=job_name, region=region)
    except NotFoundError as exc:
        raise ValidationError({exc.field or "job_name": exc.message}) from None
    clash = Configuration.objects.filter(
        code_engine_project_id=project_id, code_engine_job_name=job_name
    ).first()
    if clash:
        raise ValidationError(
            {
                "job_name": f"Job {job_name} already backs configuration {clash.name}; a job serves one configuration."
            }
        )
    if not code_engine_authorized(project_id):
        # 400: the request names a project Secrets Manager may not use yet (not a conflict).
        raise ServiceError(
            f"Secrets Manager is not authorized to access Code Engine project {job.project_name}: "
            "create the service authorization (Secrets Manager → Code Engine, roles Viewer and Writer) first.",
            field="project_id",
        )
    key_ref = _api_key_ref(api_key_ref)
    try:
        schema = schemas.derive_schema(job.env)
    except ValidationError as exc:
        raise ValidationError(
            {"job_name": [f"Job {job_name} declares an invalid schema: {m}" for m in exc.messages]}
        ) from None
    key_ref_name = f"sm-access-{uuid.uuid4()}"
    # Secrets Manager injects its instance URL and the access key reference into the job, and
    # removes completed runs unless the job already says otherwise.
    inject = {"SM_ACCESS_APIKEY_REF": key_ref_name}
    if "CE_REMOVE_COMPLETED_JOBS" not in job.env:
        inject["CE_REMOVE_COMPLETED_JOBS"] = "IMMEDIATELY"
    ce.set_job_env(actor=actor, project_id=project_id, job_name=job_name, env=inject)
    config = Configuration.objects.create(
        name=name,
        config_type=ConfigType.CUSTOM_CREDENTIALS,
        created_by=actor.iam_id,
        code_engine_project_id=project_id,
        code_engine_job_name=job_name,
        code_engine_region=region,
        code_engine_key_ref=key_ref_name,
        api_key_ref_id=key_ref.id if key_ref else None,
        task_timeout=timeout_text,
        task_timeout_seconds=timeout_seconds,
        schema=schema,
    )
    audit_record(
        actor=actor,
        action="configuration.create",
        object_type="configuration",
        object_id=str(config.pk),
        object_name=name,
    )
    return config


class AmbiguousConfigurationError(ConflictError):
    """One name under several config types, and the caller did not say which (sm-api.md §2.6).

    IBM answers "300 Multiple Choices" and points at the X-Sm-Accept-Configuration-Type header;
    `config_types` lists the candidates.
    """

    code = "multiple_choices"
    status = 300

    def __init__(self, name: str, config_types: list[str]) -> None:
        super().__init__(
            f"More than one configuration is named {name!r} ({', '.join(config_types)}); say "
            "which config_type you mean in the X-Sm-Accept-Configuration-Type header."
        )
        self.config_types = config_types


def configuration_get(*, name: str, config_type: str | None = None) -> Configuration:
    qs = Configuration.objects.filter(name=name)
    if config_type:
        qs = qs.filter(config_type=config_type)
    found = list(qs.order_by("config_type")[:10])
    if not found:
        raise NotFoundError(f"There is no configuration named {name!r}.")
    if len(found) > 1:
        raise AmbiguousConfigurationError(name, [c.config_type for c in found])
    return found[0]


@transaction.atomic
def configuration_update_task_timeout(
    *, actor: Actor, name: str, task_timeout: str
) -> Configuration:
    config = configuration_get(name=name, config_type=ConfigType.CUSTOM_CREDENTIALS)
    config.task_timeout, config.task_timeout_seconds = validation.parse_task_timeout(task_timeout)
    config.save(update_fields=["task_timeout", "task_timeout_seconds", "updated_at"])
    audit_record(
        actor=actor,
        action="configuration.update",
        object_type="configuration",
        object_id=str(config.pk),
        object_name=name,
        detail={"changed": ["task_timeout"]},
    )
    return config


@transaction.atomic
def configuration_delete(*, actor: Actor, name: str, config_type: str | None = None) -> None:
    config = configuration_get(name=name, config_type=config_type)
    users = list(
        config.secrets.filter(probe=False).order_by("name").values_list("name", flat=True)[:20]
    )
    if users:
        raise ConflictError(
            f"Configuration {name} is used by {len(users)} secret(s): {', '.join(users)}. Delete them first."
        )
    # The throwaway secrets of "Test configuration" go with the configuration, once their test
    # is over; a test still running would lose its job's callback.
    probes = config.secrets.filter(probe=True)
    if config.tests.filter(status=ConfigTestStatus.RUNNING).exists():
        raise ConflictError(
            f"A test of configuration {name} is still running; wait for it to finish, then delete."
        )
    audit_record(
        actor=actor,
        action="configuration.delete",
        object_type="configuration",
        object_id=str(config.pk),
        object_name=name,
    )
    probes.delete()
    try:
        config.delete()
    except ProtectedError:
        # Deleted secrets (left out above) keep their configuration until their delete tasks
        # are over and the purge sweep removes them.
        raise ConflictError(
            f"Configuration {name} still serves deleted secrets whose credentials are being "
            "deleted; try again once their delete tasks are over."
        ) from None


def _check_api_key_format(api_key: object) -> str:
    if (
        not isinstance(api_key, str)
        or not 5 <= len(api_key) <= 60
        or not re.match(API_KEY_RE, api_key)
    ):
        raise ValidationError(
            {"api_key": "That does not look like an IAM API key (5 to 60 base64url characters)."}
        )
    return api_key


def _validate_api_key(api_key: object) -> str:
    _check_api_key_format(api_key)
    assert isinstance(api_key, str)
    if not get_iam().api_key_is_valid(api_key):
        raise ValidationError(
            {"api_key": "IAM does not accept this API key (unknown, locked or deleted)."}
        )
    return api_key


def _refuse_second_iam_configuration() -> None:
    if Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).exists():
        raise LimitExceededError(
            "The IAM credentials engine is already configured (one configuration per instance); "
            "edit the existing configuration."
        )


@transaction.atomic
def iam_configuration_create(
    *, actor: Actor, api_key: str, name: str = IAM_CONFIGURATION_NAME, disabled: bool = False
) -> Configuration:
    """Configure the IAM credentials engine with an API key that can manage service IDs and keys."""
    validation.validate_configuration_name(name)
    _check_api_key_format(api_key)
    _refuse_second_iam_configuration()
    _validate_api_key(api_key)
    config = Configuration(
        name=name,
        config_type=ConfigType.IAM_CREDENTIALS,
        created_by=actor.iam_id,
        disabled=disabled,
    )
    config.save()
    config.set_sealed(crypto.seal(api_key.encode(), context=config.seal_context()))
    config.save(update_fields=["sealed_key_id", "sealed_wrapped_key", "sealed_ciphertext"])
    audit_record(
        actor=actor,
        action="configuration.create",
        object_type="configuration",
        object_id=str(config.pk),
        object_name=name,
    )
    return config


@transaction.atomic
def iam_engine_authorize(*, actor: Actor) -> bool:
    """Create the authorization Secrets Manager → IAM Identity service (role Operator).

    Idempotent: returns False when such an authorization already exists.
    """
    if iam_identity_authorized():
        return False
    get_iam().ensure_authorization(
        actor=actor,
        source_service=SECRETS_MANAGER_SERVICE,
        target_service=IAM_AUTHORIZATION_TARGET,
        target_resource="",
        roles=list(IAM_AUTHORIZATION_ROLES),
    )
    return True


@transaction.atomic
def iam_configuration_create_authorized(*, actor: Actor) -> Configuration:
    """Configure the IAM credentials engine through the service authorization, without an API key.

    Needs the authorization Secrets Manager → IAM Identity service (role Operator) to exist.
    """
    _refuse_second_iam_configuration()
    if not iam_identity_authorized():
        raise ConflictError(
            "Secrets Manager is not authorized to use the IAM Identity service: click Authorize "
            "first (Secrets Manager → IAM Identity service, role Operator), or configure the engine "
            "with an API key."
        )
    config = Configuration.objects.create(
        name=IAM_CONFIGURATION_NAME,
        config_type=ConfigType.IAM_CREDENTIALS,
        created_by=actor.iam_id,
    )
    audit_record(
        actor=actor,
        action="configuration.create",
        object_type="configuration",
        object_id=str(config.pk),
        object_name=config.name,
        detail={"authentication": "service_authorization"},
    )
    return config


@transaction.atomic
def iam_configuration_update(
    *, actor: Actor, api_key: str | None = None, disabled: bool | None = None
) -> Configuration:
    """Replace the engine's API key and/or disable or enable it (the PATCH of sm-api.md §4.10)."""
    config = (
        Configuration.objects.select_for_update()
        .filter(config_type=ConfigType.IAM_CREDENTIALS)
        .first()
    )
    if config is None:
        raise NotFoundError("The IAM credentials engine is not configured yet.")
    changed: list[str] = []
    if api_key is not None:
        _validate_api_key(api_key)
        config.set_sealed(crypto.seal(api_key.encode(), context=config.seal_context()))
        changed.append("api_key")
    if disabled is not None and disabled != config.disabled:
        config.disabled = disabled
        changed.append("disabled")
    if changed:
        config.save(
            update_fields=[
                "sealed_key_id",
                "sealed_wrapped_key",
                "sealed_ciphertext",
                "disabled",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="configuration.update",
            object_type="configuration",
            object_id=str(config.pk),
            object_name=config.name,
            detail={"changed": changed},
        )
    return config


def iam_configuration_api_key(*, actor: Actor, name: str) -> str | None:
    """The IAM credentials engine's API key (GET /api/v2/configurations/{name}), audited.

    None when the engine works through the service authorization and holds no key. The caller
    checks that `actor` may manage configurations.
    """
    config = configuration_get(name=name, config_type=ConfigType.IAM_CREDENTIALS)
    sealed = config.get_sealed()
    if sealed is None:
        return None
    value = crypto.open_sealed(sealed, context=config.seal_context()).decode()
    audit_record(
        actor=actor,
        action="configuration.api_key_read",
        object_type="configuration",
        object_id=str(config.pk),
        object_name=config.name,
    )
    return value


def configurations_using_job(project_id: str, job_name: str) -> list[JobUser]:
    """The configurations backed by a Code Engine job (registered with the provider for the
    job's page)."""
    return [
        JobUser(
            label=f"{c.name} (task timeout {c.task_timeout})",
            url=reverse("engines:config-detail", args=[c.name]),
        )
        for c in Configuration.objects.filter(
            code_engine_project_id=project_id, code_engine_job_name=job_name
        ).order_by("name")
    ]
