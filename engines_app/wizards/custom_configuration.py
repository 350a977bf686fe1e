"""Secrets engines → Custom credentials → Add configuration (sm-api.md §8.2, §4.10).

Steps: Configuration name; Code Engine job (region, then the project and job, or a project ID
and job name for a project in another account, with the job's declared schema shown as soon as
a job is picked); Authorize (only while Secrets Manager has no Viewer + Writer authorization on
the project); IAM credentials (an auto-rotating IAM credentials secret, or one created here, and
the task timeout); Review. Every step needs the Manager role on the instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from console import validation
from console.errors import NotFoundError
from console.identity import actor_for_user
from console.wizards import Draft, Step, Wizard, WizardForm, cleaned_steps, field_error
from engines_app import schema as schemas
from engines_app import services as engine_services
from engines_app.models import ConfigType, Configuration
from engines_app.permissions import require_engines_manager
from engines_app.ports import key_secret
from engines_app.providers.code_engine import JobInfo, get_code_engine
from engines_app.providers.iam import SECRETS_MANAGER_SERVICE, get_iam
from engines_app.regions import REGIONS
from engines_app.wizards.base import (
    OTHER_ACCOUNT,
    THIS_ACCOUNT,
    ManagerStepForm,
    authorization_granted_here,
    job_info,
    picked_job,
)

KIND = "custom_configuration"
CE_ROLES = list(engine_services.CE_AUTHORIZATION_ROLES)


# ---------------------------------------------------------------------------------------------
# 1. Configuration name


class NameForm(ManagerStepForm):
    name = forms.CharField(
        label="Configuration name",
        max_length=validation.CONFIGURATION_NAME_MAX,
        help_text="2 to 128 characters: letters, digits, dashes, dots and underscores. "
        "Secrets refer to the configuration by this name; it cannot be changed later.",
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        try:
            validation.validate_configuration_name(name)
        except ValidationError as exc:
            raise field_error(exc, "name") from None
        configs = Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS)
        if configs.filter(name=name).exists():
            raise ValidationError(
                f"A custom credentials configuration named {name!r} already exists."
            )
        if configs.count() >= validation.CUSTOM_CONFIGURATIONS_MAX:
            raise ValidationError(
                f"This instance already has {validation.CUSTOM_CONFIGURATIONS_MAX} custom credentials "
                "configurations, the maximum: delete one before adding another."
            )
        return name


# ---------------------------------------------------------------------------------------------
# 2. Code Engine job


@dataclass(frozen=True)
class SchemaPreview:
    """What a job declares, for display: its parameters and credentials, and any problem."""

    job_name: str
    project_name: str
    parameters: list[schemas.Declaration] = field(default_factory=list)
    credentials: list[schemas.Declaration] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str, schemas.Declaration]]:
        return [("parameter", d) for d in self.parameters] + [
            ("credential", d) for d in self.credentials
        ]


def schema_preview(job: JobInfo) -> SchemaPreview:
    parameters: list[Any] = []
    credentials: list[Any] = []
    for env_name in sorted(job.env):
        if not env_name.startswith(("SMIN_", "SMOUT_")):
            continue
        try:
            decl = schemas.parse_declaration(env_name, str(job.env[env_name]))
        except ValidationError:
            continue  # reported by derive_schema below, with every other problem
        (parameters if decl.kind == "parameter" else credentials).append(decl)
    try:
        schemas.derive_schema(job.env)
        errors: list[str] = []
    except ValidationError as exc:
        errors = list(exc.messages)
    return SchemaPreview(job.name, job.project_name, parameters, credentials, errors)


def job_choices(region: str) -> list[Any]:
    """Jobs grouped by "project (region)"; only the chosen region's when one is chosen."""
    jobs = get_code_engine().list_jobs(region=region or None)
    used = {
        (c.code_engine_project_id, c.code_engine_job_name): c.name
        for c in Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS)
    }
    grouped: dict[str, list[tuple[str, str]]] = {}
    for job in jobs:
        label = job.name
        if (job.project_id, job.name) in used:
            label += f" (used by configuration {used[(job.project_id, job.name)]})"
        grouped.setdefault(f"{job.project_name} ({job.region})", []).append(
            (f"{job.project_id}/{job.name}", label)
        )
    if not grouped:
        return [("", f"No Code Engine job in {region}" if region else "No Code Engine job yet")]
    return [("", "Select a project and job"), *grouped.items()]


class JobForm(ManagerStepForm):
    region = forms.ChoiceField(
        label="Region",
        choices=[("", "Select a region"), *((r, r) for r in REGIONS)],
        help_text="The region where the Code Engine project was created.",
    )
    location = forms.ChoiceField(
        label="Project",
        required=False,
        initial=THIS_ACCOUNT,
        widget=forms.RadioSelect,
        choices=[
            (THIS_ACCOUNT, "Select a project and job of this account"),
            (OTHER_ACCOUNT, "Project in another account: enter its project ID and job name"),
        ],
    )
    job = forms.CharField(label="Project and job", required=False, widget=forms.Select)
    other_project_id = forms.CharField(label="Project ID", required=False, max_length=64)
    other_job_name = forms.CharField(label="Job name", required=False, max_length=63)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["job"].widget.choices = job_choices(self.raw("region"))
        # With htmx, changing the region or the job refreshes the job list and the schema; the
        # "Show schema" button does the same without JavaScript.
        refresh = {
            "hx-post": reverse("wizard-step", args=[KIND, self.draft.id, "job"]),
            "hx-trigger": "change",
            "hx-target": "#wizard-frame",
            "hx-swap": "outerHTML",
            "hx-vals": '{"wizard_action": "show-schema"}',
            # The form's own "find button[type=submit]" would look inside the select.
            "hx-disabled-elt": "#wizard-frame button[type=submit]",
        }
        for name in ("region", "job"):
            self.fields[name].widget.attrs.update(refresh)

    def _picked(self) -> tuple[str, str, str]:
        """(project_id, job_name, the field that names them) from what was entered."""
        if self.raw("location") == OTHER_ACCOUNT:
            return self.raw("other_project_id"), self.raw("other_job_name"), "other_job_name"
        project_id, _, job_name = self.raw("job").partition("/")
        return project_id, job_name, "job"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        other = (cleaned.get("location") or THIS_ACCOUNT) == OTHER_ACCOUNT
        project_id, job_name, job_field = self._picked()
        if other:
            if not project_id:
                self.add_error("other_project_id", "Enter the ID of the Code Engine project.")
            if not job_name:
                self.add_error("other_job_name", "Enter the name of the job in that project.")
        elif not project_id or not job_name:
            self.add_error("job", "Select the job that creates the credentials.")
        region = cleaned.get("region")
        if self.errors or not region:
            return cleaned
        try:
            job = get_code_engine().get_job(project_id=project_id, job_name=job_name, region=region)
        except NotFoundError as exc:
            if other and exc.field == "project_id":
                self.add_error(
                    "other_project_id",
                    f"Project {project_id} is not in the embedded Code Engine. The embedded Code "
                    "Engine only knows the projects of its own account, so a project in another "
                    "account cannot be reached from here: create the project and job in the "
                    "embedded Code Engine, or select one of its jobs.",
                )
            elif other and exc.field == "region":
                self.add_error("region", exc.message)
            else:
                self.add_error(job_field, exc.message)
            return cleaned
        clash = Configuration.objects.filter(
            code_engine_project_id=job.project_id, code_engine_job_name=job.name
        ).first()
        if clash:
            self.add_error(
                job_field,
                f"Job {job.name} already backs configuration {clash.name}; a job serves one configuration.",
            )
            return cleaned
        try:
            schema = schemas.derive_schema(job.env)
        except ValidationError as exc:
            self.add_error(
                job_field,
                [f"Job {job.name} declares an invalid schema: {m}" for m in exc.messages],
            )
            return cleaned
        cleaned.update(
            project_id=job.project_id,
            project_name=job.project_name,
            job_name=job.name,
            job_env=job.env,
            schema=schema,
        )
        return cleaned

    def extra_context(self) -> dict[str, Any]:
        project_id, job_name, _ = self._picked()
        job = job_info(project_id, job_name)
        return {"schema_preview": schema_preview(job) if job else None}


def show_schema_action(form: WizardForm) -> dict[str, list[str]]:
    """Keep what was entered and re-render: the job list follows the region, the schema the job."""
    return form.draft_values()


# ---------------------------------------------------------------------------------------------
# 3. Authorize


def authorize_applies(draft: Draft) -> bool:
    project_id, _ = picked_job(draft)
    return not engine_services.code_engine_authorized(project_id)


# What the Authorize button confirms (a hidden field of the step): the roles it grants.
AUTHORIZE_CONFIRMATION = " and ".join(CE_ROLES)


class AuthorizeForm(ManagerStepForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        project_id, _ = picked_job(self.draft)
        confirmed = self.data.get("authorize") == AUTHORIZE_CONFIRMATION
        if not confirmed and not engine_services.code_engine_authorized(project_id):
            raise ValidationError(
                "Secrets Manager is not authorized to use this Code Engine project yet: click Authorize."
            )
        return cleaned

    def draft_values(self) -> dict[str, list[str]]:
        # What the Authorize action recorded (which project, which authorization) is kept.
        return self.draft.raw("authorize")

    def extra_context(self) -> dict[str, Any]:
        project_id, job_name = picked_job(self.draft)
        job = job_info(project_id, job_name)
        return {
            "confirmation": AUTHORIZE_CONFIRMATION,
            "grant": {
                "source": "Secrets Manager",
                "target": f"Code Engine project {job.project_name if job else '?'} ({project_id})",
                "roles": AUTHORIZE_CONFIRMATION,
            },
        }


def authorize(form: WizardForm) -> dict[str, list[str]]:
    """The Authorize button: create the authorization Secrets Manager → Code Engine project
    (Viewer, Writer), unless it exists.

    The step then no longer applies, so the wizard goes on to the next step. What was granted
    stays in the draft for the Review step.
    """
    draft = form.draft
    project_id, job_name = picked_job(draft)
    get_code_engine().get_job(project_id=project_id, job_name=job_name)  # NotFoundError: 422
    if engine_services.code_engine_authorized(project_id):
        previous = draft.raw("authorize")
        if previous.get("project_id") == [project_id]:
            return previous
        return {"project_id": [project_id]}
    authorization = get_iam().ensure_authorization(
        actor=actor_for_user(form.user),
        source_service=SECRETS_MANAGER_SERVICE,
        target_service="codeengine",
        target_resource=project_id,
        roles=CE_ROLES,
    )
    return {"project_id": [project_id], "authorization_id": [str(authorization.pk)]}


# ---------------------------------------------------------------------------------------------
# 5. Review


class ReviewForm(ManagerStepForm):
    def extra_context(self) -> dict[str, Any]:
        cleaned = cleaned_steps(self.draft, self.user)
        name, job, creds = cleaned.get("name"), cleaned.get("job"), cleaned.get("iam")
        if not (name and job and creds):
            return {}
        key = key_secret(creds["api_key_ref"])
        key_name = key.name if key else creds["api_key_ref"]
        schema = job["schema"]
        parameters = [p["name"] for p in schema["parameters"]]
        credentials = [c["name"] for c in schema["credentials"]]
        project = f"{job['project_name']} ({job['project_id']})"
        summary = [
            ("Name", name["name"]),
            ("Region", job["region"]),
            ("Code Engine project", project),
            ("Job", job["job_name"]),
            ("Parameters", ", ".join(parameters) or "none"),
            ("Credentials", ", ".join(credentials)),
            ("IAM credentials secret", f"{key_name} ({creds['api_key_ref']})"),
            ("Task timeout", creds["task_timeout"]),
        ]
        effects = [
            f"Will create configuration {name['name']} for job {job['job_name']} in project "
            f"{project}, region {job['region']}, with the schema above.",
        ]
        if authorization_granted_here(self.draft):
            effects.append(
                f"Granted in this run, when you clicked Authorize: Secrets Manager (source) → "
                f"Code Engine project {project} (target), roles {' and '.join(CE_ROLES)}."
            )
        retention = job["job_env"].get("CE_REMOVE_COMPLETED_JOBS")
        if retention:
            effects.append(
                f"Will set SM_ACCESS_APIKEY_REF (a new sm-access-… reference) on job "
                f"{job['job_name']}; CE_REMOVE_COMPLETED_JOBS stays {retention}, as the job sets it."
            )
        else:
            effects.append(
                f"Will set CE_REMOVE_COMPLETED_JOBS=IMMEDIATELY and SM_ACCESS_APIKEY_REF (a new "
                f"sm-access-… reference) on job {job['job_name']}."
            )
        effects.append(
            f"Each run of the job will get the API key of {key_name} as SM_ACCESS_APIKEY."
        )
        body = {
            "config_type": ConfigType.CUSTOM_CREDENTIALS.value,
            "name": name["name"],
            "api_key_ref": str(creds["api_key_ref"]),
            "code_engine": {
                "job_name": job["job_name"],
                "project_id": job["project_id"],
                "region": job["region"],
            },
            "task_timeout": creds["task_timeout"],
        }
        return {
            "summary": summary,
            "effects": effects,
            "api_method": "POST /api/v2/configurations",
            "api_body": json.dumps(body, indent=2),
        }


def finish(
    *, request: Any, draft: Draft, cleaned: dict[str, dict[str, Any]], form: WizardForm
) -> str:
    require_engines_manager(request.user)
    job, creds = cleaned["job"], cleaned["iam"]
    config = engine_services.custom_configuration_create(
        actor=actor_for_user(request.user),
        name=cleaned["name"]["name"],
        region=job["region"],
        project_id=job["project_id"],
        job_name=job["job_name"],
        api_key_ref=creds["api_key_ref"],
        task_timeout=creds["task_timeout"],
    )
    messages.success(
        request,
        f"Configuration {config.name} is added. Test it now: the job creates credentials and "
        "deletes them again.",
    )
    return reverse("engines:config-detail", args=[config.name])


def build_wizard(*, key_step: Step) -> Wizard:
    """The Add configuration wizard around `key_step`, the step that picks (or creates in
    context) the IAM credentials secret. That step is about secrets, so secrets_app supplies
    it and registers the wizard; engines_app never imports secrets_app."""
    return Wizard(
        kind=KIND,
        title="Add configuration",
        steps=(
            Step("name", "Configuration name", NameForm, "wizards/engines/name.html"),
            Step(
                "job",
                "Code Engine job",
                JobForm,
                "wizards/engines/job.html",
                actions={"show-schema": show_schema_action},
                action_focus={"show-schema": "job"},
            ),
            Step(
                "authorize",
                "Authorize",
                AuthorizeForm,
                "wizards/engines/authorize.html",
                applies=authorize_applies,
                submit_label="Authorize",
                perform=authorize,
            ),
            key_step,
            Step("review", "Review", ReviewForm, "wizards/engines/review.html"),
        ),
        finish=finish,
        cancel_url="/engines/?tab=custom",
        submit_label="Add",
        require=require_engines_manager,
    )
