"""The embedded cloud's console pages under /cloud/ (namespace "cloud"), one module per service."""

from __future__ import annotations

from engines_app.providers.embedded.code_engine.urls import console_urlpatterns as code_engine
from engines_app.providers.embedded.iam.urls import console_urlpatterns as iam

app_name = "cloud"

urlpatterns = [*iam, *code_engine]
