"""The secret page's history tabs: Versions (with in-place version metadata, per-version Reveal
and Restore), the redacted diff, Tasks and Timeline.

Each tab has its own URL and is a whole page without JavaScript. With htmx, the tab links swap
`#tab-panel` (HX-Target: tab-panel) and push the URL; while a task of the secret is open, the
tab's live part (`#tab-live`) polls its own URL and the server stops the polling (286) once none
is. No GET here ever holds a secret value: the diff compares keyed hashes only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from console.errors import AccessDeniedError, ServiceError
from console.htmx import finish
from console.http import AuthedRequest
from console.models import AuditEvent
from secrets_app.forms import VersionMetadataForm
from secrets_app.models import Secret, SecretType, SecretVersion
from secrets_app.permissions import (
    get_secret_for_action,
    get_secret_for_user,
    principal_of,
    secret_permissions,
)
from secrets_app.services.credentials import OPEN_TASK_STATUSES
from secrets_app.services.editing import secret_version_metadata_update
from secrets_app.services.history import KINDS, secret_timeline, task_steps, version_diff
from secrets_app.services.lock_rules import lock_impact, locks_by_version, rotation_lock_blocker
from secrets_app.services.restore import RestoreRefusedError, restore_blocker, secret_restore
from secrets_app.services.versions import payload_gone_reason
from secrets_app.views.secrets import TASKS_SHOWN, metadata_as_json

TEMPLATE = "secrets/history.html"


def _base(request: AuthedRequest, secret_id: str, tab: str) -> dict[str, Any]:
    secret = get_secret_for_user(request.user, secret_id)
    tasks = list(secret.tasks.order_by("-creation_date", "-pk")[:TASKS_SHOWN])
    open_tasks = [t for t in tasks if t.status in OPEN_TASK_STATUSES]
    for task in tasks:
        task.steps = task_steps(task)  # type: ignore[attr-defined]
    return {
        "secret": secret,
        "tab": tab,
        "tasks": tasks,
        "open_tasks": open_tasks,
        "live": bool(open_tasks),
        "can": secret_permissions(request.user, secret),
    }


def _render(
    request: AuthedRequest, context: dict[str, Any], *, template: str = TEMPLATE, status: int = 200
) -> HttpResponse:
    """The whole page; only the tab panel for a tab switch; only the live part for a poll (286
    once nothing is open)."""
    target = request.htmx.target if request.htmx and not request.htmx.boosted else None
    if target == "tab-live" and template == TEMPLATE:
        response = render(request, f"{template}#tab-live", context, status=status)
        # Only a successful answer says "stop polling" (286); a refused in-place edit keeps its
        # 422, so that it reads as the field error it is.
        if not context["live"] and status == 200:
            response = HttpResponseStopPolling(response.content)
    elif target in ("tab-panel", "tab-live"):
        response = render(request, f"{template}#tab-panel", context, status=status)
    else:
        response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# ---------------------------------------------------------------------------------------------
# Versions


def _versions_context(request: AuthedRequest, secret_id: str) -> dict[str, Any]:
    context = _base(request, secret_id, "versions")
    secret: Secret = context["secret"]
    versions = list(secret.versions.order_by("-serial"))
    last_read: dict[str, Any] = {}
    reads = AuditEvent.objects.filter(
        object_type="secret", object_id=str(secret.pk), action="secret.read_payload"
    ).order_by("-created_at", "-id")
    for version_id, at in reads.values_list("detail__version_id", "created_at")[:500]:
        last_read.setdefault(str(version_id), at)
    locks = locks_by_version(secret)
    for held in locks.values():
        for lock in held:
            lock.attributes_json = metadata_as_json(lock.attributes, indent=None)  # type: ignore[attr-defined]
    for version in versions:
        version.held_locks = locks.get(str(version.pk), [])  # type: ignore[attr-defined]
        version.metadata_json = metadata_as_json(version.version_custom_metadata, indent=None)  # type: ignore[attr-defined]
        version.metadata_edit = metadata_as_json(version.version_custom_metadata, indent=2)  # type: ignore[attr-defined]
        version.gone_reason = payload_gone_reason(version)  # type: ignore[attr-defined]
        version.last_read = last_read.get(str(version.pk))  # type: ignore[attr-defined]
        version.restorable = (  # type: ignore[attr-defined]
            secret.secret_type == SecretType.IAM_CREDENTIALS
            and not restore_blocker(secret, version)
        )
    context.update(
        versions=versions,
        is_iam=secret.secret_type == SecretType.IAM_CREDENTIALS,
        diff_a=versions[1].pk if len(versions) > 1 else None,
        diff_b=versions[0].pk if versions else None,
    )
    return context


@never_cache
@require_GET
def versions_tab(request: AuthedRequest, secret_id: str) -> HttpResponse:
    return _render(request, _versions_context(request, secret_id))


@require_POST
def version_metadata_in_place(
    request: AuthedRequest, secret_id: str, version_id: str
) -> HttpResponse:
    """Edit one version's custom metadata in the Versions tab (audited by the service); the tab
    comes back with the row saved, or open with the error (422)."""
    secret = get_secret_for_action(request.user, secret_id, "edit")
    version = secret.versions.filter(pk=version_id).first()
    if version is None:
        raise Http404("That version no longer exists: only the newest 50 are kept.")
    form = VersionMetadataForm(request.POST, auto_id=f"id_v{version.serial}_%s")
    if form.is_valid():
        try:
            secret_version_metadata_update(
                principal=principal_of(request.user),
                secret_id=secret.pk,
                version=str(version.pk),
                version_custom_metadata=form.cleaned_data["version_custom_metadata"],
            )
        except ValidationError as exc:
            form.add_error("version_custom_metadata", exc.messages)
        except AccessDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except ServiceError as exc:
            form.add_error("version_custom_metadata", exc.message)
        else:
            saved = f"Metadata of version {version.serial} saved."
            if not request.htmx:
                messages.success(request, saved)
                return finish(request, reverse("secrets:versions", args=[secret.pk]))
            context = _versions_context(request, secret_id)
            context["saved"] = saved
            return _render(request, context)
    context = _versions_context(request, secret_id)
    for shown in context["versions"]:
        if shown.pk == version.pk:
            shown.metadata_edit = form.data.get("version_custom_metadata", "")
            shown.metadata_errors = form.errors.get("version_custom_metadata", [])
    return _render(request, context, status=422)


# ---------------------------------------------------------------------------------------------
# The redacted diff


def _pick(versions: list[SecretVersion], raw: str | None) -> SecretVersion | None:
    for version in versions:
        if raw and str(version.pk) == raw:
            return version
    return None


@never_cache
@require_GET
def versions_diff(request: AuthedRequest, secret_id: str) -> HttpResponse:
    context = _base(request, secret_id, "versions")
    secret: Secret = context["secret"]
    versions = list(secret.versions.order_by("-serial"))
    raw_a, raw_b = request.GET.get("a"), request.GET.get("b")
    a, b = _pick(versions, raw_a), _pick(versions, raw_b)
    errors: dict[str, str] = {}
    if (raw_a or raw_b) or request.GET:
        if a is None:
            errors["a"] = "Choose a version of this secret to compare from."
        if b is None:
            errors["b"] = "Choose a version of this secret to compare with."
        if a is not None and a == b:
            errors["b"] = "Choose two different versions."
    elif len(versions) > 1:
        a, b = versions[1], versions[0]
    diff = version_diff(secret=secret, a=a, b=b) if a and b and not errors else None
    context.update(
        versions=versions,
        diff=diff,
        errors=errors,
        chosen_a=str(a.pk) if a else raw_a or "",
        chosen_b=str(b.pk) if b else raw_b or "",
    )
    return _render(request, context, template="secrets/diff.html", status=422 if errors else 200)


# ---------------------------------------------------------------------------------------------
# Restore (IAM credentials only)


@never_cache
@require_http_methods(["GET", "POST"])
def version_restore(request: AuthedRequest, secret_id: str, version_id: str) -> HttpResponse:
    secret = get_secret_for_action(request.user, secret_id, "rotate")
    version = secret.versions.filter(pk=version_id).first()
    if version is None:
        raise Http404("That version no longer exists: only the newest 50 are kept.")
    error = ""
    if request.method == "POST":
        try:
            restored = secret_restore(
                principal=principal_of(request.user), secret_id=secret.pk, version_id=version.pk
            )
        except AccessDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except (RestoreRefusedError, ServiceError) as exc:
            error = exc.message
        else:
            messages.success(
                request,
                f"Version {restored.serial} created from version {version.serial}'s API key: "
                "it is now current.",
            )
            return finish(request, reverse("secrets:versions", args=[secret.pk]))
    context = _base(request, secret_id, "versions")
    latest = secret.versions.order_by("-serial").first()
    context.update(
        version=version,
        blocker=restore_blocker(secret, version),
        error=error,
        next_serial=(latest.serial if latest else 0) + 1,
        current=secret.versions.filter(alias="current").first(),
        locks=lock_impact(secret),
        lock_blocker=rotation_lock_blocker(secret),
    )
    status = 422 if error else 200
    return _render(request, context, template="secrets/restore.html", status=status)


# ---------------------------------------------------------------------------------------------
# Tasks and Timeline


@never_cache
@require_GET
def tasks_tab(request: AuthedRequest, secret_id: str) -> HttpResponse:
    return _render(request, _base(request, secret_id, "tasks"))


@never_cache
@require_GET
def timeline_tab(request: AuthedRequest, secret_id: str) -> HttpResponse:
    context = _base(request, secret_id, "timeline")
    secret: Secret = context["secret"]
    asked = request.GET.getlist("kind")
    unknown = [k for k in asked if k not in KINDS]
    kinds = [k for k in asked if k in KINDS]
    versions = list(secret.versions.order_by("-serial"))
    context.update(
        kinds=KINDS,
        chosen=kinds,
        kind_error="Unknown kind: " + ", ".join(unknown) + "." if unknown else "",
        events=secret_timeline(
            secret=secret, kinds=kinds, versions=versions, tasks=context["tasks"]
        ),
        query=request.GET.urlencode(),
    )
    return _render(request, context, status=422 if unknown else 200)
