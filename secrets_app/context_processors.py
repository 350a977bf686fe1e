"""Template context for the main navigation: the Tasks link's badge, the number of unresolved
failed tasks the user may see. Lazy, so pages that never render the navigation pay nothing;
otherwise one COUNT (plus the user's policies), whatever the number of tasks."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from secrets_app.permissions import principal_of
from secrets_app.services.inbox_reading import unresolved_failed_count


def task_badge(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_failed_tasks": SimpleLazyObject(
            lambda: unresolved_failed_count(principal=principal_of(user))
        )
    }
