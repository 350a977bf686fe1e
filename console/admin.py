from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from console.audit import may_read_audit_log
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
        "outcome",
        "channel",
        "source_ip",
    )
    list_filter = ("outcome", "channel", "actor_type", "object_type")
    search_fields = ("actor_name", "actor_id", "object_id", "object_name")
    date_hierarchy = "created_at"

    # The same rule as the Audit page: a Django model permission alone does not open the log.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and may_read_audit_log(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) and may_read_audit_log(request.user)
