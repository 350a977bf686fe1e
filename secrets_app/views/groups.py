"""Console views for secret groups: list, create, edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from console.errors import ServiceError
from console.htmx import finish, render_page_or_partial
from console.http import AuthedRequest
from console.identity import actor_for_user
from console.reauth import require_recent_password
from secrets_app import services
from secrets_app.forms import GroupForm
from secrets_app.models import SecretGroup
from secrets_app.permissions import (
    can_manage_groups,
    get_group_for_user,
    readable_groups,
    require_group_permission,
)
from secrets_app.selectors import group_list_with_counts

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
    if ask := require_recent_password(request, why="delete a secret group"):
        return ask
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
