"""Add configuration → IAM credentials (the step secrets_app supplies): pick an auto-rotating
IAM credentials secret, or create one without leaving the wizard, and set the task timeout."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from console import validation
from console.identity import actor_for_user
from console.wizards import Step, WizardForm, field_error
from engines_app.models import ConfigType, Configuration
from engines_app.providers.iam import ServiceIdInfo, get_iam
from engines_app.wizards.base import (
    ManagerStepForm,
    authorization_granted_here,
    job_info,
    picked_job,
)
from secrets_app.models import Secret, SecretGroup, SecretType
from secrets_app.permissions import principal_of, require_secret_create, writable_groups
from secrets_app.services.iam_credentials import iam_credentials_secret_create
from secrets_app.wizards.common import ROTATION_UNITS, lease_range

# ---------------------------------------------------------------------------------------------
# 4. IAM credentials


def readable_iam_secrets(user: AbstractBaseUser | AnonymousUser) -> list[Secret]:
    ids = get_iam().group_ids_allowing(principal_of(user), "secret.metadata.read")
    secrets = (
        Secret.objects.filter(secret_type=SecretType.IAM_CREDENTIALS, probe=False)
        .select_related("secret_group")
        .order_by("name")
    )
    if ids is not None:
        secrets = secrets.filter(secret_group_id__in=ids)
    return list(secrets)


def _service_id_label(sid: ServiceIdInfo) -> str:
    roles = get_iam().role_summary(sid.id)
    return f"{sid.name} ({'; '.join(roles)})" if roles else f"{sid.name} (no access policy)"


NEW_IAM_FIELDS = {
    "name": "newiam_name",
    "secret_group_id": "newiam_group",
    "service_id": "newiam_service_id",
    "ttl": "newiam_ttl",
    "rotation": "newiam_interval",
    "reuse_api_key": "newiam_reuse",
}


class IamCredentialsForm(ManagerStepForm):
    api_key_ref = forms.CharField(
        label="IAM credentials secret",
        widget=forms.Select,
        help_text="The job reports back with this secret's API key (SM_ACCESS_APIKEY). The "
        "embedded Code Engine has no trusted profiles, so the configuration needs one.",
    )
    task_timeout = forms.CharField(
        label="Task timeout",
        max_length=6,
        initial=validation.TASK_TIMEOUT_DEFAULT,
        help_text="How long a job run may take before its task fails: 5m to 24h (e.g. 10m, 2h).",
    )
    newiam_name = forms.CharField(
        label="Name", required=False, max_length=validation.SECRET_NAME_MAX
    )
    newiam_group = forms.CharField(label="Secret group", required=False, widget=forms.Select)
    newiam_service_id = forms.CharField(label="Service ID", required=False, widget=forms.Select)
    newiam_ttl = forms.CharField(
        label="Lease duration (TTL)",
        required=False,
        max_length=10,
        initial="90d",
        help_text=f"Required: {lease_range(SecretType.IAM_CREDENTIALS)}, for example 30d.",
    )
    newiam_reuse = forms.BooleanField(
        label="Reuse IAM credentials until lease expires",
        required=False,
        initial=True,
        help_text="Required: only a reused key can rotate automatically.",
    )
    newiam_interval = forms.IntegerField(
        label="Rotate automatically every", required=False, min_value=1, initial=30
    )
    newiam_unit = forms.ChoiceField(
        label="Unit", required=False, choices=ROTATION_UNITS, initial="day"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        secrets = readable_iam_secrets(self.user)
        self.eligible = [s for s in secrets if (s.rotation or {}).get("auto_rotate")]
        self.excluded = [s for s in secrets if not (s.rotation or {}).get("auto_rotate")]
        self.fields["api_key_ref"].widget.choices = [
            (
                "",
                "Select an IAM credentials secret"
                if self.eligible
                else "None yet: create one below",
            ),
            *((str(s.pk), f"{s.name} (in {s.secret_group.name})") for s in self.eligible),
        ]
        self.groups = list(writable_groups(self.user))
        self.fields["newiam_group"].widget.choices = [
            ("", "Select a group"),
            *((g.pk, g.name) for g in self.groups),
        ]
        self.fields["newiam_service_id"].widget.choices = [
            ("", "Select a service ID"),
            *(
                (sid.id, _service_id_label(sid))
                for sid in get_iam().service_ids(assignable_only=True)
            ),
        ]

    @property
    def create_open(self) -> bool:
        return any(self[name].errors for name in NEW_IAM_FIELDS.values()) or bool(
            self.is_bound and self.data.get("wizard_action")
        )

    def clean_api_key_ref(self) -> str:
        value: str = self.cleaned_data["api_key_ref"]
        if value in {str(s.pk) for s in self.eligible}:
            return value
        secret = (
            Secret.objects.filter(pk=value, secret_type=SecretType.IAM_CREDENTIALS).first()
            if validation.UUID_RE.match(value)
            else None
        )
        if secret is None:
            raise ValidationError(
                "That IAM credentials secret no longer exists; select another one."
            )
        if secret in self.excluded:
            raise ValidationError(
                f"IAM credentials secret {secret.name} has no automatic rotation; the configuration "
                "needs one with an auto rotation policy."
            )
        raise PermissionDenied("You cannot read that IAM credentials secret.")

    def clean_task_timeout(self) -> str:
        try:
            text, _ = validation.parse_task_timeout(self.cleaned_data["task_timeout"].strip())
        except ValidationError as exc:
            raise field_error(exc, "task_timeout") from None
        return text

    def draft_values(self) -> dict[str, list[str]]:
        values = super().draft_values()
        for name in NEW_IAM_FIELDS.values():
            values.pop(name, None)
        values.pop("newiam_unit", None)
        return values

    def extra_context(self) -> dict[str, Any]:
        engine = Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first()
        project_id, job_name = picked_job(self.draft)
        job = job_info(project_id, job_name) if authorization_granted_here(self.draft) else None
        return {
            "excluded": self.excluded,
            "iam_engine_ready": engine is not None and not engine.disabled,
            "granted_project": f"{job.project_name} ({job.project_id})" if job else "",
        }


# A rotation interval as typed: ASCII digits (str.isdigit() also takes "²", which int() does not),
# few enough for int() (the service checks the range).
INTERVAL_RE = re.compile(r"^[0-9]{1,6}$")


def create_iam_secret_action(form: WizardForm) -> dict[str, list[str]]:
    """In-context "Create IAM credentials secret": create it with auto rotation and select it."""
    data = form.data
    name = (data.get("newiam_name") or "").strip()
    group_id = (data.get("newiam_group") or "").strip()
    service_id = (data.get("newiam_service_id") or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["newiam_name"] = "Enter a name for the new IAM credentials secret."
    if not group_id:
        errors["newiam_group"] = "Select the secret group to create it in."
    if not service_id:
        errors["newiam_service_id"] = "Select the service ID the job reports as."
    if not data.get("newiam_reuse"):
        errors["newiam_reuse"] = (
            "Reuse must be on: the configuration's IAM credentials secret rotates automatically, "
            "which needs a reused API key."
        )
    interval_text = (data.get("newiam_interval") or "").strip()
    if not INTERVAL_RE.match(interval_text) or int(interval_text) < 1:
        errors["newiam_interval"] = "Enter how often to rotate, a whole number of at least 1."
    unit = data.get("newiam_unit") or "day"
    if unit not in dict(ROTATION_UNITS):
        errors["newiam_unit"] = "Rotate every hour(s), day(s) or month(s)."
    if errors:
        raise ValidationError(errors)
    if SecretGroup.objects.filter(pk=group_id).exists():
        require_secret_create(form.user, group_id)
    try:
        secret = iam_credentials_secret_create(
            actor=actor_for_user(form.user),
            name=name,
            ttl=(data.get("newiam_ttl") or "").strip(),
            reuse_api_key=True,
            service_id=service_id,
            secret_group_id=group_id,
            description="API key a credentials provider job uses to report back to Secrets Manager.",
            rotation={"auto_rotate": True, "interval": int(interval_text), "unit": unit},
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {NEW_IAM_FIELDS.get(k, k): v for k, v in exc.message_dict.items()}
        ) from None
    values = form.draft_values()
    values["api_key_ref"] = [str(secret.pk)]
    return values


# The Add configuration wizard's IAM credentials step (engines_app.wizards.custom_configuration).
KEY_STEP = Step(
    "iam",
    "IAM credentials",
    IamCredentialsForm,
    "wizards/engines/iam.html",
    actions={"create-iam-secret": create_iam_secret_action},
    action_focus={"create-iam-secret": "api_key_ref"},
)
