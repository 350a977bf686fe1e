"""The Audit page and its exports (console.audit_views)."""

from __future__ import annotations

from django.urls import path

from console import audit_views

app_name = "audit"

urlpatterns = [
    path("", audit_views.audit_log, name="log"),
    path("export.<str:fmt>", audit_views.audit_export, name="export"),
]
