"""The embedded Code Engine's console pages, mounted under /cloud/ by ..embedded.urls."""

from __future__ import annotations

from django.urls import path

from engines_app.providers.embedded.code_engine import views

console_urlpatterns = [
    path("code-engine/", views.projects, name="ce-projects"),
    path("code-engine/runs/", views.runs, name="ce-runs"),
    path("code-engine/runs/<int:run_id>/", views.run_detail, name="ce-run"),
    path("code-engine/<str:project_id>/jobs/<str:job_name>/", views.job_detail, name="ce-job"),
]
