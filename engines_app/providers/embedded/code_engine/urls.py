"""The embedded Code Engine's console pages, mounted under /cloud/ by ..embedded.urls."""

from __future__ import annotations

from django.urls import path

from engines_app.providers.embedded.code_engine import views, views_jobs

JOB = "code-engine/<str:project_id>/jobs/<str:job_name>/"

console_urlpatterns = [
    path("code-engine/", views.projects, name="ce-projects"),
    path("code-engine/new-project/", views.project_create, name="ce-project-create"),
    path("code-engine/runs/", views.runs, name="ce-runs"),
    path("code-engine/runs/<int:run_id>/", views.run_detail, name="ce-run"),
    path("code-engine/schema-preview/", views_jobs.schema_preview, name="ce-schema-preview"),
    path("code-engine/<str:project_id>/", views.project_detail, name="ce-project"),
    path("code-engine/<str:project_id>/delete/", views.project_delete, name="ce-project-delete"),
    path("code-engine/<str:project_id>/new-job/", views_jobs.job_create, name="ce-job-create"),
    path(JOB, views.job_detail, name="ce-job"),
    path(JOB + "edit/", views_jobs.job_edit, name="ce-job-edit"),
    path(JOB + "env/", views_jobs.job_env, name="ce-job-env"),
    path(JOB + "delete/", views_jobs.job_delete, name="ce-job-delete"),
]
