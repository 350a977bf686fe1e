"""The pieces every API resource module shares: the router class, the auth hand-over, the
body parser and the error-target rule. secrets_app.api.app assembles them into the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.parser import Parser
from ninja.security import HttpBearer

from console.api import parse_json_object
from engines_app.providers.iam import Principal


class ApiRequest(HttpRequest):
    """What an API view receives: `auth` is the caller, as the IAM provider describes them."""

    auth: Principal


class MiddlewareBearer(HttpBearer):
    """The principal that ApiAuthenticationMiddleware verified; None (401) if there is none."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return getattr(request, "principal", None)


class JsonObjectParser(Parser):
    """Bodies are JSON objects within the size and depth limits (console.api.parse_json_object)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return parse_json_object(request)


class ApiRouter(Router):
    """A router whose responses leave out absent (None) fields, as IBM's do."""

    def add_api_operation(self, *args: Any, **kwargs: Any) -> None:
        kwargs["exclude_none"] = True
        super().add_api_operation(*args, **kwargs)


def error_target(loc: Sequence[Any]) -> tuple[str, str]:
    """(target type, name) for a ninja validation error's location.

    Body errors are located as ("body", <parameter name>, field, ...); in a discriminated union
    pydantic puts the tag value (secret_type, config_type, status) before the field, which is
    not part of the field's path. Query and path errors are ("query"|"path", name).
    """
    source, *rest = [str(part) for part in loc] or ["body"]
    if source == "body":
        fields = rest[1:]
        if len(fields) > 1 and fields[0] in _DISCRIMINATOR_VALUES:
            fields = fields[1:]
        return "field", ".".join(fields) or "body"
    if source == "header":
        return "header", ".".join(rest) or source
    return "parameter", ".".join(rest) or source


# The tag values of the discriminated unions. Schema modules register theirs when they define one.
_DISCRIMINATOR_VALUES: set[str] = set()


def register_discriminator_values(*values: str) -> None:
    _DISCRIMINATOR_VALUES.update(values)
