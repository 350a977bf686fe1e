from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import bench_views, reauth, views, wizard_views

admin.site.site_header = "Secrets Manager Console administration"
admin.site.site_title = "Secrets Manager Console"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reauth/", reauth.reauth_view, name="reauth"),
    # The admin's own login view is not throttled: route its URL to the console's.
    path("admin/login/", views.ThrottledLoginView.as_view(), name="admin-login"),
    path("admin/", admin.site.urls),
    path("audit/", include("console.audit_urls", namespace="audit")),
    path("", include("engines_app.providers.embedded.iam.urls")),
    path("api/v2/", include("secrets_app.api.urls", namespace="api-v2")),
    path(
        "cloud/service-instances/",
        include("engines_app.providers.embedded.resource_controller.urls"),
    ),
    path("cloud/", include("engines_app.providers.embedded.urls")),
    path("engines/tests/", include("secrets_app.config_test_urls")),
    path("engines/", include("engines_app.engine_urls")),
    path("wizards/<str:kind>/start/", wizard_views.wizard_start, name="wizard-start"),
    path(
        "wizards/<str:kind>/<uuid:draft_id>/<str:step>/",
        wizard_views.wizard_step,
        name="wizard-step",
    ),
    path("", include("secrets_app.secret_urls")),
    # The benchmark floor, only while SM_BENCH_FLOOR is on (bench/run.py sets it).
    *bench_views.bench_urlpatterns(),
]
