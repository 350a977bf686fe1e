from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from console.models import AuditEvent

# Columns that hold secret material in any form. No admin shows them, even as read-only.
SEALED_FIELDS = ("sealed_key_id", "sealed_wrapped_key", "sealed_ciphertext")


class ReadMostlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Staff can browse and search; every change goes through the console or the API services."""

    exclude = SEALED_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadMostlyAdmin):
    list_display = (
        "created_at",
        "actor_name",
        "actor_id",
        "action",
        "object_type",
        "object_name",
        "object_id",
    )
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "actor_id", "object_id", "object_name")
    date_hierarchy = "created_at"
