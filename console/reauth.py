"""Re-authentication ("sudo mode"): a recent password before the console's sensitive actions.

Revealing a value, deleting, changing roles and minting API keys in the console need the user's
password entered within the last `settings.SM_SUDO_MAX_AGE_SECONDS`. Signing in counts: every
login stamps the session (`stamp_on_login`, connected in ConsoleConfig.ready()); /reauth/ asks
for the password again once the stamp is older.

A guarded view calls `require_recent_password` right after its access helper (so whoever may
not act gets their 403 or 404 first, not a password prompt). None means go on; otherwise it
returns the response that asks: a redirect to /reauth/, or an HX-Redirect there for htmx. Once
the password is confirmed the user goes back: to the page they asked for (a GET), or to the page
where they can repeat the action with one click (a POST is never replayed).

Failed passwords count against the same limits as sign-in (`console.throttle`): per user, so a
stolen session cannot guess at speed from several addresses, and per client address, shared with
the login form. Successes and failures are audited. The API (bearer tokens) is not affected.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from console.audit import AuditSubject, audit_denied, audit_record
from console.http import AuthedRequest
from console.identity import actor_for_user
from console.throttle import Limit, client_address, exceeded, record_failure, reset

# The session's record of the last password entry (seconds since the epoch), and what the user
# was about to do when asked (for the prompt's wording and the message after it).
SESSION_STAMP = "sm_password_at"
_SESSION_ASKED = "sm_reauth_asked"
REAUTH_ACTION = "auth.reauth"


def stamp(request: HttpRequest) -> None:
    """Record that the user has just entered their password."""
    request.session[SESSION_STAMP] = int(time.time())


def stamp_on_login(sender: object, request: HttpRequest | None, **kwargs: Any) -> None:
    """user_logged_in receiver: a sign-in is a password entered just now."""
    if request is not None and hasattr(request, "session"):
        stamp(request)


def password_age(request: HttpRequest) -> float | None:
    """Seconds since the password was last entered in this session; None if never."""
    at = request.session.get(SESSION_STAMP)
    if not isinstance(at, int | float) or isinstance(at, bool):
        return None
    return time.time() - at


def is_recent(request: HttpRequest) -> bool:
    age = password_age(request)
    # A stamp from the future (a clock set back) is not trusted either.
    return age is not None and 0 <= age <= settings.SM_SUDO_MAX_AGE_SECONDS


def require_recent_password(
    request: HttpRequest, *, why: str, retry_url: str | None = None
) -> HttpResponse | None:
    """None if the password is recent; otherwise the response that asks for it.

    `why` completes "To ... confirm your password" (e.g. "reveal a secret's value"). After the
    password, a GET goes back to the URL it asked for; a POST goes to `retry_url` (by default
    its own path, which then must answer GET with the form to submit again).
    """
    if is_recent(request):
        return None
    repeat = request.method not in ("GET", "HEAD")
    back = (retry_url or request.path) if repeat else request.get_full_path()
    request.session[_SESSION_ASKED] = {"why": why, "repeat": repeat}
    url = f"{reverse('reauth')}?{urlencode({'next': back})}"
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)


class ReauthForm(forms.Form):
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


def _limits(request: HttpRequest, user: AbstractBaseUser) -> list[Limit]:
    window = settings.LOGIN_THROTTLE_WINDOW
    return [
        Limit.of(
            "reauth-user", str(user.pk), attempts=settings.LOGIN_THROTTLE_ATTEMPTS, window=window
        ),
        # The sign-in form's per-address limit: guesses here and there share one budget.
        Limit.of(
            "login-client",
            client_address(request),
            attempts=settings.LOGIN_THROTTLE_CLIENT_ATTEMPTS,
            window=window,
        ),
    ]


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _audit(request: AuthedRequest, *, outcome: str) -> None:
    """A confirmed password is recorded as allowed, a wrong or throttled one as denied."""
    actor = actor_for_user(request.user)
    subject = AuditSubject("user", actor.iam_id, request.user.get_username())
    if outcome == "confirmed":
        audit_record(
            actor=actor,
            action=REAUTH_ACTION,
            object_type=subject.object_type,
            object_id=subject.object_id,
            object_name=subject.object_name,
        )
    else:
        audit_denied(actor=actor, action=REAUTH_ACTION, subject=subject, detail={"reason": outcome})


def _minutes(seconds: int) -> str:
    if seconds % 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def reauth_view(request: AuthedRequest) -> HttpResponse:
    """Ask for the signed-in user's password; on success, back to where they were going."""
    asked = request.session.get(_SESSION_ASKED) or {}
    form = ReauthForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        limits = _limits(request, request.user)
        if exceeded(*limits):
            _audit(request, outcome="throttled")
            form.errors.clear()
            form.add_error(
                None,
                "Too many wrong passwords. Wait "
                f"{_minutes(settings.LOGIN_THROTTLE_WINDOW)} and try again.",
            )
            response = _page(request, form, asked, status=429)
            response["Retry-After"] = str(settings.LOGIN_THROTTLE_WINDOW)
            return response
        if form.is_valid():
            user = authenticate(
                request,
                username=request.user.get_username(),
                password=form.cleaned_data["password"],
            )
            if user is not None and user.pk == request.user.pk:
                reset(limits[0])
                # A new session key for the raised privilege, as a sign-in gets.
                request.session.cycle_key()
                stamp(request)
                request.session.pop(_SESSION_ASKED, None)
                _audit(request, outcome="confirmed")
                messages.success(request, _confirmed(asked))
                return redirect(_next_url(request))
            record_failure(*limits)
            _audit(request, outcome="wrong_password")
            form.add_error("password", "That is not your password. Try again.")
        status = 422
    return _page(request, form, asked, status=status)


def _confirmed(asked: dict[str, Any]) -> str:
    lasts = _minutes(settings.SM_SUDO_MAX_AGE_SECONDS)
    if asked.get("repeat") and asked.get("why"):
        return (
            f"Password confirmed for the next {lasts}. Nothing has been done yet: "
            f"you can now {asked['why']}."
        )
    return f"Password confirmed for the next {lasts}."


def _page(
    request: AuthedRequest, form: ReauthForm, asked: dict[str, Any], *, status: int
) -> HttpResponse:
    context = {
        "form": form,
        "next": _next_url(request),
        "why": asked.get("why", ""),
        "repeat": bool(asked.get("repeat")),
        "lasts": _minutes(settings.SM_SUDO_MAX_AGE_SECONDS),
        "focus": "invalid" if form.errors else "",
        "error_summary": True,
        "summary_where": "page",
    }
    return render(request, "registration/reauth.html", context, status=status)
