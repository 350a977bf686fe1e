"""Template context for the main navigation that the kernel itself owns: the Audit page link."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from console.audit import may_read_audit_log


def audit_nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages that never render the navigation pay no query for it.
    return {"nav_audit": SimpleLazyObject(lambda: may_read_audit_log(user))}
