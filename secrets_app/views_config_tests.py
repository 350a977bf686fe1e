"""Test configuration: start a create-then-delete round trip and follow it live.

The start form is generated from the configuration's schema. The run page polls its status
fragment every second with htmx (the server answers 286 to stop once the test is over); without
JavaScript the page refreshes itself while the test runs.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from console.errors import ServiceError
from console.http import AuthedRequest
from console.identity import actor_for_user
from engines_app import schema as schemas
from engines_app.models import Configuration, ConfigurationTest
from engines_app.permissions import can_manage_engines
from engines_app.providers.access import can_manage_code_engine
from engines_app.providers.code_engine import get_code_engine
from engines_app.providers.iam import get_iam
from engines_app.views.engines import detail_context, get_configuration_for_user
from secrets_app.models import SecretGroup
from secrets_app.permissions import (
    can_read_secret,
    principal_of,
    require_secret_create,
    writable_groups,
)
from secrets_app.services import config_tests

PARAM_PREFIX = "param_"
BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


def _parameter_field(decl: schemas.Declaration) -> forms.Field:
    help_text = f"{decl.format} · passed to the job as SM_{decl.name.upper()}_VALUE"
    common: dict[str, Any] = {"label": decl.name, "required": decl.required, "help_text": help_text}
    if decl.type == "integer":
        return forms.IntegerField(**common)
    if decl.type == "boolean":
        choices = BOOLEAN_CHOICES if decl.required else [("", "—"), *BOOLEAN_CHOICES]
        return forms.ChoiceField(choices=choices, **common)
    if decl.type == "enum":
        options = [(o, o) for o in decl.options]
        return forms.ChoiceField(
            choices=options if decl.required else [("", "—"), *options], **common
        )
    if decl.type == "secret_id":
        return forms.CharField(
            max_length=36,
            validators=[
                RegexValidator(schemas.UUID_PATTERN, "Enter a secret ID (a lowercase UUID).")
            ],
            **common,
        )
    return forms.CharField(max_length=10_000, **common)


class ConfigTestForm(forms.Form):
    """The group to run in and the job's parameters, as the configuration's schema declares them."""

    secret_group = forms.CharField(label="Secret group to run in", widget=forms.Select)

    def __init__(
        self,
        data: Any = None,
        *,
        config: Configuration,
        user: AbstractBaseUser | AnonymousUser,
    ) -> None:
        super().__init__(data)
        self.config = config
        self.user = user
        self.groups = list(writable_groups(user))
        reporting = config_tests.job_reporting_group_ids(config)
        self.reporting_groups = [g for g in self.groups if reporting is None or g.pk in reporting]
        self.fields["secret_group"].widget.choices = [
            (
                g.pk,
                f"{g.name} (the job can report here)" if g in self.reporting_groups else g.name,
            )
            for g in self.groups
        ]
        if self.reporting_groups:
            self.fields["secret_group"].initial = self.reporting_groups[0].pk
        # Required parameters first, each group in the schema's order.
        self.declarations = sorted(
            schemas.declarations(config.schema, "parameter"), key=lambda d: not d.required
        )
        for decl in self.declarations:
            self.fields[PARAM_PREFIX + decl.name] = _parameter_field(decl)

    @property
    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[PARAM_PREFIX + d.name] for d in self.declarations]

    def clean_secret_group(self) -> str:
        group_id: str = self.cleaned_data["secret_group"]
        if group_id not in {g.pk for g in self.groups}:
            if SecretGroup.objects.filter(pk=group_id).exists():
                raise PermissionDenied(
                    "You need the Writer role on this secret group to run a test in it."
                )
            raise ValidationError("That secret group no longer exists; pick another one.")
        return group_id

    def parameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for decl in self.declarations:
            value = self.cleaned_data.get(PARAM_PREFIX + decl.name)
            if value in (None, ""):
                continue
            values[decl.name] = value == "true" if decl.type == "boolean" else value
        return values


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
        detail_context(request, config, test_form=form),
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


def _may_view(user: AbstractBaseUser | AnonymousUser, test: ConfigurationTest) -> bool:
    principal = principal_of(user)
    if test.created_by == principal.iam_id or can_manage_engines(user):
        return True
    return test.probe is not None and get_iam().is_allowed(
        principal, "secret_task.read", secret_group_id=test.probe.secret_group_id
    )


def _context(request: AuthedRequest, test_id: UUID) -> dict[str, Any]:
    test = (
        ConfigurationTest.objects.select_related("configuration", "probe__secret_group")
        .filter(pk=test_id)
        .first()
    )
    if test is None or not _may_view(request.user, test):
        raise Http404("No such configuration test.")
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
