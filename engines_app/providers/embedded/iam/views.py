"""POST /identity/token: the embedded IAM's token endpoint (reference/sm-api.md §1.2)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from console.throttle import Limit, client_address, exceeded, record_failure
from engines_app.providers.embedded.iam.services import (
    APIKEY_GRANT,
    InvalidApiKeyError,
    token_issue,
)


def _iam_error(status: int, code: str, message: str) -> JsonResponse:
    # IAM's own body (errorCode/errorMessage) plus the SM-style errors[] that SDK cores read first.
    return JsonResponse(
        {
            "errorCode": code,
            "errorMessage": message,
            "errors": [{"code": code, "message": message}],
            "context": {"requestId": str(uuid.uuid4())},
            "trace": str(uuid.uuid4()),
            "status_code": status,
        },
        status=status,
    )


def _failure_limit(request: HttpRequest) -> Limit:
    return Limit.of(
        "identity-token",
        client_address(request),
        attempts=settings.TOKEN_THROTTLE_ATTEMPTS,
        window=settings.TOKEN_THROTTLE_WINDOW,
    )


@csrf_exempt
@login_not_required
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    # Failed exchanges are counted per client address, so API keys cannot be guessed at speed;
    # a client that exchanges valid keys is never slowed.
    limit = _failure_limit(request)
    if exceeded(limit):
        response = _iam_error(
            429,
            "BXNIM0436E",
            f"Too many failed API key exchanges from this address; try again in {limit.window // 60} minutes.",
        )
        response["Retry-After"] = str(limit.window)
        return response
    grant_type = request.POST.get("grant_type", "")
    if grant_type != APIKEY_GRANT:
        return _iam_error(400, "BXNIM0103E", f"Unsupported grant_type; use {APIKEY_GRANT}.")
    try:
        body = token_issue(apikey=request.POST.get("apikey", ""))
    except InvalidApiKeyError as exc:
        record_failure(limit)
        return _iam_error(400, "BXNIM0415E", exc.message)
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response
