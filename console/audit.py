"""The one writer of AuditEvent rows. Callers pass ids and names; values never go in."""

from __future__ import annotations

from typing import Any

from console.identity import Actor
from console.models import AuditEvent


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    object_name: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor_id=actor.iam_id,
        actor_name=actor.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_name=object_name,
        detail=detail or {},
    )
