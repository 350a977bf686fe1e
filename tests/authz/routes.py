"""Every URL pattern of the project, walked from the root resolver, and how the matrix calls one.

A pattern's key is its URL name with its namespace (`namespace:name`). Two rules widen or
narrow that:

- The Django admin's patterns (everything under /admin/ that Django's AdminSite routes) share
  one row, ADMIN: the site is Django's own, it lets in only staff (`is_staff`), none of the
  personas is staff, and each of its views starts with the same staff check (AdminSite's
  admin_view), so they all answer each persona alike. The matrix still calls every one of them
  (admin_urls). Two have rows of their own: admin:logout, which sends a signed-in non-staff
  user to the admin's index instead, and admin:login, whose URL the console's throttled sign-in
  view serves (console/urls.py routes /admin/login/ before the admin).
- A name whose URL argument picks a different view has a row per choice, `name[choice]`: the
  wizards, one per registered kind. Any row may have variants that differ in what they send,
  `name[choice, what]` or `name[what]` (a secret of each type, another user's draft, a group
  outside the persona's scope).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.wizards import registered_wizards
from tests.authz.calls import CALLS
from tests.authz.world import World

ADMIN = "admin:*"
ADMIN_OWN_ROWS = ("admin:login", "admin:logout")
WIZARD_NAMES = ("wizard-start", "wizard-step")
API_NAMESPACE = "api-v2"
# Answers (besides plain status codes) that the table names.
LOGIN = "302 to the login page"
REAUTH = "302 to the password prompt"
REDIRECT = "302 elsewhere"


@dataclass(frozen=True)
class Route:
    key: str  # the table row it belongs to (before variants)
    route: str  # the full pattern, for messages


def _walk(patterns: list[Any], prefix: str, namespace: str | None) -> list[Route]:
    found: list[Route] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            ns = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            found += _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
            continue
        assert isinstance(pattern, URLPattern)
        route = prefix + str(pattern.pattern)
        name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
        in_admin = namespace == "admin" or (route.startswith("admin/") and name is None)
        shared = in_admin and name not in ADMIN_OWN_ROWS
        found.append(Route(key=ADMIN if shared else (name or route), route=route))
    return found


def project_routes() -> list[Route]:
    return _walk(get_resolver().url_patterns, "", None)


def required_keys() -> set[str]:
    """The rows the table must have: every pattern's key, the wizards' one per kind."""
    keys = {r.key for r in project_routes()}
    for name in WIZARD_NAMES:
        keys.discard(name)
        keys.update(f"{name}[{kind}]" for kind in registered_wizards())
    return keys


def base_name(key: str) -> str:
    return key.split("[", 1)[0]


def required_key_of(table_key: str, required: set[str]) -> str | None:
    """The required key a table row belongs to: itself, or what it is a variant of."""
    for candidate in (table_key, table_key.split(",", 1)[0] + "]", base_name(table_key)):
        if candidate in required:
            return candidate
    return None


def is_api(key: str) -> bool:
    """API rows are called with bearer tokens only (no session)."""
    return key.startswith(f"{API_NAMESPACE}:") or key == "iam-token"


def api_operation_methods() -> dict[str, str]:
    """Each API operation's URL name and its HTTP method, from django-ninja's own registry."""
    from secrets_app.api.app import api

    methods: dict[str, str] = {}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                (method,) = operation.methods
                methods[f"{API_NAMESPACE}:{operation.operation_id}"] = method
    return methods


def admin_urls() -> list[str]:
    """A concrete URL for every admin pattern (object ids: 1; the catch-all: a missing page)."""
    urls = []
    for route in project_routes():
        if route.key != ADMIN:
            continue
        path = route.route.replace("^", "").replace("$", "")
        path = path.replace("(?P<app_label>auth|django_q|console|secrets_app|engines_app)", "auth")
        path = path.replace("(?P<url>.*)", "no-such-page/")
        for arg in ("<path:object_id>", "<id>", "<path:content_type_id>"):
            path = path.replace(arg, "1")
        urls.append("/" + path)
    return urls


def url_for(world: World, key: str, persona: str) -> str:
    call = CALLS[key]
    url = reverse(base_name(key), kwargs=call.kwargs(world, persona))
    return f"{url}?{call.query}" if call.query else url


def perform(world: World, key: str, method: str, persona: str, url: str | None = None) -> Any:
    """One request of the matrix: `method` on the row's URL (or `url`) as `persona`."""
    api = is_api(key)
    client: Client = world.client(persona, api=api)
    url = url or url_for(world, key, persona)
    body = CALLS[key].body(world, persona) if key in CALLS else {}
    if method == "POST" and not api:
        return client.post(url, body)
    if api and method in ("POST", "PUT", "PATCH") and key != "iam-token":
        return client.generic(method, url, json.dumps(body), content_type="application/json")
    if method == "POST":
        return client.post(url, body)
    return client.generic(method, url)


def outcome(response: HttpResponse) -> int | str:
    """The status, with redirects told apart by where they go."""
    if response.status_code in (301, 302, 303, 307, 308):
        location = response["Location"]
        if location.startswith(("/login/", "/admin/login/")):
            return LOGIN
        if location.startswith("/reauth/"):
            return REAUTH
        return REDIRECT
    return response.status_code
