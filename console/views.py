from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.liveness import heartbeat_age
from console.throttle import Limit, client_address, exceeded, record_failure, reset

logger = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("secrets:list")


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The database and the background worker: 503 unless both work, for monitors to act on.

    A running qcluster is not proof of work (killed workers are reincarnated into a stalled
    queue), so the worker counts as up only while its last processed heartbeat is fresh. Reading
    that heartbeat is the one query, and it proves the database answers too: this view is the
    floor of bench/table.py, so it stays that cheap.
    """
    stale_after = settings.SM_WORKER_STALE_AFTER
    worker: dict[str, object] = {
        "status": "unknown",
        "last_heartbeat": None,
        "age_seconds": None,
        "stale_after_seconds": stale_after,
    }
    try:
        beat = heartbeat_age()
    except DatabaseError:
        logger.exception("healthz: the database did not answer")
        return JsonResponse({"status": "error", "database": "error", "worker": worker}, status=503)
    if beat is None:
        worker["status"] = "no heartbeat yet"
    else:
        worker["status"] = "ok" if beat.age_seconds <= stale_after else "stale"
        worker["last_heartbeat"] = beat.beat_at.isoformat()
        worker["age_seconds"] = int(beat.age_seconds)
    status = worker["status"]
    return JsonResponse(
        {"status": status, "database": "ok", "worker": worker},
        status=200 if status == "ok" else 503,
    )


def _login_limits(request: HttpRequest) -> list[Limit]:
    username = (request.POST.get("username") or "").strip().lower()
    addr = client_address(request)
    window = settings.LOGIN_THROTTLE_WINDOW
    return [
        Limit.of(
            "login-pair", addr, username, attempts=settings.LOGIN_THROTTLE_ATTEMPTS, window=window
        ),
        Limit.of(
            "login-client", addr, attempts=settings.LOGIN_THROTTLE_CLIENT_ATTEMPTS, window=window
        ),
    ]


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view with a cap on failed attempts per client and username, and per client.

    It also serves /admin/login/, so the admin has no unthrottled way in.
    """

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if exceeded(*_login_limits(request)):
            form = self.get_form()
            form.errors.clear()
            minutes = settings.LOGIN_THROTTLE_WINDOW // 60
            form.add_error(
                None,
                f"Too many failed sign-in attempts from this address. Wait {minutes} minutes and try again.",
            )
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(settings.LOGIN_THROTTLE_WINDOW)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: object) -> HttpResponse:
        record_failure(*_login_limits(self.request))
        response = super().form_invalid(form)  # type: ignore[arg-type]
        response.status_code = 422
        return response

    def form_valid(self, form: object) -> HttpResponse:
        # Only the pair: other usernames tried from this address still count against it.
        reset(_login_limits(self.request)[0])
        return super().form_valid(form)  # type: ignore[arg-type]
