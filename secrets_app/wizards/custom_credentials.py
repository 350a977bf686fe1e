"""Add secret → Custom credentials (sm-api.md §8.1): Details, Configuration, Parameters, Lease and
rotation, Review.

The Parameters step is generated at runtime from the chosen configuration's schema: one typed
input per declared parameter, validated by the same JSON Schema the API applies, with each message
shown beside its input. Values keep their JSON types (integers and booleans) from the draft's raw
text through to the service. The secret starts in Pre-activation; its create_credentials task runs
the configuration's Code Engine job, and the secret's page follows the status live.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TypedDict

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.boundfield import BoundField

from console.errors import ServiceError
from console.identity import actor_for_user
from console.wizards import Draft, Step, Wizard, WizardForm, cleaned_steps, field_error
from engines_app import schema as schemas
from engines_app.models import ConfigType, Configuration
from engines_app.providers.code_engine import get_code_engine
from engines_app.providers.iam import get_iam
from secrets_app.models import Secret, SecretType
from secrets_app.permissions import principal_of, require_secret_create, require_some_writable_group
from secrets_app.services.custom_credentials import (
    configuration_get,
    custom_credentials_secret_create,
)
from secrets_app.wizards.common import (
    DetailsForm,
    LeaseRotationForm,
    create_group_action,
    details_api_body,
    details_kwargs,
    details_rows,
    lease_rows,
    secret_url,
)

SECRET_TYPE = SecretType.CUSTOM_CREDENTIALS
INTEGER_RE = re.compile(r"^[+-]?[0-9]+$")
PARAM_PREFIX = "param_"  # the input carrying a parameter's value
TYPED_ID_PREFIX = "paramid_"  # a secret_id parameter's free-text id, next to its select


def configurations() -> QuerySet[Configuration]:
    return Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS).order_by("name")


def chosen_configuration(draft: Draft) -> Configuration | None:
    """The configuration picked on the Configuration step, or None if it is gone."""
    name = draft.value("configuration", "configuration")
    return configurations().filter(name=name).first() if name else None


def readable_secrets(user: Any) -> QuerySet[Secret]:
    """Secrets whose value the user may read (SecretsReader or more on their group)."""
    group_ids = get_iam().group_ids_allowing(principal_of(user), "secret.read")
    secrets = (
        Secret.objects.filter(probe=False).select_related("secret_group").order_by("name", "id")
    )
    return secrets if group_ids is None else secrets.filter(secret_group_id__in=group_ids)


def job_label(config: Configuration) -> str:
    return f"{config.name} — job {config.code_engine_job_name}, {config.code_engine_region}"


def project_name(config: Configuration) -> str:
    try:
        job = get_code_engine().get_job(
            project_id=config.code_engine_project_id,
            job_name=config.code_engine_job_name,
            region=config.code_engine_region,
        )
    except ServiceError:
        return config.code_engine_project_id
    return job.project_name


def parameter_names(config: Configuration) -> list[tuple[str, bool]]:
    try:
        return [(d.name, d.required) for d in schemas.declarations(config.schema, "parameter")]
    except ValidationError:
        return []


# ---------------------------------------------------------------------------------------------
# Step 2: the configuration


class ConfigurationChoice(TypedDict):
    config: Configuration
    parameters: list[tuple[str, bool]]


class ConfigurationForm(WizardForm):
    # A CharField with a select widget: a configuration deleted since the page was shown gets
    # "no longer exists", not "not one of the choices".
    configuration = forms.CharField(
        label="Custom credentials configuration",
        widget=forms.Select,
        help_text="The configuration decides which Code Engine job creates the credentials.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configurations: list[ConfigurationChoice] = [
            {"config": c, "parameters": parameter_names(c)} for c in configurations()
        ]
        self.fields["configuration"].widget.choices = [
            ("", "Select a configuration"),
            *((item["config"].name, job_label(item["config"])) for item in self.configurations),
        ]

    def clean_configuration(self) -> str:
        name: str = self.cleaned_data["configuration"]
        try:
            configuration_get(name)
        except ValidationError as exc:
            message = field_error(exc, "configuration").messages[0]
            raise ValidationError(
                f"{message} It may have been deleted; pick another configuration."
            ) from None
        return name

    def draft_values(self) -> dict[str, list[str]]:
        # Parameters entered for another configuration do not carry over to this one.
        if self.draft.value("configuration", "configuration") != self.cleaned_data.get(
            "configuration"
        ):
            self.draft.drop("parameters")
        return super().draft_values()


# ---------------------------------------------------------------------------------------------
# Step 3: the parameters, generated from the configuration's schema


@dataclass(frozen=True)
class ParameterInput:
    """What the template needs to render one declared parameter."""

    declaration: schemas.Declaration
    field: BoundField
    typed_id: BoundField | None  # secret_id only: the free-text id input

    @property
    def errors(self) -> list[str]:
        return [*self.field.errors, *(self.typed_id.errors if self.typed_id else [])]


class ParametersForm(WizardForm):
    """One input per parameter of the chosen configuration; validated against its schema."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = chosen_configuration(self.draft)
        self.configuration_name = self.draft.value("configuration", "configuration")
        self.declarations: list[schemas.Declaration] = []
        self.schema_problem = ""
        if self.configuration is not None:
            try:
                self.declarations = schemas.declarations(self.configuration.schema, "parameter")
            except ValidationError as exc:
                self.schema_problem = " ".join(exc.messages)
        self.secret_choices: list[tuple[str, str]] = []
        if any(d.type == "secret_id" for d in self.declarations):
            self.secret_choices = [
                (str(s.pk), f"{s.name} ({s.get_secret_type_display()}, {s.secret_group.name})")
                for s in readable_secrets(self.user)
            ]
        for decl in self.declarations:
            self._add_fields(decl)

    def _add_fields(self, decl: schemas.Declaration) -> None:
        # Django's own "required" check is off: the schema validator reports missing values, so
        # every message about a parameter comes from the same rules the API applies (validation
        # is server-side only; aria-required tells assistive technology).
        name = PARAM_PREFIX + decl.name
        aria_required = {"aria-required": "true"} if decl.required else {}
        help_text = f"Format: {decl.format}"
        if decl.type == "boolean":
            self.fields[name] = forms.BooleanField(
                required=False, label=decl.name, help_text=help_text
            )
        elif decl.type == "integer":
            self.fields[name] = forms.CharField(
                required=False,
                label=decl.name,
                help_text=f"{help_text}. A whole number.",
                widget=forms.NumberInput(attrs={"step": 1, **aria_required}),
            )
        elif decl.type == "enum":
            placeholder = "Select a value" if decl.required else "Not set"
            self.fields[name] = forms.CharField(
                required=False,
                label=decl.name,
                help_text=help_text,
                widget=forms.Select(
                    choices=[("", placeholder), *((o, o) for o in decl.options)],
                    attrs=aria_required,
                ),
            )
        elif decl.type == "secret_id":
            self.fields[name] = forms.CharField(
                required=False,
                label=decl.name,
                help_text=f"{help_text}. Pick a secret you can read, or enter the ID of another one.",
                widget=forms.Select(choices=[("", "Select a secret"), *self.secret_choices]),
            )
            self.fields[TYPED_ID_PREFIX + decl.name] = forms.CharField(
                required=False,
                max_length=64,
                label=f"…or enter the ID of the secret for {decl.name}",
                widget=forms.TextInput(
                    attrs={"placeholder": "e.g. 0b5571f7-21e6-4d4a-8d63-3c5a9b0c5d1e"}
                ),
            )
        else:
            self.fields[name] = forms.CharField(
                required=False,
                label=decl.name,
                help_text=help_text,
                widget=forms.TextInput(attrs=aria_required),
            )

    def parameter_inputs(self) -> list[ParameterInput]:
        return [
            ParameterInput(
                declaration=decl,
                field=self[PARAM_PREFIX + decl.name],
                typed_id=self[TYPED_ID_PREFIX + decl.name] if decl.type == "secret_id" else None,
            )
            for decl in self.declarations
        ]

    def _value(self, decl: schemas.Declaration, cleaned: dict[str, Any]) -> Any:
        """The JSON value of one parameter, or None when it was left empty."""
        raw = cleaned.get(PARAM_PREFIX + decl.name)
        if decl.type == "boolean":
            return bool(raw)
        if decl.type == "secret_id":
            typed = (cleaned.get(TYPED_ID_PREFIX + decl.name) or "").strip()
            if typed:
                return typed
            if raw and raw not in {value for value, _ in self.secret_choices}:
                self.add_error(
                    PARAM_PREFIX + decl.name,
                    "That secret is not one you can read any more; pick another or enter its ID.",
                )
                return None
            return raw or None
        text = raw or ""
        if text == "":
            return None
        if decl.type == "integer" and INTEGER_RE.match(text):
            try:
                return int(text)
            except ValueError:  # more digits than Python converts; the schema check reports it
                return text
        return text

    def _field_for(self, message: str) -> str | None:
        """The input a schema message is about: messages start with the parameter's name."""
        matches = [d for d in self.declarations if message.startswith(f"{d.name} ")]
        if not matches:
            return None
        decl = max(matches, key=lambda d: len(d.name))
        typed_key = TYPED_ID_PREFIX + decl.name
        if decl.type == "secret_id" and self.cleaned_data.get(typed_key):
            return typed_key
        return PARAM_PREFIX + decl.name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        if self.configuration is None:
            raise ValidationError(
                f"The configuration {self.configuration_name!r} no longer exists. "
                "Go back to the Configuration step and pick another one."
            )
        if self.schema_problem:
            raise ValidationError(
                f"The schema of configuration {self.configuration.name} is unusable: {self.schema_problem}"
            )
        values: dict[str, Any] = {}
        for decl in self.declarations:
            value = self._value(decl, cleaned)
            if value is not None:
                values[decl.name] = value
        try:
            schemas.validate_against(
                self.configuration.schema, values, kind="parameter", field="parameters"
            )
        except ValidationError as exc:
            for message in exc.message_dict.get("parameters", exc.messages):
                field = self._field_for(message)
                if field is None or field not in self.errors:
                    # (a picked secret that is no longer readable has said so already)
                    self.add_error(field, message)
        cleaned["configuration"] = self.configuration.name
        cleaned["parameters"] = values
        return cleaned


# ---------------------------------------------------------------------------------------------
# Step 5: review


def _display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class ReviewForm(WizardForm):
    """Nothing to enter: the summary, what Add does, and the equivalent API request."""

    def extra_context(self) -> dict[str, Any]:
        cleaned = cleaned_steps(self.draft, self.user)
        details = cleaned.get("details")
        chosen = cleaned.get("configuration")
        parameters = cleaned.get("parameters")
        lease = cleaned.get("lease")
        config = configurations().filter(name=(chosen or {}).get("configuration")).first()
        if not (details and config and parameters and lease):
            return {"review_incomplete": True}
        assert chosen is not None  # config was looked up by chosen's name
        project = project_name(config)
        values: dict[str, Any] = parameters["parameters"]
        summary = [
            *details_rows(details),
            ("Configuration", chosen["configuration"]),
            (
                "Code Engine job",
                f"{config.code_engine_job_name} in project {project} ({config.code_engine_region})",
            ),
            *((f"Parameter {key}", _display(value)) for key, value in values.items()),
            *lease_rows(lease),
        ]
        body = details_api_body(details, SECRET_TYPE)
        body["configuration"] = chosen["configuration"]
        body["parameters"] = values
        if lease.get("ttl"):
            body["ttl"] = lease["ttl"]
        if lease.get("rotation"):
            body["rotation"] = lease["rotation"]
        return {
            "summary": summary,
            "effects": [
                f"Create the custom credentials secret {details['name']} in Pre-activation.",
                f"Queue a create_credentials task that runs Code Engine job "
                f"{config.code_engine_job_name} in project {project}; the secret becomes Active "
                "when the job reports the credentials.",
            ],
            "api_body": json.dumps(body, indent=2),
        }


def finish(
    *, request: Any, draft: Draft, cleaned: dict[str, dict[str, Any]], form: WizardForm
) -> str:
    details = cleaned["details"]
    lease = cleaned["lease"]
    require_secret_create(request.user, details["secret_group"])
    secret = custom_credentials_secret_create(
        actor=actor_for_user(request.user),
        **details_kwargs(details),
        configuration=cleaned["configuration"]["configuration"],
        parameters=cleaned["parameters"]["parameters"],
        ttl=lease.get("ttl") or None,
        rotation=lease.get("rotation"),
    )
    messages.success(
        request,
        f"Custom credentials secret {secret.name} is added. It stays in Pre-activation until "
        "the credentials provider job has created the credentials; this page follows it.",
    )
    return secret_url(secret)


WIZARD = Wizard(
    kind="custom_credentials",
    title="Add a custom credentials secret",
    steps=(
        Step(
            "details",
            "Details",
            DetailsForm.for_type(SECRET_TYPE),
            "wizards/secrets/details.html",
            actions={"create-group": create_group_action},
            action_focus={"create-group": "secret_group"},
        ),
        Step(
            "configuration",
            "Configuration",
            ConfigurationForm,
            "wizards/secrets/custom_configuration.html",
        ),
        Step("parameters", "Parameters", ParametersForm, "wizards/secrets/custom_parameters.html"),
        Step(
            "lease",
            "Lease and rotation",
            LeaseRotationForm.for_type(SECRET_TYPE),
            "wizards/secrets/custom_lease.html",
        ),
        Step("review", "Review", ReviewForm, "wizards/secrets/custom_review.html"),
    ),
    finish=finish,
    cancel_url="/secrets/",
    require=require_some_writable_group,
)
