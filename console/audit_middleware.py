"""The audit log's view of a request: where it comes from, and the refusals it met.

`AuditMiddleware` sits near the top of the stack (console/settings.py), so every audit row
written while the request is served records its channel and client address, and the refusals
are written once the response is ready: after the view's transactions have rolled back, and
also when a middleware further down refused the request (a CSRF failure answers 403).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from console.audit import request_origin, write_request_denials
from console.identity import Actor, actor_for_user


def requester(request: HttpRequest) -> Actor | None:
    """Who sent the request: the API's bearer principal, the signed-in user, or nobody."""
    principal: Any = getattr(request, "principal", None)
    if principal is not None:
        return Actor(
            iam_id=str(principal.iam_id),
            name=str(principal.name),
            system=getattr(principal, "kind", "") == "system",
        )
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return actor_for_user(user)
    return None


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with request_origin(request) as origin:
            response = self.get_response(request)
            if origin.denials or response.status_code == 403:
                match = request.resolver_match
                write_request_denials(
                    origin,
                    requester=requester(request),
                    method=str(request.method),
                    path=request.path,
                    status=response.status_code,
                    view_name=match.view_name if match else "",
                )
        return response
