"""Secret locks on the Versions tab: add a lock to the current or previous version, remove one.

Both go through secrets_app.services.locks, which checks the Manager role again (IAM action
`secret_lock.manage`), keeps every rule and audits; these views check the role first (403 for a
forged POST), parse the form and show the outcome.

Without JavaScript, Add lock is a form in the version's row (inside a <details>): it answers with
the whole tab, the form open with the errors beside its fields (422), or redirects back to the
tab with a message. Remove is a link to the tab with a confirmation in place of the lock, whose
button posts. With htmx the same forms and links swap the tab's live part (#tab-live) in place.

A GET of either URL is the Versions tab (with the form open, or the confirmation shown): the
tab's polling fetches the URL it was rendered for, which after a POST is one of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from console.errors import AccessDeniedError, NotFoundError, ServiceError
from console.http import AuthedRequest
from console.reauth import require_recent_password
from secrets_app.forms.locks import LockForm
from secrets_app.models import Secret, SecretLock, SecretVersion, VersionAlias
from secrets_app.permissions import get_secret_for_action, principal_of
from secrets_app.services.locks import locks_create, locks_delete
from secrets_app.views.history import TEMPLATE, _render, _versions_context

# What a version's row shows besides its locks, set on the version for the template:
# lock_form (the posted Add lock form), lock_open (that form unfolded), lock_focus (the focus
# returns to its Add lock), removing (the name of the lock whose removal is being confirmed)
# and lock_notice (why nothing was done).
RowState = Mapping[str, Any]


def _version(secret: Secret, version_id: str) -> SecretVersion:
    version = secret.versions.filter(pk=version_id).first()
    if version is None:
        raise Http404("That version no longer exists: only the newest 50 are kept.")
    return version


def _is_poll(request: AuthedRequest) -> bool:
    """The tab's own refresh while a task is open (its #tab-live polls the URL it came from)."""
    return bool(request.htmx) and request.htmx.trigger == "tab-live"


def _tab(
    request: AuthedRequest,
    secret_id: str,
    *,
    row: SecretVersion | None = None,
    state: RowState | None = None,
    saved: str = "",
    status: int = 200,
) -> HttpResponse:
    """The Versions tab, `state` set on `row`: the whole page, or its live part for htmx."""
    context = _versions_context(request, secret_id)
    if saved:
        context["saved"] = saved
    if row is not None:
        for shown in context["versions"]:
            if shown.pk == row.pk:
                for key, value in (state or {}).items():
                    setattr(shown, key, value)
    if _is_poll(request):
        return _render(request, context, status=status)  # 286 once no task is open
    target = request.htmx.target if request.htmx and not request.htmx.boosted else None
    name = f"{TEMPLATE}#tab-live" if target == "tab-live" else TEMPLATE
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target", "HX-Trigger"])
    return response


def _done(
    request: AuthedRequest, secret: Secret, version: SecretVersion, message: str
) -> HttpResponse:
    """After a change: the tab with the message (htmx), or a redirect to it (post/redirect/get)."""
    if not request.htmx:
        messages.success(request, message)
        return redirect(reverse("secrets:versions", args=[secret.pk]))
    return _tab(request, str(secret.pk), row=version, state={"lock_focus": True}, saved=message)


# ---------------------------------------------------------------------------------------------
# Add a lock


def _added(
    name: str,
    version: SecretVersion,
    *,
    held_before: list[SecretLock],
    moved: bool,
    erased: SecretVersion | None,
) -> str:
    replaced = any(lock.version_id == version.pk for lock in held_before)
    text = (
        f"Lock {name} on version {version.serial} updated."
        if replaced
        else f"Lock {name} added to version {version.serial}."
    )
    others = sorted(lock.version.serial for lock in held_before if lock.version_id != version.pk)
    if moved and others:
        text += f" It was removed from version {', '.join(map(str, others))}."
    if erased is not None:
        text += f" The data of version {erased.serial} was deleted."
    return text


@never_cache
@require_http_methods(["GET", "POST"])
def lock_add(request: AuthedRequest, secret_id: str, version_id: str) -> HttpResponse:
    """Lock the current or previous version (or update the description and attributes of the
    lock of that name it holds), with the API's modes for the same name on other versions."""
    secret = get_secret_for_action(request.user, secret_id, "lock")
    version = _version(secret, version_id)
    if request.method == "GET":
        unfold = not _is_poll(request) and version.alias is not None
        return _tab(request, secret_id, row=version, state={"lock_open": unfold})
    previous = secret.versions.filter(alias=VersionAlias.PREVIOUS).first()
    form = LockForm(request.POST, secret=secret, version=version, previous=previous)
    if form.is_valid():
        name = form.cleaned_data["name"]
        held_before = list(
            SecretLock.objects.filter(secret=secret, name=name).select_related("version")
        )
        had_data = previous is not None and previous.payload_available
        try:
            locks_create(
                principal=principal_of(request.user),
                secret_id=secret.pk,
                version=str(version.pk),
                locks=[form.lock()],
                mode=form.mode_value(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except AccessDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except NotFoundError as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:  # not lockable now, a task still open, the limit, the mode
            form.add_service_error(exc.message, field=exc.field)
        else:
            erased = None
            if previous is not None and had_data:
                previous.refresh_from_db(fields=["payload_available"])
                erased = None if previous.payload_available else previous
            message = _added(
                name,
                version,
                held_before=held_before,
                moved=form.mode_value() is not None,
                erased=erased,
            )
            return _done(request, secret, version, message)
    state = {"lock_form": form, "lock_open": True}
    return _tab(request, secret_id, row=version, state=state, status=422)


# ---------------------------------------------------------------------------------------------
# Remove a lock


@never_cache
@require_http_methods(["GET", "POST"])
def lock_remove(request: AuthedRequest, secret_id: str, version_id: str, name: str) -> HttpResponse:
    """GET: the tab, asking to confirm the removal in place of the lock. POST: remove it."""
    secret = get_secret_for_action(request.user, secret_id, "lock")
    version = _version(secret, version_id)
    if not version.locks.filter(name=name).exists():
        if _is_poll(request):
            return _tab(request, secret_id)
        gone = f"Version {version.serial} holds no lock named {name}: nothing to remove."
        return _tab(request, secret_id, row=version, state={"lock_notice": gone})
    if request.method == "GET":
        return _tab(request, secret_id, row=version, state={"removing": name})
    # Only the POST asks: the GET's confirmation is also what the tab's polling fetches.
    if ask := require_recent_password(request, why="remove a lock"):
        return ask
    try:
        locks_delete(
            principal=principal_of(request.user),
            secret_id=secret.pk,
            names=[name],
            version=str(version.pk),
        )
    except AccessDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    except NotFoundError as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        state = {"removing": name, "lock_notice": exc.message}
        return _tab(request, secret_id, row=version, state=state, status=422)
    left = secret.locks.count()
    after = " The secret holds no lock now." if not left else ""
    return _done(
        request, secret, version, f"Lock {name} removed from version {version.serial}.{after}"
    )
