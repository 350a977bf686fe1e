"""Model → wire dicts for the API, shared by the resource modules (timestamps as §1.3 wants)."""

from __future__ import annotations

from typing import Any

from console.api import timestamp
from secrets_app.models import SecretGroup, SecretTask


def group_json(group: SecretGroup) -> dict[str, Any]:
    return {
        "id": group.pk,
        "name": group.name,
        "description": group.description,
        "created_by": group.created_by,
        "created_at": timestamp(group.created_at),
        "updated_at": timestamp(group.updated_at),
    }


def task_json(task: SecretTask) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.pk,
        "created_by": task.created_by,
        "creation_date": timestamp(task.creation_date),
        "last_update_date": timestamp(task.last_update_date),
        "updated_by": task.updated_by,
        "type": task.type,
        "status": task.status,
        "trigger": task.trigger,
        "secret_id": str(task.secret_id),
    }
    if task.secret_version_ref:
        body["secret_version_id"] = str(task.secret_version_ref)
    if task.errors:
        body["errors"] = task.errors
    return body
