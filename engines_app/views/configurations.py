"""A custom credentials configuration's page: details, task timeout, delete.

Every form is a plain POST that redirects on success (post/redirect/get) and re-renders the page
with 422 on an error, so the page works the same with and without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from console.errors import ServiceError
from console.http import AuthedRequest
from console.identity import actor_for_user
from console.reauth import require_recent_password
from engines_app import services as engine_services
from engines_app.forms import TaskTimeoutForm
from engines_app.models import ConfigType
from engines_app.permissions import (
    get_configuration,
    get_configuration_for_user,
    require_engines_manager,
)
from engines_app.selectors import configuration_page_context


@never_cache
@require_GET
def config_detail(request: AuthedRequest, name: str) -> HttpResponse:
    """Not cached: the page names the identity the job reports with, and the secrets using it."""
    config = get_configuration_for_user(request.user, name)
    return render(
        request, "engines/config_detail.html", configuration_page_context(request, config)
    )


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
        configuration_page_context(request, config, timeout_form=form),
        status=422,
    )


@never_cache
@require_POST
def config_delete(request: AuthedRequest, name: str) -> HttpResponse:
    require_engines_manager(request.user)
    config = get_configuration(name)
    retry = reverse("engines:config-detail", args=[config.name])
    if ask := require_recent_password(request, why="delete a configuration", retry_url=retry):
        return ask
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
            configuration_page_context(request, config, delete_error=exc.message),
            status=422,
        )
    messages.success(request, f"Configuration {config.name} is deleted.")
    return redirect(reverse("engines:index") + "?tab=custom")
