from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from console.throttle import Limit, client_address, exceeded, record_failure, reset


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("secrets:list")


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


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

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
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
