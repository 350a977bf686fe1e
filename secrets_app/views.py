"""Console views for the Secrets table and secret groups."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from console.errors import ServiceError
from console.htmx import finish, render_page_or_partial
from console.http import AuthedRequest
from console.identity import actor_for_user
from secrets_app import services
from secrets_app.forms import PAGE_SIZE, GroupForm, SecretFilterForm
from secrets_app.models import Secret, SecretGroup
from secrets_app.permissions import (
    can_manage_groups,
    get_group_for_user,
    readable_group_ids,
    readable_groups,
    require_group_permission,
)
from secrets_app.selectors import DEFAULT_SECRET_SORT, group_list_with_counts, secret_table

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
# Secret groups


@require_GET
def group_list(request: AuthedRequest) -> HttpResponse:
    """The groups the user may read: a group's name and description are its own to see."""
    groups = readable_groups(request.user)
    return render(
        request,
        "secrets/groups.html",
        {
            "groups": group_list_with_counts(groups),
            "can_add": can_manage_groups(request.user, "add"),
            "can_change": can_manage_groups(request.user, "change"),
            "can_delete": can_manage_groups(request.user, "delete"),
        },
    )


@require_http_methods(["GET", "POST"])
def group_create(request: AuthedRequest) -> HttpResponse:
    require_group_permission(request.user, "add")
    form = GroupForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                group = services.group_create(
                    actor=actor_for_user(request.user),
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Secret group {group.name!r} created.")
                return finish(request, reverse("secrets:groups"))
        return _group_form(request, form, group=None, status=422)
    return _group_form(request, form, group=None)


@require_http_methods(["GET", "POST"])
def group_edit(request: AuthedRequest, group_id: str) -> HttpResponse:
    group = get_group_for_user(request.user, group_id, action="change")
    form = GroupForm(
        request.POST or None, initial={"name": group.name, "description": group.description}
    )
    if group.is_default:
        form.fields["name"].disabled = True
    if request.method == "POST":
        if form.is_valid():
            try:
                services.group_update(
                    actor=actor_for_user(request.user),
                    group_id=group.pk,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Secret group {form.cleaned_data['name']!r} saved.")
                return finish(request, reverse("secrets:groups"))
        return _group_form(request, form, group=group, status=422)
    return _group_form(request, form, group=group)


def _group_form(
    request: AuthedRequest, form: GroupForm, *, group: SecretGroup | None, status: int = 200
) -> HttpResponse:
    return render_page_or_partial(
        request,
        "secrets/group_form.html",
        "group-form",
        {"form": form, "group": group},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def group_delete(request: AuthedRequest, group_id: str) -> HttpResponse:
    group = get_group_for_user(request.user, group_id, action="delete")
    error = ""
    status = 200
    if request.method == "POST":
        try:
            services.group_delete(actor=actor_for_user(request.user), group_id=group.pk)
        except ServiceError as exc:
            error = exc.message
            status = 422
        else:
            messages.success(request, f"Secret group {group.name!r} deleted.")
            return finish(request, reverse("secrets:groups"))
    context = {"group": group, "secret_count": group.secrets.count(), "error": error}
    return render_page_or_partial(
        request, "secrets/group_delete.html", "group-delete", context, status=status
    )
