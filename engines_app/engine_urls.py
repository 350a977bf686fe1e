from __future__ import annotations

from django.urls import path

from engines_app.views import engines

app_name = "engines"

urlpatterns = [
    path("", engines.index, name="index"),
]
