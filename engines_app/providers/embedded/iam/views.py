"""The embedded IAM's views: its token endpoint, and its console pages (service IDs, access
groups, API keys, authorizations).

The token endpoint is IBM IAM's POST /identity/token. The console pages administer identities,
so they need the Manager role on the instance (engines_app.providers.access); the IAM services
also refuse to mint a key for, or lock, a service ID that holds roles the actor does not hold.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.errors import AccessDeniedError
from console.http import AuthedRequest
from console.identity import actor_for_user
from console.reauth import require_recent_password
from console.throttle import Limit, client_address, exceeded, record_failure
from engines_app.providers.access import require_iam_manager
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import (
    AccessGroup,
    AccessPolicy,
    ApiKey,
    ServiceAuthorization,
    ServiceId,
)
from engines_app.providers.embedded.iam.tokens import (
    APIKEY_GRANT,
    InvalidApiKeyError,
    token_issue,
)


def _iam_error(status: int, code: str, message: str) -> JsonResponse:
    # IAM's own body (errorCode/errorMessage) plus the SM-style errors[] that SDK cores read first.
    return JsonResponse(
        {
            "errorCode": code,
            "errorMessage": message,
            "errors": [{"code": code, "message": message}],
            "context": {"requestId": str(uuid.uuid4())},
            "trace": str(uuid.uuid4()),
            "status_code": status,
        },
        status=status,
    )


def _failure_limit(request: HttpRequest) -> Limit:
    return Limit.of(
        "identity-token",
        client_address(request),
        attempts=settings.TOKEN_THROTTLE_ATTEMPTS,
        window=settings.TOKEN_THROTTLE_WINDOW,
    )


@csrf_exempt
@login_not_required
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    # Failed exchanges are counted per client address, so API keys cannot be guessed at speed;
    # a client that exchanges valid keys is never slowed.
    limit = _failure_limit(request)
    if exceeded(limit):
        response = _iam_error(
            429,
            "BXNIM0436E",
            f"Too many failed API key exchanges from this address; try again in {limit.window // 60} minutes.",
        )
        response["Retry-After"] = str(limit.window)
        return response
    grant_type = request.POST.get("grant_type", "")
    if grant_type != APIKEY_GRANT:
        return _iam_error(400, "BXNIM0103E", f"Unsupported grant_type; use {APIKEY_GRANT}.")
    try:
        body = token_issue(apikey=request.POST.get("apikey", ""))
    except InvalidApiKeyError as exc:
        record_failure(limit)
        return _iam_error(400, "BXNIM0415E", exc.message)
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


class ServiceIdForm(forms.Form):
    name = forms.CharField(max_length=128)
    description = forms.CharField(
        max_length=1024, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ApiKeyForm(forms.Form):
    service_id = forms.ModelChoiceField(
        queryset=ServiceId.objects.filter(locked=False), label="Service ID"
    )
    name = forms.CharField(max_length=256)
    description = forms.CharField(max_length=1024, required=False)


def _api_key_initial(request: AuthedRequest) -> dict[str, str]:
    """The form's choices kept across a password prompt (the query of the page's URL)."""
    return {k: request.GET[k] for k in ("service_id", "name", "description") if request.GET.get(k)}


@require_http_methods(["GET", "POST"])
def service_ids(request: AuthedRequest) -> HttpResponse:
    require_iam_manager(request.user)
    form = ServiceIdForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                iam.service_id_create(actor=actor_for_user(request.user), **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("cloud:iam-service-ids")
        status = 422
    rows = ServiceId.objects.prefetch_related("access_groups", "policies__secret_group").order_by(
        "name"
    )
    return render(
        request, "cloud/iam_service_ids.html", {"service_ids": rows, "form": form}, status=status
    )


@require_GET
def access_groups(request: AuthedRequest) -> HttpResponse:
    require_iam_manager(request.user)
    rows = AccessGroup.objects.prefetch_related(
        "service_ids", "users", "policies__secret_group"
    ).order_by("name")
    return render(request, "cloud/iam_access_groups.html", {"access_groups": rows})


@never_cache
@require_http_methods(["GET", "POST"])
def api_keys(request: AuthedRequest) -> HttpResponse:
    """Create shows the value once, in the POST response itself; it is never stored or re-fetchable."""
    require_iam_manager(request.user)
    if request.method == "POST":
        # Back to this page after the password, with the key's service ID and name kept.
        kept = {k: request.POST.get(k, "") for k in ("service_id", "name", "description")}
        query = urlencode({k: v for k, v in kept.items() if v})
        retry = f"{request.path}?{query}" if query else request.path
        if ask := require_recent_password(request, why="create an API key", retry_url=retry):
            return ask
    form = ApiKeyForm(request.POST or None, initial=_api_key_initial(request))
    created: tuple[ApiKey, str] | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = iam.api_key_create(
                    actor=actor_for_user(request.user),
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    service_id=form.cleaned_data["service_id"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
                status = 422
            except AccessDeniedError as exc:
                form.add_error("service_id", exc.message)
                status = 403
            else:
                form = ApiKeyForm()
        else:
            status = 422
    keys = ApiKey.objects.select_related("service_id", "user").order_by("-created_at")
    context = {
        "keys": keys,
        "form": form,
        "created_key": created[0] if created else None,
        "created_value": created[1] if created else "",
    }
    return render(request, "cloud/iam_api_keys.html", context, status=status)


@require_POST
def api_key_lock(request: AuthedRequest, key_id: str) -> HttpResponse:
    require_iam_manager(request.user)
    key = get_object_or_404(ApiKey, pk=key_id)
    try:
        iam.api_key_set_locked(
            actor=actor_for_user(request.user), api_key_id=key.pk, locked=not key.locked
        )
    except AccessDeniedError as exc:
        messages.error(request, exc.message)
    return redirect("cloud:iam-api-keys")


@require_GET
def authorizations(request: AuthedRequest) -> HttpResponse:
    require_iam_manager(request.user)
    context = {
        "authorizations": ServiceAuthorization.objects.order_by("-created_at"),
        "policies": AccessPolicy.objects.select_related(
            "user", "service_id", "access_group", "secret_group"
        ),
    }
    return render(request, "cloud/iam_authorizations.html", context)
