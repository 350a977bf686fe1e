"""Console views for secrets: the table, adding one (type tiles), its details and live status."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from console.htmx import render_page_or_partial
from console.http import AuthedRequest
from engines_app.models import ConfigType, Configuration
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app.forms import PAGE_SIZE, SecretFilterForm
from secrets_app.models import Secret, SecretGroup, SecretState, TaskStatus
from secrets_app.permissions import (
    get_secret_for_user,
    readable_group_ids,
    writable_groups,
)
from secrets_app.selectors import DEFAULT_SECRET_SORT, secret_table

# ---------------------------------------------------------------------------------------------
# Secrets table


@require_GET
@vary_on_headers("HX-Request")
def secret_list(request: AuthedRequest) -> HttpResponse:
    readable = readable_group_ids(request.user)
    groups = list(SecretGroup.objects.order_by("name"))
    if readable is not None:
        groups = [g for g in groups if g.pk in readable]
    form = SecretFilterForm(request.GET or None, groups=groups)
    status = 200
    if form.is_bound and not form.is_valid():
        status = 422
        secrets_qs = Secret.objects.none()
        filters: dict[str, Any] = {}
    else:
        filters = form.cleaned_data if form.is_bound else {}
        secrets_qs = secret_table(
            search=str(filters.get("q") or ""),
            secret_types=[filters["type"]] if filters.get("type") else [],
            group_ids=[filters["group"]] if filters.get("group") else [],
            states=[filters["state"]] if filters.get("state") is not None else [],
            labels=list(filters.get("labels") or []),
            sort=str(filters.get("sort") or DEFAULT_SECRET_SORT),
            readable_group_ids=readable,
        )
    page = Paginator(secrets_qs, PAGE_SIZE).get_page(filters.get("page") or 1)
    base_params = {
        k: v
        for k, v in (
            ("q", filters.get("q")),
            ("type", filters.get("type")),
            ("group", filters.get("group")),
            ("state", filters.get("state")),
            ("labels", ",".join(filters.get("labels") or [])),
        )
        if v not in (None, "", [])
    }
    sort = str(filters.get("sort") or DEFAULT_SECRET_SORT)
    filter_query = urlencode(base_params)
    context = {
        "form": form,
        "page": page,
        "columns": _columns(filter_query, sort),
        "page_query": urlencode({**base_params, "sort": sort}),
        "filtered": bool(base_params),
        "any_secrets": bool(base_params) or page.paginator.count > 0,
    }
    return render_page_or_partial(request, "secrets/list.html", "table", context, status=status)


_COLUMNS = [
    ("Name", "name"),
    ("Type", "secret_type"),
    ("Group", "group"),
    ("State", "state"),
    ("Labels", None),
    ("Created", "created_at"),
    ("Updated", "updated_at"),
]


def _columns(filter_query: str, sort: str) -> list[dict[str, str | None]]:
    """Header cells: a link that sorts by the column, flipping direction when already sorted."""
    columns: list[dict[str, str | None]] = []
    for label, key in _COLUMNS:
        if key is None:
            columns.append({"label": label, "href": None, "aria_sort": None})
            continue
        current = sort.lstrip("-") == key
        descending = sort.startswith("-")
        next_sort = f"-{key}" if current and not descending else key
        prefix = f"{filter_query}&" if filter_query else ""
        columns.append(
            {
                "label": label,
                "href": f"?{prefix}sort={next_sort}",
                "aria_sort": ("descending" if descending else "ascending") if current else None,
            }
        )
    return columns


# ---------------------------------------------------------------------------------------------
# One secret


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
