from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as _DjangoLoginRequired
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from console import validation
from console.api import (
    authenticate_bearer,
    error_response,
    internal_error_response,
    is_json_path,
)
from console.errors import ServiceError

# No inline script anywhere: htmx is configured by a <meta> tag and the theme toggle lives in
# static/js/app.js. Inline style attributes stay allowed because the Django admin uses them.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        return response


class ApiAuthenticationMiddleware:
    """Bearer-token authentication for the REST API, before any routing happens.

    Every path under /api/ except the public documents (settings.SM_API_PUBLIC_PATHS: the
    OpenAPI document and Swagger UI) needs a valid IAM access token, so a caller without one
    gets 401 whatever the path or method, and learns nothing about which routes exist. The
    verified principal is `request.principal`; the API views' own auth reads it from there.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/") or request.path in settings.SM_API_PUBLIC_PATHS:
            return self.get_response(request)
        try:
            request.principal = authenticate_bearer(request)  # type: ignore[attr-defined]
        except ServiceError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return self.get_response(request)


class LoginRequiredMiddleware(_DjangoLoginRequired):
    """Django's login-required default, plus a full-page redirect for htmx requests.

    Without it an expired session would swap the login form into whatever region asked.
    """

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        # The API and the token endpoint authenticate with bearer tokens and API keys, never
        # with the session (ApiAuthenticationMiddleware has already checked the token).
        if is_json_path(request.path):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    # django-stubs types this hook's result as HttpResponseRedirect, but Django only returns it
    # as the response, so an htmx client redirect (not an HttpResponseRedirect) is fine.
    def handle_no_permission(  # type: ignore[override]  # django-stubs: return type too narrow
        self, request: HttpRequest, view_func: Callable[..., HttpResponseBase]
    ) -> HttpResponse:
        response = super().handle_no_permission(request, view_func)
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(response["Location"])
        return response


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "too_many_requests",
}


class JsonApiErrorMiddleware:
    """Every response on the API's paths is JSON, errors included (IBM's error body, §7.1).

    Django would otherwise answer an unknown route, a wrong method, an oversized body or a crash
    with an HTML page (with DEBUG on, one that shows frame variables such as the bearer token).
    It sits near the top of the stack so that it also sees what other middleware answer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_json_path(request.path):
            return self.get_response(request)
        too_big = self._too_big(request)
        if too_big is not None:
            return too_big
        bad_text = self._bad_text(request)
        if bad_text is not None:
            return bad_text
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        return self._as_json(request, response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_json_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):
            return self._payload_too_large()
        if isinstance(exception, Http404):
            return None  # becomes a 404 response, which __call__ turns into JSON
        return internal_error_response(request, exception)

    @staticmethod
    def _payload_too_large() -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(
            413, "payload_too_large", f"The request body is larger than {limit} bytes."
        )

    def _too_big(self, request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "bad_request", "Content-Length is not a number.")
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return self._payload_too_large()
        return None

    @staticmethod
    def _bad_text(request: HttpRequest) -> HttpResponse | None:
        """A path or query parameter that no database could store (a NUL, an unpaired
        surrogate) is refused here, before any view passes it to a query."""
        if problem := validation.text_problem(request.path):
            return error_response(400, "bad_request", f"The path {problem}.")
        for name, values in request.GET.lists():
            for value in [name, *values]:
                if problem := validation.text_problem(value):
                    return error_response(
                        400,
                        "bad_request",
                        f"The query parameter {name!r} {problem}.",
                        target=name,
                        target_type="parameter",
                    )
        return None

    @staticmethod
    def _as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        status = response.status_code
        if (
            status == 404
            and request.path.startswith("/api/")
            and not request.headers.get("Authorization")
        ):
            # Without a token the API says nothing about which routes exist.
            return error_response(
                401, "unauthorized", "Send an IAM access token: Authorization: Bearer <token>."
            )
        if status == 404:
            message = f"There is no API endpoint {request.method} {request.path}."
        elif status == 405:
            message = (
                f"{request.method} is not allowed here; use one of: {response.get('Allow', '')}."
            )
        elif status >= 500:
            message = "The server could not complete the request."
        else:
            message = f"The request was refused ({status})."
        json_response = error_response(
            status,
            _STATUS_CODES.get(status, "internal_error" if status >= 500 else "error"),
            message,
        )
        if "Allow" in response:
            json_response["Allow"] = response["Allow"]
        return json_response


class ConsoleInputMiddleware:
    """What no console form could make sense of is refused here, before any view sees it.

    - A body larger than the console takes: 413. Form data may be as large as
      settings.DATA_UPLOAD_MAX_MEMORY_SIZE, plus validation.UPLOAD_MAX_BYTES in files (the largest
      file a form reads). Django itself bounds only the form data, not files, which it would
      stream to a temporary file of any size.
    - Form data that cannot be read (a broken multipart body, too many fields or files): 400.
    - Text that no database could store, a NUL character (PostgreSQL answers it with an error) or
      an unpaired surrogate: 400 in the path or the query, 422 in a form field (naming it).
      The checks come after CSRF and sign-in (process_view, last in MIDDLEWARE), so a forged or
      anonymous request is refused as any other.

    The API's paths have the same checks in JsonApiErrorMiddleware. With htmx the answer is a
    422 (the error status that base.html's htmx swaps), shown at the top of the page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_json_path(request.path):
            return self.get_response(request)
        refused = self._unreadable(request)
        if refused is not None:
            return refused
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if is_json_path(request.path):
            return None
        if problem := validation.text_problem(request.path):
            return _refuse(request, 400, f"The address {problem}.")
        for name, values in request.GET.lists():
            if problem := _first_problem(name, values):
                return _refuse(request, 400, f"The query parameter {name[:64]!r} {problem}.")
        if request.method == "POST":
            for name, values in request.POST.lists():
                if problem := _first_problem(name, values):
                    return _refuse(
                        request,
                        422,
                        f"The field {name[:64]!r} {problem}: it cannot be stored. Nothing "
                        "was changed; enter the text again without it.",
                        field=name,
                    )
        return None

    @staticmethod
    def _unreadable(request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(request, 400, "The request's Content-Length is not a number.")
        form_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if form_limit is not None:
            multipart = request.content_type == "multipart/form-data"
            limit = form_limit + (validation.UPLOAD_MAX_BYTES if multipart else 0)
            if length > limit:
                return _too_large(request, limit)
        if request.method != "POST":
            return None
        try:
            request.POST  # noqa: B018  (parsed here, where its errors can be answered)
            request.FILES  # noqa: B018
        except RequestDataTooBig:
            return _too_large(request, form_limit or 0)
        except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent, UnreadablePostError):
            return _refuse(request, 400, "The form data could not be read. Send the form again.")
        return None


def _first_problem(name: str, values: list[str]) -> str | None:
    for value in [name, *values]:
        if problem := validation.text_problem(value):
            return problem
    return None


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return _refuse(
        request,
        413,
        f"What was sent is larger than the console accepts ({_megabytes(limit)}). A secret "
        f"value or file is at most 1 MB (1,000,000 characters); metadata at most 10 KB.",
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def _refuse(request: HttpRequest, status: int, message: str, *, field: str = "") -> HttpResponse:
    """A console page (or, for htmx, a notice for the top of the page) saying what was refused."""
    htmx = getattr(request, "htmx", None)
    back = "" if validation.text_problem(request.path) else request.path
    context = {"message": message, "field": field, "status": status, "back": back}
    if htmx and not htmx.boosted:
        response = render(request, "bad_input.html#notice", context, status=422)
        response["HX-Retarget"] = "#main"
        response["HX-Reswap"] = "afterbegin"
    else:
        response = render(request, "bad_input.html", context, status=status)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["HX-Request"])
    return response
