"""The only writers of secret groups, secrets, versions and secret tasks.

Services are keyword-only and transactional: they validate everything first, then write, so a
rejected call leaves nothing half-written. They are the only code that seals or opens secret
material, and every payload read is audited.
"""

from __future__ import annotations

from secrets_app.services.arbitrary import arbitrary_secret_create, arbitrary_secret_rotate
from secrets_app.services.groups import (
    default_group_ensure,
    group_create,
    group_delete,
    group_get,
    group_update,
)
from secrets_app.services.versions import Payload, secret_version_payload_read

__all__ = [
    "Payload",
    "arbitrary_secret_create",
    "arbitrary_secret_rotate",
    "default_group_ensure",
    "group_create",
    "group_delete",
    "group_get",
    "group_update",
    "secret_version_payload_read",
]
