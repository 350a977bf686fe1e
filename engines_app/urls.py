from __future__ import annotations

from django.urls import path

from engines_app.views import code_engine, iam

app_name = "cloud"

urlpatterns = [
    path("iam/service-ids/", iam.service_ids, name="iam-service-ids"),
    path("iam/access-groups/", iam.access_groups, name="iam-access-groups"),
    path("iam/api-keys/", iam.api_keys, name="iam-api-keys"),
    path("iam/api-keys/<str:key_id>/lock/", iam.api_key_lock, name="iam-api-key-lock"),
    path("iam/authorizations/", iam.authorizations, name="iam-authorizations"),
    path("code-engine/", code_engine.projects, name="ce-projects"),
    path("code-engine/runs/", code_engine.runs, name="ce-runs"),
    path("code-engine/runs/<int:run_id>/", code_engine.run_detail, name="ce-run"),
    path(
        "code-engine/<str:project_id>/jobs/<str:job_name>/", code_engine.job_detail, name="ce-job"
    ),
]
