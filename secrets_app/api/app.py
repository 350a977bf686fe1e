"""The REST API v2 (reference/sm-api.md §1-§4): one django-ninja application.

django-ninja routes the requests, validates every body, query and path parameter against the
pydantic schemas in `secrets_app.api.schemas`, checks every response against the documented
schema, and generates /api/v2/openapi.json from those same schemas. This module adds what makes
the wire format IBM's: every error is IBM's error body (§7.1) with the status of §1.3, bodies must
be JSON objects (PATCH also as application/merge-patch+json), and responses omit absent fields.

Authentication happens before routing, in console.middleware.ApiAuthenticationMiddleware; the
`auth` here only hands its principal to the views (and documents the bearer scheme).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from console.api import (
    UNAUTHORIZED,
    error_response,
    internal_error_response,
    validation_error_response,
)
from console.crypto import CryptoError
from console.errors import DuplicateNameError, ServiceError
from secrets_app.api import configurations, groups, locks, secrets, tasks, versions
from secrets_app.api.base import JsonObjectParser, MiddlewareBearer, error_target

logger = logging.getLogger("console.api")


api = NinjaAPI(
    title="Secrets Manager Console API",
    version="2.0.0",
    description=(
        "IBM Cloud Secrets Manager's v2 API for secret groups, secrets, versions, locks, secret "
        "tasks and configurations, served by this console. Get a bearer token from "
        "POST /identity/token with an API key (grant_type "
        "urn:ibm:params:oauth:grant-type:apikey)."
    ),
    urls_namespace="api-v2",
    docs_url=None,  # Swagger UI is served from vendored files (secrets_app.api.docs)
    openapi_url="/openapi.json",
    auth=MiddlewareBearer(),
    parser=JsonObjectParser(),
)


@api.exception_handler(NinjaValidationError)
def _invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {"loc": (), "msg": "The request is not valid."}
    target_type, name = error_target(list(first.get("loc", ())))
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "is not a known field here"
    if first.get("type") == "missing":
        message = "is required"
    return error_response(
        400, "bad_request", f"{name}: {message}", target=name, target_type=target_type
    )


@api.exception_handler(DuplicateNameError)
def _duplicate(request: HttpRequest, exc: DuplicateNameError) -> HttpResponse:
    return error_response(409, "conflict", str(exc.message), target=exc.field)


@api.exception_handler(ValidationError)
def _field_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return validation_error_response(exc)


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return error_response(exc.status, exc.code, exc.message, target=exc.field)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", str(exc) or "No such resource.")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(403, "forbidden", str(exc) or "You may not do that.")


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(401, "unauthorized", UNAUTHORIZED)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja wraps what the body parser raised ("Cannot parse request body"): say what it was.
    if isinstance(exc.__cause__, ServiceError):
        return _service_error(request, exc.__cause__)
    return error_response(exc.status_code, "bad_request", exc.message)


@api.exception_handler(CryptoError)
def _crypto_error(request: HttpRequest, exc: CryptoError) -> HttpResponse:
    logger.error("crypto failure in %s", request.path)
    return error_response(500, "internal_error", "The secret data could not be decrypted.")


@api.exception_handler(OperationalError)
def _database_unavailable(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    # SQLite's "database is locked" past its busy timeout, PostgreSQL's lock or statement
    # timeout, a lost connection: the request's transaction rolled back, and the same request
    # can succeed in a moment, so the caller (a job reporting its task) may retry (sm-api.md
    # §5.6: 5xx and 429 are retried). The text may quote SQL: only the class is logged.
    logger.warning(
        "database unavailable in %s %s (%s)", request.method, request.path, type(exc).__name__
    )
    response = error_response(
        503,
        "service_unavailable",
        "The database is busy or unavailable at the moment; retry the request shortly.",
    )
    response["Retry-After"] = "1"
    return response


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    return internal_error_response(request, exc)


for module in (groups, secrets, versions, locks, tasks, configurations):
    api.add_router("", module.router)
