"""Console views for adding a secret (type tiles) and for one secret's details and live status."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from console.http import AuthedRequest
from engines_app.models import ConfigType, Configuration
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app.models import SecretState, TaskStatus
from secrets_app.permissions import get_secret_for_user, writable_groups


@require_GET
def secret_add(request: AuthedRequest) -> HttpResponse:
    """The type tiles. A type that cannot be used yet says why and links to what fixes it."""
    iam_engine = Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first()
    custom_count = Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS).count()
    context = {
        "can_write": writable_groups(request.user).exists(),
        "iam_ready": iam_engine is not None and not iam_engine.disabled,
        "iam_disabled": iam_engine is not None and iam_engine.disabled,
        "custom_ready": custom_count > 0,
        "service_ready": bool(get_resource_controller().list_instances()),
    }
    return render(request, "secrets/add.html", context)


def _status_context(request: AuthedRequest, secret_id: str) -> dict[str, object]:
    secret = get_secret_for_user(request.user, secret_id)
    latest = secret.tasks.order_by("-creation_date").first()
    pending = secret.state == SecretState.PRE_ACTIVATION and (
        latest is None or latest.status in {TaskStatus.QUEUED, TaskStatus.PROCESSING}
    )
    return {"secret": secret, "latest_task": latest, "pending": pending}


@never_cache
@require_GET
def secret_detail(request: AuthedRequest, secret_id: str) -> HttpResponse:
    """Not cached: versions, tasks and their errors stay off shared and browser caches."""
    context = _status_context(request, secret_id)
    secret = context["secret"]
    context["versions"] = secret.versions.order_by("-serial")  # type: ignore[attr-defined]
    context["tasks"] = secret.tasks.order_by("-creation_date")[:100]  # type: ignore[attr-defined]
    return render(request, "secrets/detail.html", context)


@never_cache
@require_GET
@vary_on_headers("HX-Request")
def secret_status(request: AuthedRequest, secret_id: str) -> HttpResponse:
    """The status fragment; htmx polls it until the secret leaves pre-activation or its task fails.

    Not cached, like the page it belongs to.
    """
    context = _status_context(request, secret_id)
    response = render(request, "secrets/detail.html#secret-status", context)
    if not context["pending"]:
        stop = HttpResponseStopPolling(response.content)
        stop["Vary"] = "HX-Request"
        return stop
    return response
