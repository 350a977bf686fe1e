"""Add secret → Service credentials (sm-api.md §8.4, docs/service-credentials.md).

Steps: Details; Service instance (a service, then one of its instances, or a CRN); Authorize
(only while Secrets Manager lacks Key Manager on that instance); Credentials (IAM role, service
ID, HMAC for Cloud Object Storage); Lease and rotation; Review. Finish creates the secret, whose
first version holds the credentials of a new resource key named after it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from console.identity import actor_for_user
from console.wizards import Draft, Step, Wizard, WizardForm, cleaned_steps
from engines_app.providers.iam import get_iam
from engines_app.providers.resource_controller import (
    ServiceInfo,
    ServiceInstanceInfo,
    get_resource_controller,
)
from secrets_app.models import SecretType
from secrets_app.permissions import principal_of, require_secret_create, require_some_writable_group
from secrets_app.services.service_credentials import (
    KEY_MANAGER,
    NO_ROLE,
    authorize_service_instance,
    instance_authorized,
    instance_lookup,
    service_credentials_secret_create,
    service_info,
    serviceid_problem,
    source_service_body,
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

KIND = "service_credentials"
# sm-api.md §4.2: 9 to 512 characters.
CRN_RE = re.compile(r"^crn:v[0-9](:([A-Za-z0-9\-._~!$&'()*+,;=@/]|%[0-9A-Z]{2})*){8}$")
SERVICEID_GENERATE, SERVICEID_EXISTING = "generate", "existing"


def _step_url(draft: Draft, step: str) -> str:
    return reverse("wizard-step", args=[KIND, draft.id, step])


def chosen_instance_crn(draft: Draft) -> str:
    """The instance the Service instance step names (its CRN field wins over the list)."""
    return draft.value("instance", "crn").strip() or draft.value("instance", "instance")


def chosen_instance(draft: Draft) -> ServiceInstanceInfo | None:
    return instance_lookup(chosen_instance_crn(draft))


def authorization_missing(draft: Draft) -> bool:
    """Whether the Authorize step applies. Until an instance is chosen it may be needed."""
    instance = chosen_instance(draft)
    return instance is None or not instance_authorized(instance)


def may_authorize(user: Any) -> bool:
    """Authorizing Secrets Manager on a service is instance configuration: Manager only."""
    return get_iam().is_allowed(principal_of(user), "configuration.manage", secret_group_id=None)


# ---------------------------------------------------------------------------------------------
# Service instance


class InstanceForm(WizardForm):
    """A service, then one of its instances, or an instance CRN instead."""

    # CharFields with select widgets: clean() tells a stale choice from a mismatched one.
    service = forms.CharField(required=False, label="Service", widget=forms.Select)
    instance = forms.CharField(required=False, label="Service instance", widget=forms.Select)
    crn = forms.CharField(
        required=False,
        max_length=512,
        label="…or enter the instance's CRN",
        help_text="e.g. crn:v1:bluemix:public:cloud-object-storage:global:a/<account>:<guid>::",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rc = get_resource_controller()
        self.services: list[ServiceInfo] = rc.list_services()
        self.instances: list[ServiceInstanceInfo] = rc.list_instances()
        source = self.data if self.is_bound else self.initial
        selected = str(source.get("service") or "")
        self.selected_service = service_info(selected) if selected else None
        self.fields["service"].widget.choices = [
            ("", "Any service"),
            *((s.key, s.label) for s in self.services),
        ]
        groups = []
        for service in self.services:
            if self.selected_service and service.key != self.selected_service.key:
                continue
            members = [
                (i.crn, f"{i.name} ({i.region})")
                for i in self.instances
                if i.service == service.key
            ]
            if members:
                groups.append((service.label, members))
        if groups:
            placeholder = "Select an instance"
        elif self.selected_service:
            placeholder = f"No {self.selected_service.label} instance yet: enter a CRN"
        else:
            placeholder = "No service instance yet: enter a CRN"
        self.fields["instance"].widget.choices = [("", placeholder), *groups]
        count = sum(len(members) for _, members in groups)
        self.instance_summary = (
            f"Service instance list updated: {count} instance{'s' if count != 1 else ''}"
            f"{' of ' + self.selected_service.label if self.selected_service else ''}."
        )
        # With JavaScript, choosing a service narrows the instance list at once. Only the list is
        # swapped: the service select keeps the focus, and a CRN typed meanwhile is kept.
        self.fields["service"].widget.attrs.update(
            {
                "hx-post": _step_url(self.draft, "instance"),
                "hx-trigger": "change",
                "hx-target": "#instance-choice",
                "hx-select": "#instance-choice",
                "hx-swap": "outerHTML",
                "hx-vals": json.dumps({"wizard_action": "pick-service"}),
                # The frame's own hx-disabled-elt is relative to the form, not to this select.
                "hx-disabled-elt": "#wizard-frame .form-actions button[type=submit]",
            }
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        service_key = cleaned.get("service") or ""
        selected = service_info(service_key) if service_key else None
        if service_key and selected is None:
            self.add_error("service", "Choose one of the listed services.")
            return cleaned
        listed = cleaned.get("instance") or ""
        crn = (cleaned.get("crn") or "").strip()
        if listed and crn and listed != crn:
            self.add_error(
                "crn", "Choose an instance from the list or enter a CRN, not both: clear one."
            )
            return cleaned
        if not listed and not crn:
            self.add_error("instance", "Select a service instance, or enter its CRN.")
            return cleaned
        field = "crn" if crn else "instance"
        if crn and (len(crn) < 9 or not CRN_RE.match(crn)):
            self.add_error(
                "crn",
                "This is not a CRN. An instance CRN looks like "
                "crn:v1:bluemix:public:<service>:<region>:a/<account>:<guid>::",
            )
            return cleaned
        instance = instance_lookup(crn or listed)
        if instance is None:
            self.add_error(
                field,
                "There is no service instance with this CRN."
                if crn
                else "That service instance no longer exists; pick another one.",
            )
            return cleaned
        service = service_info(instance.service)
        if service is None:
            self.add_error(
                field, f"Instance {instance.name} belongs to a service without service credentials."
            )
            return cleaned
        if selected is not None and selected.key != service.key:
            self.add_error(
                field,
                f"{instance.name} is a {service.label} instance, not {selected.label}. Pick an "
                "instance of the selected service, or change the service.",
            )
            return cleaned
        cleaned["instance_info"] = instance
        cleaned["service_info"] = service
        cleaned["instance_crn"] = instance.crn
        return cleaned

    def draft_values(self) -> dict[str, list[str]]:
        values = super().draft_values()
        forget_dependent_steps(self.draft, values)
        return values


def forget_dependent_steps(draft: Draft, values: dict[str, list[str]]) -> None:
    """Drop the answers that depend on the instance when the step's new values change it: an
    authorization covers one instance, and roles and HMAC depend on the service."""
    before = instance_lookup(chosen_instance_crn(draft))
    if before is None:
        return
    after = instance_lookup(
        (values.get("crn") or [""])[0].strip() or (values.get("instance") or [""])[0]
    )
    if after is None or after.crn != before.crn:
        draft.drop("authorize")
    if after is None or after.service != before.service:
        draft.drop("credentials")


def pick_service_action(form: WizardForm) -> dict[str, list[str]]:
    """Narrow the instance list to one service (the service select posts this with htmx)."""
    service_key = (form.data.get("service") or "").strip()
    if service_key and service_info(service_key) is None:
        raise ValidationError({"service": "Choose one of the listed services."})
    values = WizardForm.draft_values(form)
    listed = instance_lookup(form.data.get("instance") or "")
    if service_key and (listed is None or listed.service != service_key):
        values.pop("instance", None)
    forget_dependent_steps(form.draft, values)
    return values


# ---------------------------------------------------------------------------------------------
# Authorize


class AuthorizeForm(WizardForm):
    """The role to grant (Key Manager, preselected); `grant_authorization` then creates it.

    Key Manager is the one role of a service-to-service authorization that lets Secrets Manager
    create and delete resource keys, so it is the only choice offered, visibly, as the docs'
    "click Authorize and select Key Manager" has it. The choice never reaches the draft, so
    checking the step again from the draft (at finish) reports a missing authorization instead of
    creating one.
    """

    authorize = forms.ChoiceField(
        required=False,  # clean() explains a missing choice in the words of the docs
        label="Role to grant",
        choices=[(KEY_MANAGER, KEY_MANAGER)],
        initial=KEY_MANAGER,
        widget=forms.RadioSelect,
        help_text=(
            "Key Manager lets Secrets Manager create and delete service credentials (resource "
            "keys) on this instance; it is the role this authorization needs."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = chosen_instance(self.draft)
        self.service = service_info(self.instance.service) if self.instance else None
        self.can_authorize = may_authorize(self.user)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        if self.instance is None:
            raise ValidationError("Choose a service instance first (step Service instance).")
        if instance_authorized(self.instance):
            return cleaned
        if cleaned.get("authorize") != KEY_MANAGER:
            if "authorize" not in self.errors:
                self.add_error(
                    "authorize",
                    f"Secrets Manager is not authorized to access {self.instance.name}: "
                    "select Key Manager and click Authorize to grant it the role.",
                )
            return cleaned
        if not self.can_authorize:
            raise ValidationError(
                "You need the Manager role on this Secrets Manager instance to authorize it. "
                "Ask a Manager to authorize this service instance, then continue."
            )
        return cleaned

    def draft_values(self) -> dict[str, list[str]]:
        return {"instance_crn": [self.instance.crn]} if self.instance else {}


def grant_authorization(form: WizardForm) -> None:
    """The Authorize step's button: grant Key Manager on the chosen instance (idempotent)."""
    instance = chosen_instance(form.draft)
    if instance is not None and not instance_authorized(instance):
        authorize_service_instance(actor=actor_for_user(form.user), instance_crn=instance.crn)


# ---------------------------------------------------------------------------------------------
# Credentials


class CredentialsForm(WizardForm):
    role = forms.CharField(
        label="IAM role",
        widget=forms.Select,
        error_messages={"required": "Choose an IAM role, or None."},
        help_text=(
            "Choose None when the existing service ID you select below already has access "
            "policies on this instance."
        ),
    )
    serviceid_mode = forms.ChoiceField(
        label="Service ID",
        choices=[
            (SERVICEID_GENERATE, "Generate one automatically"),
            (SERVICEID_EXISTING, "Use an existing service ID"),
        ],
        initial=SERVICEID_GENERATE,
        widget=forms.RadioSelect,
    )
    serviceid = forms.CharField(required=False, label="Existing service ID", widget=forms.Select)
    serviceid_crn = forms.CharField(
        required=False, max_length=255, label="…or enter a service ID CRN"
    )
    hmac = forms.BooleanField(
        required=False,
        label="HMAC credentials",
        help_text="Adds an access key ID and a secret access key, for S3-compatible tools.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = chosen_instance(self.draft)
        self.service = service_info(self.instance.service) if self.instance else None
        roles = list(self.service.roles) if self.service else []
        self.role_choices = {r.crn: r.name for r in roles}
        self.fields["role"].widget.choices = [
            ("", "Select a role"),
            *((r.crn, r.name) for r in roles),
            (NO_ROLE, "None (use the service ID's own access policies)"),
        ]
        self.service_ids = {sid.crn: sid for sid in get_iam().service_ids(assignable_only=True)}
        self.fields["serviceid"].widget.choices = [
            ("", "Select a service ID"),
            *((crn, f"{sid.name} ({sid.id})") for crn, sid in self.service_ids.items()),
        ]
        self.hmac_supported = bool(self.service and self.service.hmac)

    def clean_role(self) -> str | None:
        value: str = self.cleaned_data["role"]
        if value == NO_ROLE:
            return None
        if value not in self.role_choices:
            label = self.service.label if self.service else "This service"
            raise ValidationError(f"{label} does not offer that role; choose one of the list.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        cleaned["serviceid_value"] = None
        if cleaned.get("serviceid_mode") == SERVICEID_EXISTING:
            listed = cleaned.get("serviceid") or ""
            typed = (cleaned.get("serviceid_crn") or "").strip()
            if listed and typed and listed != typed:
                self.add_error("serviceid_crn", "Select a service ID or enter a CRN, not both.")
            elif not listed and not typed:
                self.add_error("serviceid", "Select a service ID, or enter its CRN.")
            elif listed and not typed and listed not in self.service_ids:
                self.add_error(
                    "serviceid", "That service ID no longer exists or is locked; pick another one."
                )
            elif problem := serviceid_problem(typed or listed):
                self.add_error("serviceid_crn" if typed else "serviceid", problem)
            else:
                cleaned["serviceid_value"] = typed or listed
        if cleaned.get("hmac") and not self.hmac_supported:
            label = self.service.label if self.service else "This service"
            self.add_error(
                "hmac",
                f"HMAC credentials exist only for Cloud Object Storage; {label} does not support them.",
            )
        return cleaned


# ---------------------------------------------------------------------------------------------
# Lease and Review


def serviceid_label(crn: str | None) -> str:
    if not crn:
        return "generated for this secret"
    sid = get_iam().service_id_info(crn.rsplit(":", 1)[-1])
    return f"{sid.name} ({sid.id})" if sid and sid.crn == crn else crn


ServiceLeaseForm = LeaseRotationForm.for_type(SecretType.SERVICE_CREDENTIALS)


class ReviewForm(WizardForm):
    def extra_context(self) -> dict[str, Any]:
        cleaned = cleaned_steps(self.draft, self.user)
        details, chosen = cleaned.get("details"), cleaned.get("instance")
        creds, lease = cleaned.get("credentials"), cleaned.get("lease")
        if not (details and chosen and creds and lease):
            return {}
        instance: ServiceInstanceInfo = chosen["instance_info"]
        service: ServiceInfo = chosen["service_info"]
        role_crn: str | None = creds["role"]
        role_name = next((r.name for r in service.roles if r.crn == role_crn), NO_ROLE)
        serviceid = creds["serviceid_value"]
        sid_label = serviceid_label(serviceid)
        body = details_api_body(details, SecretType.SERVICE_CREDENTIALS)
        if lease.get("ttl_seconds"):
            body["ttl"] = str(lease["ttl_seconds"])
        if lease.get("rotation"):
            body["rotation"] = lease["rotation"]
        source = source_service_body(
            instance_crn=instance.crn,
            role_crn=role_crn,
            hmac=bool(creds.get("hmac")),
            serviceid_crn=serviceid,
        )
        if not source["parameters"]:
            del source["parameters"]  # optional in the API; the wizard sends none then
        body["source_service"] = source
        effects = [
            f"Create the resource key {details['name']} with the role {role_name} on "
            f"{service.label} instance {instance.name}.",
            f"Attach it to the service ID {sid_label}."
            if serviceid
            else "Generate a new service ID for the key; it is deleted with the secret.",
        ]
        if role_crn is None:
            effects.append(
                "The key gets no role of its own: the service ID's access policies decide what it may do."
            )
        if creds.get("hmac"):
            effects.append("Include HMAC keys in the credentials.")
        effects.append(
            f"Store the key's credentials as the first version of the service credentials "
            f"secret {details['name']}, encrypted at rest."
        )
        return {
            "summary": [
                *details_rows(details),
                ("Service", service.label),
                ("Service instance", f"{instance.name} ({instance.crn})"),
                ("IAM role", role_name),
                ("Service ID", sid_label),
                *(
                    [("HMAC credentials", "yes" if creds.get("hmac") else "no")]
                    if service.hmac
                    else []
                ),
                *lease_rows(lease),
            ],
            "effects": effects,
            "api_body": json.dumps(body, indent=2),
        }


def finish(
    *, request: Any, draft: Draft, cleaned: dict[str, dict[str, Any]], form: WizardForm
) -> str:
    details, chosen = cleaned["details"], cleaned["instance"]
    creds, lease = cleaned["credentials"], cleaned["lease"]
    require_secret_create(request.user, details["secret_group"])
    secret = service_credentials_secret_create(
        actor=actor_for_user(request.user),
        **details_kwargs(details),
        instance_crn=chosen["instance_crn"],
        role=creds["role"],
        serviceid_crn=creds["serviceid_value"],
        hmac=bool(creds.get("hmac")),
        ttl=lease.get("ttl") or None,
        rotation=lease.get("rotation"),
    )
    messages.success(
        request,
        f"Service credentials secret {secret.name} is added, with the resource key "
        f"{secret.name} on instance {chosen['instance_info'].name}.",
    )
    return secret_url(secret)


WIZARD = Wizard(
    kind=KIND,
    title="Add service credentials",
    steps=(
        Step(
            "details",
            "Details",
            DetailsForm.for_type(SecretType.SERVICE_CREDENTIALS),
            "wizards/secrets/details.html",
            actions={"create-group": create_group_action},
            action_focus={"create-group": "secret_group"},
        ),
        Step(
            "instance",
            "Service instance",
            InstanceForm,
            "wizards/secrets/service_instance.html",
            actions={"pick-service": pick_service_action},
            action_focus={"pick-service": "instance"},
        ),
        Step(
            "authorize",
            "Authorize",
            AuthorizeForm,
            "wizards/secrets/service_authorize.html",
            applies=authorization_missing,
            submit_label="Authorize",
            perform=grant_authorization,
        ),
        Step(
            "credentials",
            "Credentials",
            CredentialsForm,
            "wizards/secrets/service_credentials.html",
        ),
        Step("lease", "Lease and rotation", ServiceLeaseForm, "wizards/secrets/service_lease.html"),
        Step("review", "Review", ReviewForm, "wizards/secrets/service_review.html"),
    ),
    finish=finish,
    cancel_url="/secrets/",
    require=require_some_writable_group,
)
