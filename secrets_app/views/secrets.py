"""Console views for secrets: the table, adding one (type tiles), its details and live status.

The actions on a secret (Reveal, Rotate, Edit, Delete, version metadata) are in
secrets_app/views/lifecycle.py; they render the same detail page through `detail_context`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from console.htmx import render_page_or_partial
from console.http import AuthedRequest
from console.validation import human_duration
from console.wizard_views import get_wizard
from console.wizard_views import start as start_wizard
from engines_app.models import ConfigType, Configuration
from engines_app.providers.resource_controller import get_resource_controller
from secrets_app.forms import PAGE_SIZE, SecretFilterForm, SecretTypeForm
from secrets_app.models import (
    SecretGroup,
    SecretState,
    SecretType,
    TaskType,
    VersionAlias,
)
from secrets_app.permissions import (
    get_secret_for_user,
    readable_group_ids,
    secret_permissions,
    writable_groups,
)
from secrets_app.selectors import DEFAULT_SECRET_SORT, EXPIRES_WITHIN, SecretTablePage
from secrets_app.services.credentials import OPEN_TASK_STATUSES
from secrets_app.services.rotation import rotation_blocker
from secrets_app.services.versions import payload_gone_reason
from secrets_app.table_page import secret_table_page

TASKS_SHOWN = 100  # the task history a secret keeps (DESIGN.md)

# ---------------------------------------------------------------------------------------------
# Secrets table


@require_GET
@vary_on_headers("HX-Request")
def secret_list(request: AuthedRequest) -> HttpResponse:
    readable = readable_group_ids(request.user)
    # (id, name) pairs, not model instances: building 20 groups cost 0.24 ms a page more
    # (issue 13's profile).
    groups = list(SecretGroup.objects.order_by("name").values_list("id", "name"))
    if readable is not None:
        groups = [g for g in groups if g[0] in readable]
    form = SecretFilterForm(request.GET or None, groups=groups)
    status = 200
    filters: dict[str, Any] = {}
    if form.is_bound and not form.is_valid():
        status = 422
        page = SecretTablePage(
            rows=[], number=1, count=0, count_exact=True, num_pages=1, page_size=PAGE_SIZE
        )
    else:
        filters = form.cleaned_data if form.is_bound else {}
        page = secret_table_page(
            page=filters.get("page") or 1,
            page_size=PAGE_SIZE,
            search=str(filters.get("q") or ""),
            secret_types=[filters["type"]] if filters.get("type") else [],
            group_ids=[filters["group"]] if filters.get("group") else [],
            states=[filters["state"]] if filters.get("state") is not None else [],
            labels=list(filters.get("labels") or []),
            sort=str(filters.get("sort") or DEFAULT_SECRET_SORT),
            readable_group_ids=readable,
            expires_within=EXPIRES_WITHIN[filters["expires"]][1]
            if filters.get("expires")
            else None,
        )
    base_params = {
        k: v
        for k, v in (
            ("q", filters.get("q")),
            ("type", filters.get("type")),
            ("group", filters.get("group")),
            ("state", filters.get("state")),
            ("labels", ",".join(filters.get("labels") or [])),
            ("expires", filters.get("expires")),
        )
        if v not in (None, "", [])
    }
    sort = str(filters.get("sort") or DEFAULT_SECRET_SORT)
    filter_query = urlencode(base_params)
    context = {
        "form": form,
        "selects": {name: _options(form, name) for name in ("type", "group", "state", "expires")},
        "sort": sort,
        "page": page,
        "columns": _columns(filter_query, sort),
        "page_query": urlencode({**base_params, "sort": sort}),
        "filtered": bool(base_params),
        "any_secrets": bool(base_params) or page.count > 0,
    }
    return render_page_or_partial(request, "secrets/list.html", "table", context, status=status)


def _options(form: SecretFilterForm, name: str) -> list[tuple[str, str, bool]]:
    """A filter's choices as (value, label, selected): the template prints the select itself,
    which is much cheaper than rendering the widget's templates on every table request."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    current = form[name].value()
    chosen = "" if current is None else str(current)
    choices = cast("list[tuple[Any, Any]]", field.choices)  # normalised to a list by Django
    return [(str(value), str(label), str(value) == chosen) for value, label in choices]


_COLUMNS = [
    ("Name", "name"),
    ("Type", "secret_type"),
    ("Group", "group"),
    ("State", "state"),
    ("Labels", None),
    ("Expires", "expiration_date"),
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


@dataclass(frozen=True)
class TypeTile:
    """One tile of Add a secret: a type, and why it cannot be used yet (if it cannot)."""

    kind: str
    title: str
    description: str
    problem: str = ""  # empty when the type can be used
    fix_url: str = ""
    fix_label: str = ""


def _type_tiles() -> list[TypeTile]:
    """The four types, in the docs' order. A type that cannot be used says why and links to what
    fixes it."""
    iam_engine = Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first()
    custom_ready = Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS).exists()
    engines = reverse("engines:index")
    iam_state = "disabled" if iam_engine is not None else "not configured"
    return [
        TypeTile(
            SecretType.CUSTOM_CREDENTIALS,
            "Custom credentials",
            "Credentials for a third-party system, created by your credentials provider job in "
            "Code Engine.",
            *(
                ()
                if custom_ready
                else (
                    "there is no custom credentials configuration yet.",
                    f"{engines}?tab=custom",
                    "Add a configuration first",
                )
            ),
        ),
        TypeTile(
            SecretType.IAM_CREDENTIALS,
            "IAM credentials",
            "A service ID and an API key, generated for you and revoked when the lease ends.",
            *(
                ()
                if iam_engine is not None and not iam_engine.disabled
                else (
                    f"the IAM credentials engine is {iam_state}.",
                    f"{engines}?tab=iam",
                    "Configure the IAM credentials engine",
                )
            ),
        ),
        TypeTile(
            SecretType.SERVICE_CREDENTIALS,
            "Service credentials",
            "Credentials for an IBM Cloud service instance, such as Cloud Object Storage or a "
            "database.",
            *(
                ()
                if get_resource_controller().list_instances()
                else (
                    "there is no service instance yet.",
                    reverse("resource_controller:instance-list"),
                    "See service instances",
                )
            ),
        ),
        TypeTile(
            SecretType.ARBITRARY,
            "Arbitrary",
            "Any value you provide: a token, a password, a file's contents.",
        ),
    ]


@require_http_methods(["GET", "POST"])
def secret_add(request: AuthedRequest) -> HttpResponse:
    """The type tiles: one radio group and one Next, which starts the chosen type's wizard."""
    can_write = writable_groups(request.user).exists()
    tiles = _type_tiles()
    unavailable = {t.kind: t.problem for t in tiles if t.problem}
    status = 200
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied(
                "You need the Writer role on a secret group to add secrets to it."
            )
        form = SecretTypeForm(request.POST, unavailable=unavailable)
        if form.is_valid():
            return start_wizard(request, get_wizard(form.cleaned_data["secret_type"]))
        status = 422
    else:
        form = SecretTypeForm(unavailable=unavailable)
    chosen = form["secret_type"].value()
    context = {
        "can_write": can_write,
        "form": form,
        "tiles": tiles,
        "chosen": chosen,
        "focus": "invalid" if form.errors else "",
        "error_summary": True,
    }
    return render(request, "secrets/add.html", context, status=status)


def detail_context(request: AuthedRequest, secret_id: str) -> dict[str, Any]:
    """What a secret's page shows, and its live part: everything that its tasks change, and the
    actions the user may take. It never holds a secret value (Reveal adds one to a POST's answer)."""
    secret = get_secret_for_user(request.user, secret_id)
    tasks = list(secret.tasks.order_by("-creation_date")[:TASKS_SHOWN])
    latest = tasks[0] if tasks else None
    # The page follows its tasks while a secret waits for its first credentials, and while a
    # rotation's create task runs on an active secret (the new version appears when it reports).
    creating = any(
        t.type == TaskType.CREATE_CREDENTIALS and t.status in OPEN_TASK_STATUSES for t in tasks
    )
    pending = creating or (
        secret.state == SecretState.PRE_ACTIVATION
        and (latest is None or latest.status in OPEN_TASK_STATUSES)
    )
    versions = list(secret.versions.order_by("-serial"))
    for version in versions:
        version.metadata_json = metadata_as_json(version.version_custom_metadata, indent=None)  # type: ignore[attr-defined]
        version.metadata_edit = metadata_as_json(version.version_custom_metadata, indent=2)  # type: ignore[attr-defined]
        version.gone_reason = payload_gone_reason(version)  # type: ignore[attr-defined]
    by_alias = {v.alias: v for v in versions if v.alias}
    return {
        "secret": secret,
        "latest_task": latest,
        "pending": pending,
        "rotation_running": creating and secret.state == SecretState.ACTIVE,
        "tasks": tasks,
        "versions": versions,
        "current": by_alias.get(VersionAlias.CURRENT),
        "previous": by_alias.get(VersionAlias.PREVIOUS),
        "metadata_json": metadata_as_json(secret.custom_metadata, indent=2),
        "lease": human_duration(secret.ttl_seconds) if secret.ttl_seconds else "",
        "can": secret_permissions(request.user, secret),
        "rotation_blocker": rotation_blocker(secret),
        "fresh_key_per_read": secret.secret_type == SecretType.IAM_CREDENTIALS
        and not secret.reuse_api_key,
        "tab": "overview",
    }


def metadata_as_json(value: Any, *, indent: int | None) -> str:
    """Metadata as JSON (the page escapes it), or "" when there is none."""
    return json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=True) if value else ""


@never_cache
@require_GET
def secret_detail(request: AuthedRequest, secret_id: str) -> HttpResponse:
    """Not cached: versions, tasks and their errors stay off shared and browser caches. A tab
    switch (htmx, HX-Target tab-panel) gets the Overview tab's panel only."""
    context = detail_context(request, secret_id)
    if request.htmx and not request.htmx.boosted and request.htmx.target == "tab-panel":
        response = render(request, "secrets/detail.html#tab-panel", context)
    else:
        response = render(request, "secrets/detail.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@never_cache
@require_GET
@vary_on_headers("HX-Request")
def secret_status(request: AuthedRequest, secret_id: str) -> HttpResponse:
    """The live part of the page (state, details, versions, tasks); htmx polls it every second
    while a create task is open (the first credentials, or a rotation's), then a 286 stops the
    polling.

    Not cached, like the page it belongs to. It shows no secret value: it can be fetched again.
    """
    context = detail_context(request, secret_id)
    response = render(request, "secrets/detail.html#secret-live", context)
    if not context["pending"]:
        stop = HttpResponseStopPolling(response.content)
        stop["Vary"] = "HX-Request"
        return stop
    return response
