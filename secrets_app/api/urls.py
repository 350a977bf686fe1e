"""Mounted at /api/v2/ by console.urls under the namespace `api-v2`: reverse an operation by its
SDK name, e.g. reverse("api-v2:replace_secret_task", args=[secret_id, task_id])."""

from __future__ import annotations

from secrets_app.api.app import api

urlpatterns, app_name, _namespace = api.urls
