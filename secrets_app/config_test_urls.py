from __future__ import annotations

from django.urls import path

from secrets_app.views import config_tests

app_name = "config_test"

urlpatterns = [
    path("<str:name>/start/", config_tests.start, name="start"),
    path("runs/<uuid:test_id>/", config_tests.detail, name="detail"),
    path("runs/<uuid:test_id>/status/", config_tests.status, name="status"),
]
