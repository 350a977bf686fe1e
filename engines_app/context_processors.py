"""Template context for the main navigation: which embedded-cloud consoles the user may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from engines_app.providers.access import (
    can_manage_access,
    can_manage_code_engine,
    can_manage_iam,
    can_read_configurations,
)


def cloud_nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages that never render the navigation (JSON, partials) pay no query for it.
    return {
        "nav_engines": SimpleLazyObject(lambda: can_read_configurations(user)),
        "nav_iam": SimpleLazyObject(lambda: can_manage_iam(user)),
        # A Manager of some secret groups only: the Access page, for those groups' roles.
        "nav_access": SimpleLazyObject(lambda: can_manage_access(user)),
        "nav_code_engine": SimpleLazyObject(lambda: can_manage_code_engine(user)),
    }
