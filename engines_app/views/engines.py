"""The Secrets engines page: the IAM credentials and Custom credentials tabs.

Looking needs a role (Reader or more) on a secret group or on the instance; changing an engine
needs the Manager role on the instance. Every form is a plain POST that redirects on success
(post/redirect/get) and re-renders the page with 422 on an error, so the page works the same
with and without JavaScript.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console import validation
from console.errors import ServiceError
from console.http import AuthedRequest
from console.identity import actor_for_user
from engines_app import services as engine_services
from engines_app.forms import ApiKeyForm
from engines_app.models import ConfigType, Configuration
from engines_app.permissions import can_manage_engines, require_engines_manager
from engines_app.providers.access import require_configuration_read

TABS = ("iam", "custom")


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
