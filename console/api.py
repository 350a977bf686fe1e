"""Plumbing shared by every JSON endpoint: bearer authentication, IBM's error body, JSON I/O.

API views stay thin: they parse the request, call one service, and serialise the result. Errors
raised by services become IBM's error body (reference/sm-api.md §7.1) with a 4xx status.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from secrets_app.crypto import CryptoError
from secrets_app.errors import ServiceError

logger = logging.getLogger("console.api")

MORE_INFO = "https://cloud.ibm.com/apidocs/secrets-manager/secrets-manager-v2"


class ApiRequest(HttpRequest):
    principal: Any  # engines_app.providers.embedded.iam.services.Principal


def error_response(
    status: int, code: str, message: str, *, target: str | None = None
) -> JsonResponse:
    error: dict[str, Any] = {"code": code, "message": message, "more_info": MORE_INFO}
    if target:
        error["target"] = {"type": "field", "name": target}
    return JsonResponse(
        {"errors": [error], "trace": str(uuid.uuid4()), "status_code": status}, status=status
    )


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
    try:
        body = json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ServiceError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ServiceError("The request body must be a JSON object.")
    return body


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def api_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Bearer-token authentication plus error translation for an /api/v2 view.

    The view receives `request.principal`. Services raise; this turns what they raise into IBM's
    error body. Unexpected exceptions become a 500 whose body carries only a trace id.
    """
    from engines_app.providers.embedded.iam.services import InvalidTokenError, token_verify

    @csrf_exempt  # bearer tokens, not cookies, authenticate the API
    @login_not_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(
                401, "unauthorized", "Send an IAM access token: Authorization: Bearer <token>."
            )
        try:
            request.principal = token_verify(token.strip())  # type: ignore[attr-defined]
            response = view(request, *args, **kwargs)
            if response.status_code == 405 and response.get("Content-Type", "").startswith(
                "text/html"
            ):
                allowed = response.get("Allow", "")
                return error_response(405, "method_not_allowed", f"Use one of: {allowed}.")
            return response
        except InvalidTokenError as exc:
            return error_response(401, exc.code, exc.message)
        except ServiceError as exc:
            return error_response(exc.status, exc.code, exc.message, target=exc.field)
        except ValidationError as exc:
            return validation_error_response(exc)
        except CryptoError:
            logger.exception("crypto failure in %s", request.path)
            return error_response(500, "internal_error", "The secret data could not be decrypted.")

    return wrapper
