"""Test configuration: start a create-then-delete round trip and follow it live.

The start form is generated from the configuration's schema. The run page polls its status
fragment every second with htmx (the server answers 286 to stop once the test is over); without
JavaScript the page refreshes itself while the test runs.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from console.errors import ServiceError
from console.http import AuthedRequest
from console.identity import actor_for_user
from engines_app.models import Configuration, ConfigurationTest
from engines_app.permissions import can_manage_engines, get_configuration_for_user
from engines_app.providers.access import can_manage_code_engine
from engines_app.providers.code_engine import get_code_engine
from engines_app.providers.iam import get_iam
from engines_app.selectors import configuration_page_context
from secrets_app.forms import ConfigTestForm
from secrets_app.permissions import (
    can_read_secret,
    get_configuration_test_for_user,
    principal_of,
    require_secret_create,
)
from secrets_app.services import config_tests


@require_POST
def start(request: AuthedRequest, name: str) -> HttpResponse:
    config = get_configuration_for_user(request.user, name)
    form = ConfigTestForm(request.POST, config=config, user=request.user)
    if form.is_valid():
        group_id = form.cleaned_data["secret_group"]
        require_secret_create(request.user, group_id)
        try:
            test = config_tests.configuration_test_start(
                actor=actor_for_user(request.user),
                configuration_name=config.name,
                parameters=form.parameters(),
                secret_group_id=group_id,
            )
        except ValidationError as exc:
            messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            for key, errors in messages.items():
                form.add_error("secret_group" if key == "secret_group_id" else None, errors)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("config_test:detail", test_id=test.pk)
    return render(
        request,
        "engines/config_detail.html",
        configuration_page_context(request, config, test_form=form),
        status=422,
    )


def recent_tests(request: AuthedRequest, config: Configuration) -> list[ConfigurationTest]:
    """The last tests of a configuration that this user may open (see _may_view)."""
    tests = config.tests.select_related("probe").order_by("-created_at")
    if not can_manage_engines(request.user):
        principal = principal_of(request.user)
        groups = get_iam().group_ids_allowing(principal, "secret_task.read")
        if groups is not None:
            tests = tests.filter(
                Q(created_by=principal.iam_id) | Q(probe__secret_group_id__in=groups)
            )
    return list(tests[:5])


def configuration_panel(request: HttpRequest, config: Configuration) -> dict[str, Any]:
    """The secrets part of a configuration's page (registered with engines_app.panels): the
    secrets that use it, its IAM credentials secret, and the Test configuration panel."""
    readable = get_iam().group_ids_allowing(principal_of(request.user), "secret.metadata.read")
    # The IAM credentials secret is named only to who may read its group.
    key_secret = config.api_key_ref
    key_secret_visible = key_secret is not None and can_read_secret(request.user, key_secret)
    users = config.secrets.filter(probe=False).select_related("secret_group").order_by("name")
    visible = users if readable is None else users.filter(secret_group_id__in=readable)
    return {
        "secrets": list(visible),
        "hidden_secret_count": users.count() - visible.count(),
        "test_form": ConfigTestForm(config=config, user=request.user),
        "recent_tests": recent_tests(request, config),  # type: ignore[arg-type]  # a signed-in request
        "key_secret": key_secret if key_secret_visible else None,
        "key_secret_hidden": key_secret is not None and not key_secret_visible,
        "job_identity": config_tests.job_identity(config) if key_secret_visible else "",
    }


def _context(request: AuthedRequest, test_id: UUID) -> dict[str, Any]:
    test = get_configuration_test_for_user(request.user, test_id)
    steps = config_tests.configuration_test_steps(test)
    run_urls: dict[str, str] = {}
    if can_manage_code_engine(request.user):  # only they may open the Code Engine pages
        run_urls = get_code_engine().run_page_urls([s.task_id for s in steps if s.task_id])
    return {
        "test": test,
        "steps": [(step, run_urls.get(step.task_id, "")) for step in steps],
        "running": not test.is_finished,
    }


@require_GET
def detail(request: AuthedRequest, test_id: UUID) -> HttpResponse:
    return render(request, "engines/config_test.html", _context(request, test_id))


@require_GET
@vary_on_headers("HX-Request")
def status(request: AuthedRequest, test_id: UUID) -> HttpResponse:
    """The live status fragment; polling stops (286) once the test has succeeded or failed."""
    context = _context(request, test_id)
    response = render(request, "engines/config_test.html#test-status", context)
    response["Cache-Control"] = "no-store"
    if context["running"]:
        return response
    stop = HttpResponseStopPolling(response.content)
    stop["Vary"] = "HX-Request"
    stop["Cache-Control"] = "no-store"
    return stop
