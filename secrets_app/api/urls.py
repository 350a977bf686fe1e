"""Mounted at /api/v2/ by console.urls under the namespace `api-v2`: reverse an operation by its
SDK name, e.g. reverse("api-v2:replace_secret_task", args=[secret_id, task_id]). Besides the
API's operations the namespace holds the OpenAPI document (`openapi-json`), Swagger UI
(`swagger-ui`, secrets_app.api.docs) and ninja's root (`api-root`, which answers 404: ninja
reverses it to find the API's prefix)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from secrets_app.api.app import api
from secrets_app.api.docs import swagger_ui

_routes, app_name, _namespace = api.urls


def _ninja_own(pattern: URLPattern | URLResolver) -> URLPattern | URLResolver:
    """ninja's operations take no CSRF token (callers send bearer tokens, never cookies), but its
    own two views do not say so: a POST to them would get the CSRF 403 instead of what any path
    under /api/v2 answers. The document is read-only (405 for other methods); the root is 404."""
    if not isinstance(pattern, URLPattern):
        return pattern
    if pattern.name == "openapi-json":
        return path(
            str(pattern.pattern), csrf_exempt(require_safe(pattern.callback)), name=pattern.name
        )
    if pattern.name == "api-root":
        return path(str(pattern.pattern), csrf_exempt(pattern.callback), name=pattern.name)
    return pattern


urlpatterns = [
    path("swagger-ui", swagger_ui, name="swagger-ui"),
    *(_ninja_own(p) for p in _routes),
]
