"""The embedded IAM's Access page: who holds which role where, assigning a role and revoking one.

A Manager of the instance sees and edits every policy (the instance's own, and each secret
group's); a Manager of some secret groups sees and edits only those groups' policies, and
anything else is 404 to them. Assigning and revoking need a recent password (console.reauth).

Every form is a plain POST that works without JavaScript (post/redirect/get, 422 with the page
re-rendered on an error); with htmx the page's region (#access-region) is swapped in place, and
a revocation's confirmation replaces the policy's row.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.http import reswap, retarget

from console.errors import ServiceError
from console.htmx import finish, render_page_or_partial
from console.http import AuthedRequest
from console.identity import actor_for_user
from console.reauth import require_recent_password
from engines_app.providers.access import (
    can_manage_access,
    can_manage_iam,
    require_access_manager,
)
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.access_selectors import (
    Scope,
    Subject,
    assignable_subjects,
    manageable_scopes,
    policy_sections,
)
from engines_app.providers.embedded.iam.forms import AccessFilterForm, PolicyAssignForm
from engines_app.providers.embedded.iam.models import AccessGroup, AccessPolicy, ServiceId
from engines_app.providers.embedded.iam.permissions import get_policy_for_user
from engines_app.providers.embedded.iam.policies import policy_revoke

PAGE = "cloud/iam_access.html"
REVOKE = "cloud/iam_policy_revoke.html"
WHY = "assign or revoke roles"
ASSIGN_PREFIX = "assign"
_ASSIGN_FIELDS = ("subject", "role", "scope")


def _subject_kwargs(subject: Subject) -> dict[str, Any]:
    if isinstance(subject.obj, ServiceId):
        return {"service_id": subject.obj}
    if isinstance(subject.obj, AccessGroup):
        return {"access_group": subject.obj}
    return {"user": iam.iam_user_for(cast(AbstractBaseUser, subject.obj))}  # a console user


def _filters(query: QueryDict, scopes: list[Scope]) -> tuple[AccessFilterForm, str, str]:
    form = AccessFilterForm(query, scopes=scopes)
    if form.is_valid():
        return form, form.cleaned_data["scope"], form.cleaned_data["kind"]
    return form, "", ""


def _page_url(query: QueryDict | None = None) -> str:
    base = reverse("cloud:iam-access")
    kept = {k: query[k] for k in ("scope", "kind") if query is not None and query.get(k)}
    return f"{base}?{urlencode(kept)}" if kept else base


def _back_query(request: AuthedRequest) -> QueryDict:
    """The filters of the page a revocation came from (its hidden `back` field)."""
    back = urlsplit(request.POST.get("back", "") or request.GET.get("back", ""))
    if back.path != reverse("cloud:iam-access"):
        return QueryDict()
    return QueryDict(back.query)


def _region(
    request: AuthedRequest,
    *,
    scopes: set[str] | None,
    query: QueryDict,
    form: PolicyAssignForm | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    choices = manageable_scopes(scopes)
    filter_form, only, kind = _filters(query, choices)
    if form is None:
        initial = {
            name: request.GET.get(f"{ASSIGN_PREFIX}-{name}")
            for name in _ASSIGN_FIELDS
            if request.GET.get(f"{ASSIGN_PREFIX}-{name}")
        }
        form = PolicyAssignForm(
            prefix=ASSIGN_PREFIX, initial=initial, subjects=assignable_subjects(), scopes=choices
        )
    sections = policy_sections(scopes, only=only, kind=kind)
    context = {
        "sections": sections,
        "policy_count": sum(len(s.policies) for s in sections),
        "filter_form": filter_form,
        "filtered": bool(only or kind),
        "form": form,
        "notice": notice,
        "here": _page_url(query),
        "instance_manager": scopes is None,
        "show_iam_tabs": can_manage_iam(request.user),
        "focus": "invalid" if form.errors else "",
        "error_summary": True,
        "summary_where": "form",
    }
    return render_page_or_partial(request, PAGE, "access-region", context, status=status)


def _retry_url(request: AuthedRequest) -> str:
    """After a password prompt: the page again, its filters and the assignment's choices kept."""
    kept = {k: request.GET[k] for k in ("scope", "kind") if request.GET.get(k)}
    for name in _ASSIGN_FIELDS:
        if value := request.POST.get(f"{ASSIGN_PREFIX}-{name}", ""):
            kept[f"{ASSIGN_PREFIX}-{name}"] = value
    return f"{reverse('cloud:iam-access')}?{urlencode(kept)}" if kept else _page_url()


@require_http_methods(["GET", "POST"])
def access_page(request: AuthedRequest) -> HttpResponse:
    """GET: the policies and the Assign a role form. POST: assign the role."""
    scopes = require_access_manager(request.user)
    if request.method == "GET":
        return _region(request, scopes=scopes, query=request.GET)
    if ask := require_recent_password(request, why=WHY, retry_url=_retry_url(request)):
        return ask
    form = PolicyAssignForm(
        request.POST,
        prefix=ASSIGN_PREFIX,
        subjects=assignable_subjects(),
        scopes=manageable_scopes(scopes),
    )
    if not form.is_valid():
        return _region(request, scopes=scopes, query=request.GET, form=form, status=422)
    subject: Subject = form.cleaned_data["subject"]
    role = form.cleaned_data["role"]
    try:
        iam.policy_grant(
            actor=actor_for_user(request.user),
            role=role,
            secret_group_id=form.secret_group_id(),
            exists_ok=False,
            **_subject_kwargs(subject),
        )
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
        for key, messages_ in errors.items():
            form.add_error(key if key in form.fields else None, messages_)
    except ServiceError as exc:  # a refusal (not a Manager there any more), a group gone
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    else:
        done = f"{subject.label} now holds {role} on {iam.scope_label(form.secret_group_id())}."
        if request.htmx:
            return _region(request, scopes=scopes, query=request.GET, notice=done)
        messages.success(request, done)
        return redirect(_page_url(request.GET))
    return _region(request, scopes=scopes, query=request.GET, form=form, status=422)


def _revoke_context(
    request: AuthedRequest, policy: AccessPolicy, error: str = ""
) -> dict[str, Any]:
    return {
        "policy": policy,
        "scope": iam.scope_label(policy.secret_group_id),
        "error": error,
        "back": _page_url(_back_query(request)),
        "show_iam_tabs": can_manage_iam(request.user),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def policy_revoke_view(request: AuthedRequest, policy_id: UUID) -> HttpResponse:
    """GET: confirm (in place of the policy's row with htmx). POST: revoke it."""
    policy = get_policy_for_user(request.user, str(policy_id))
    if ask := require_recent_password(request, why=WHY):
        return ask
    if request.method == "GET":
        return render_page_or_partial(
            request, REVOKE, "revoke-row", _revoke_context(request, policy)
        )
    try:
        revoked = policy_revoke(actor=actor_for_user(request.user), policy_id=str(policy.pk))
    except ServiceError as exc:  # the last Manager of the instance; not a Manager there any more
        context = _revoke_context(request, policy, error=exc.message)
        return render_page_or_partial(request, REVOKE, "revoke-row", context, status=422)
    done = (
        f"{revoked.role} revoked from {revoked.subject_name} on "
        f"{iam.scope_label(revoked.secret_group_id)}."
    )
    if not can_manage_access(request.user):  # they revoked their own Manager role
        messages.success(request, f"{done} You no longer manage roles anywhere.")
        return finish(request, reverse("home"))
    if not request.htmx:
        messages.success(request, done)
        return redirect(_page_url(_back_query(request)))
    scopes = require_access_manager(request.user)
    response = _region(request, scopes=scopes, query=_back_query(request), notice=done)
    # The confirmation was the row; the answer is the whole region, with the row gone.
    return reswap(retarget(response, "#access-region"), "outerHTML")
