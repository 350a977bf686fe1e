from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("secrets:list")


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _throttle_keys(request: HttpRequest) -> list[str]:
    username = (request.POST.get("username") or "").strip().lower()
    addr = request.META.get("REMOTE_ADDR", "")
    return [
        "login-fail:user:" + hashlib.sha256(username.encode()).hexdigest(),
        "login-fail:addr:" + hashlib.sha256(addr.encode()).hexdigest(),
    ]


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view with a cap on failed attempts per username and per client address."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        limit = settings.LOGIN_THROTTLE_ATTEMPTS
        if any((cache.get(key) or 0) >= limit for key in _throttle_keys(request)):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many failed sign-in attempts. Wait 15 minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: object) -> HttpResponse:
        for key in _throttle_keys(self.request):
            cache.add(key, 0, settings.LOGIN_THROTTLE_WINDOW)
            cache.incr(key)
        response = super().form_invalid(form)  # type: ignore[arg-type]
        response.status_code = 422
        return response

    def form_valid(self, form: object) -> HttpResponse:
        cache.delete_many(_throttle_keys(self.request))
        return super().form_valid(form)  # type: ignore[arg-type]
