"""Plumbing shared by every JSON endpoint: bearer authentication, IBM's error body, JSON I/O.

API views stay thin: they parse the request, call one service, and serialise the result. Errors
raised by services become IBM's error body (reference/sm-api.md §7.1) with a 4xx status.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string

from console import validation
from console.errors import ServiceError

logger = logging.getLogger("console.api")

MORE_INFO = "https://cloud.ibm.com/apidocs/secrets-manager/secrets-manager-v2"


# Paths whose every response, errors included, is JSON: the REST API and the token endpoint.
JSON_PATH_PREFIXES = ("/api/", "/identity/")


def is_json_path(path: str) -> bool:
    return path.startswith(JSON_PATH_PREFIXES)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    target: str | None = None,
    target_type: str = "field",
    trace: str | None = None,
) -> JsonResponse:
    error: dict[str, Any] = {"code": code, "message": message, "more_info": MORE_INFO}
    if target:
        error["target"] = {"type": target_type, "name": target}
    response = JsonResponse(
        {"errors": [error], "trace": trace or str(uuid.uuid4()), "status_code": status},
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


def internal_error_response(request: HttpRequest, exc: BaseException) -> JsonResponse:
    """A 500 that says nothing but a trace id; the log holds the traceback under the same id.

    The traceback is logged without frame variables (they would hold the bearer token and the
    request body), and the exception text is not sent to the caller.
    """
    trace = str(uuid.uuid4())
    logger.error(
        "unexpected %s in %s %s (trace %s)",
        type(exc).__name__,
        request.method,
        request.path,
        trace,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_response(
        500,
        "internal_error",
        f"The server could not complete the request; quote trace {trace} when reporting it.",
        trace=trace,
    )


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def validation_error_response(exc: ValidationError) -> JsonResponse:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.message_dict.items()))
        message = " ".join(errors)
        return error_response(400, "bad_request", f"{field}: {message}", target=field)
    return error_response(400, "bad_request", " ".join(exc.messages))


def parse_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or a ServiceError explaining what is wrong with it."""
    content_type = request.content_type or ""
    if content_type not in {"application/json", "application/merge-patch+json"}:
        raise ServiceError("Send the request body as JSON (Content-Type: application/json).")
    limit = settings.SM_API_MAX_JSON_DEPTH
    try:
        body = json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ServiceError(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ServiceError(f"The request body is nested more than {limit} levels deep.") from None
    if not isinstance(body, dict):
        raise ServiceError("The request body must be a JSON object.")
    if _depth(body) > limit:
        raise ServiceError(f"The request body is nested more than {limit} levels deep.")
    if found := validation.first_text_problem(body):
        where, problem = found
        raise ServiceError(f"{where} {problem}.", field=where)
    return body


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _token_verifier() -> Callable[[str], Any]:
    """settings.SM_API_TOKEN_VERIFIER: token -> principal, or a ServiceError with status 401.

    Named in settings so that the kernel imports no app: the IAM provider supplies it.
    """
    return cast(Callable[[str], Any], import_string(settings.SM_API_TOKEN_VERIFIER))


UNAUTHORIZED = "Send an IAM access token: Authorization: Bearer <token>."


def authenticate_bearer(request: HttpRequest) -> Any:
    """The principal behind the request's bearer token, or a ServiceError with status 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError.unauthorized(UNAUTHORIZED)
    return _token_verifier()(token.strip())
