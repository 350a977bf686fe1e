from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from console.admin import ReadMostlyAdmin
from secrets_app.models import Secret, SecretGroup, SecretTask, SecretVersion


@admin.register(SecretGroup)
class SecretGroupAdmin(ReadMostlyAdmin):
    list_display = ("name", "id", "description", "created_by", "created_at")
    search_fields = ("name", "id", "description")


@admin.register(Secret)
class SecretAdmin(ReadMostlyAdmin):
    list_display = ("name", "secret_type", "secret_group", "state", "versions_total", "updated_at")
    list_filter = ("secret_type", "state", "secret_group")
    search_fields = ("name", "id", "description")
    list_select_related = ("secret_group",)


@admin.register(SecretVersion)
class SecretVersionAdmin(ReadMostlyAdmin):
    list_display = ("secret", "serial", "alias", "payload_available", "created_by", "created_at")
    list_filter = ("alias", "payload_available")
    search_fields = ("secret__name", "id", "credentials_id")
    list_select_related = ("secret",)

    # The keyed hashes of the redacted diff (and the root key id they derive from) stay out too.
    def get_exclude(self, request: HttpRequest, obj: SecretVersion | None = None) -> list[str]:
        return [*(super().get_exclude(request, obj) or ()), "payload_digests"]


@admin.register(SecretTask)
class SecretTaskAdmin(ReadMostlyAdmin):
    list_display = ("id", "secret", "type", "trigger", "status", "attempt", "last_update_date")
    list_filter = ("status", "type", "trigger")
    search_fields = ("id", "secret__name")
    list_select_related = ("secret",)
