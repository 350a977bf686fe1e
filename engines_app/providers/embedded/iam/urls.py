"""The embedded IAM's token endpoint, at the root as IBM IAM serves it: POST /identity/token."""

from __future__ import annotations

from django.urls import path

from engines_app.providers.embedded.iam import views

urlpatterns = [path("identity/token", views.token, name="iam-token")]
