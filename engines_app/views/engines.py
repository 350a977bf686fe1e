"""The Secrets engines page: IAM credentials and Custom credentials tabs, and configuration details.

Looking needs a role (Reader or more) on a secret group or on the instance; changing an engine
needs the Manager role on the instance. Every form is a plain POST that redirects on success
(post/redirect/get) and re-renders the page with 422 on an error, so the page works the same
with and without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from console import validation
from console.errors import NotFoundError, ServiceError
from console.http import AuthedRequest
from console.identity import actor_for_user
from engines_app import schema as schemas
from engines_app import services as engine_services
from engines_app.models import ConfigType, Configuration
from engines_app.panels import configuration_panel_context
from engines_app.permissions import can_manage_engines, require_engines_manager
from engines_app.providers.access import require_configuration_read
from engines_app.providers.code_engine import get_code_engine

TABS = ("iam", "custom")


# ---------------------------------------------------------------------------------------------
# Forms


class ApiKeyForm(forms.Form):
    """An IAM API key. It is never rendered back into the page."""

    api_key = forms.CharField(
        label="API key",
        max_length=200,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="An API key that may create and manage service IDs and API keys in IAM.",
    )


class TaskTimeoutForm(forms.Form):
    task_timeout = forms.CharField(
        label="Task timeout",
        max_length=16,
        help_text="5 minutes to 24 hours, in seconds or with s, m, h or d (e.g. 10m, 2h).",
    )


def _api_key_errors(form: ApiKeyForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        form.add_error("api_key" if key == "api_key" else None, errors)


# ---------------------------------------------------------------------------------------------
# The page


def _iam_context(request: AuthedRequest) -> dict[str, Any]:
    engine = Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first()
    return {
        "iam_engine": engine,
        "iam_uses_api_key": bool(engine and engine.has_sealed_value),
        "iam_authorized": engine_services.iam_identity_authorized(),
        "iam_grant": {
            "source": "Secrets Manager",
            "target": "IAM Identity service",
            "roles": ", ".join(engine_services.IAM_AUTHORIZATION_ROLES),
        },
    }


def _index_context(request: AuthedRequest, **overrides: Any) -> dict[str, Any]:
    tab = request.GET.get("tab")
    context: dict[str, Any] = {
        "tab": tab if tab in TABS else "iam",
        "can_manage": can_manage_engines(request.user),
        **_iam_context(request),
        "configurations": Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS)
        .annotate(secret_count=Count("secrets", filter=Q(secrets__probe=False)))
        .order_by("name"),
        "configurations_max": validation.CUSTOM_CONFIGURATIONS_MAX,
        "api_key_form": ApiKeyForm(prefix="new"),
        "edit_form": ApiKeyForm(prefix="edit"),
        "iam_error": "",
    }
    context.update(overrides)
    return context


@require_GET
def index(request: AuthedRequest) -> HttpResponse:
    require_configuration_read(request.user)
    return render(request, "engines/index.html", _index_context(request))


def _iam_page(request: AuthedRequest, *, status: int = 200, **overrides: Any) -> HttpResponse:
    context = _index_context(request, tab="iam", **overrides)
    return render(request, "engines/index.html", context, status=status)


def _iam_done(request: AuthedRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(reverse("engines:index") + "?tab=iam")


# ---------------------------------------------------------------------------------------------
# IAM credentials engine


@require_POST
def iam_authorize(request: AuthedRequest) -> HttpResponse:
    require_engines_manager(request.user)
    created = engine_services.iam_engine_authorize(actor=actor_for_user(request.user))
    return _iam_done(
        request,
        "Secrets Manager is now authorized to use the IAM Identity service (role Operator). Click Configure to finish."
        if created
        else "Secrets Manager was already authorized to use the IAM Identity service.",
    )


@require_POST
def iam_configure(request: AuthedRequest) -> HttpResponse:
    require_engines_manager(request.user)
    try:
        engine_services.iam_configuration_create_authorized(actor=actor_for_user(request.user))
    except ServiceError as exc:
        return _iam_page(request, status=422, iam_error=exc.message)
    return _iam_done(request, "The IAM credentials engine is configured.")


@require_POST
def iam_configure_api_key(request: AuthedRequest) -> HttpResponse:
    require_engines_manager(request.user)
    form = ApiKeyForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            engine_services.iam_configuration_create(
                actor=actor_for_user(request.user), api_key=form.cleaned_data["api_key"]
            )
        except ValidationError as exc:
            _api_key_errors(form, exc)
        except ServiceError as exc:
            return _iam_page(request, status=422, iam_error=exc.message)
        else:
            return _iam_done(request, "The IAM credentials engine is configured with an API key.")
    return _iam_page(request, status=422, api_key_form=form)


@require_POST
def iam_edit(request: AuthedRequest) -> HttpResponse:
    require_engines_manager(request.user)
    form = ApiKeyForm(request.POST, prefix="edit")
    if form.is_valid():
        try:
            engine_services.iam_configuration_update(
                actor=actor_for_user(request.user), api_key=form.cleaned_data["api_key"]
            )
        except ValidationError as exc:
            _api_key_errors(form, exc)
        except ServiceError as exc:
            return _iam_page(request, status=422, iam_error=exc.message)
        else:
            return _iam_done(request, "The IAM credentials engine now uses the new API key.")
    return _iam_page(request, status=422, edit_form=form)


def _set_disabled(request: AuthedRequest, *, disabled: bool) -> HttpResponse:
    require_engines_manager(request.user)
    try:
        engine_services.iam_configuration_update(
            actor=actor_for_user(request.user), disabled=disabled
        )
    except ServiceError as exc:
        return _iam_page(request, status=422, iam_error=exc.message)
    return _iam_done(
        request,
        "The IAM credentials engine is disabled: no IAM credentials secret can be created until it is enabled again."
        if disabled
        else "The IAM credentials engine is enabled.",
    )


@require_POST
def iam_disable(request: AuthedRequest) -> HttpResponse:
    return _set_disabled(request, disabled=True)


@require_POST
def iam_enable(request: AuthedRequest) -> HttpResponse:
    return _set_disabled(request, disabled=False)


# ---------------------------------------------------------------------------------------------
# A custom credentials configuration


@dataclass(frozen=True)
class SchemaRow:
    name: str
    env_name: str
    kind: str
    type: str
    required: bool
    format: str


def schema_rows(schema: dict[str, Any], kind: str) -> list[SchemaRow]:
    rows = []
    for decl in schemas.declarations(schema, kind):
        shown = f"enum: {' | '.join(decl.options)}" if decl.type == "enum" else decl.type
        env_name = f"SM_{decl.name.upper()}_VALUE" if kind == "parameter" else decl.env_name
        rows.append(SchemaRow(decl.name, env_name, kind, shown, decl.required, decl.format))
    return rows


def get_configuration_for_user(user: AbstractBaseUser | AnonymousUser, name: str) -> Configuration:
    """A configuration, for someone with a role somewhere; 403 before 404, so strangers learn
    nothing about which configurations exist."""
    require_configuration_read(user)
    return get_configuration(name)


def get_configuration(name: str) -> Configuration:
    config = (
        Configuration.objects.select_related("api_key_ref__secret_group")
        .filter(config_type=ConfigType.CUSTOM_CREDENTIALS, name=name)
        .first()
    )
    if config is None:
        raise Http404("No such custom credentials configuration.")
    return config


def detail_context(
    request: AuthedRequest, config: Configuration, **overrides: Any
) -> dict[str, Any]:
    # Every view that renders the page checks this first; checked here again for the views
    # that re-render it on an error, so none can show it to a stranger.
    require_configuration_read(request.user)
    try:
        job = get_code_engine().get_job(
            project_id=config.code_engine_project_id, job_name=config.code_engine_job_name
        )
        project_name, job_missing = job.project_name, False
    except NotFoundError:
        project_name, job_missing = "", True
    context: dict[str, Any] = {
        "config": config,
        "can_manage": can_manage_engines(request.user),
        "project_name": project_name,
        "job_missing": job_missing,
        "parameters": schema_rows(config.schema, "parameter"),
        "credentials": schema_rows(config.schema, "credential"),
        "timeout_form": TaskTimeoutForm(initial={"task_timeout": config.task_timeout}),
        "delete_error": "",
        # The secrets using it, its IAM credentials secret, and Test configuration.
        **configuration_panel_context(request, config),
    }
    context.update(overrides)
    return context


@never_cache
@require_GET
def config_detail(request: AuthedRequest, name: str) -> HttpResponse:
    """Not cached: the page names the identity the job reports with, and the secrets using it."""
    config = get_configuration_for_user(request.user, name)
    return render(request, "engines/config_detail.html", detail_context(request, config))


@never_cache
@require_POST
def config_timeout(request: AuthedRequest, name: str) -> HttpResponse:
    require_engines_manager(request.user)
    config = get_configuration(name)
    form = TaskTimeoutForm(request.POST)
    if form.is_valid():
        try:
            engine_services.configuration_update_task_timeout(
                actor=actor_for_user(request.user),
                name=config.name,
                task_timeout=form.cleaned_data["task_timeout"].strip(),
            )
        except ValidationError as exc:
            form.add_error(
                "task_timeout",
                exc.message_dict.get("task_timeout", exc.messages)
                if hasattr(exc, "error_dict")
                else exc.messages,
            )
        else:
            messages.success(request, f"Configuration {config.name}: the task timeout is updated.")
            return redirect("engines:config-detail", name=config.name)
    config.refresh_from_db()
    return render(
        request,
        "engines/config_detail.html",
        detail_context(request, config, timeout_form=form),
        status=422,
    )


@never_cache
@require_POST
def config_delete(request: AuthedRequest, name: str) -> HttpResponse:
    require_engines_manager(request.user)
    config = get_configuration(name)
    try:
        engine_services.configuration_delete(
            actor=actor_for_user(request.user),
            name=config.name,
            config_type=ConfigType.CUSTOM_CREDENTIALS,
        )
    except ServiceError as exc:
        return render(
            request,
            "engines/config_detail.html",
            detail_context(request, config, delete_error=exc.message),
            status=422,
        )
    messages.success(request, f"Configuration {config.name} is deleted.")
    return redirect(reverse("engines:index") + "?tab=custom")
