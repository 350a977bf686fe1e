from __future__ import annotations

from django.urls import path

from engines_app.views import configurations, engines

app_name = "engines"

urlpatterns = [
    path("", engines.index, name="index"),
    path("iam/authorize/", engines.iam_authorize, name="iam-authorize"),
    path("iam/configure/", engines.iam_configure, name="iam-configure"),
    path("iam/configure-api-key/", engines.iam_configure_api_key, name="iam-configure-api-key"),
    path("iam/edit/", engines.iam_edit, name="iam-edit"),
    path("iam/disable/", engines.iam_disable, name="iam-disable"),
    path("iam/enable/", engines.iam_enable, name="iam-enable"),
    path("custom/<str:name>/", configurations.config_detail, name="config-detail"),
    path("custom/<str:name>/timeout/", configurations.config_timeout, name="config-timeout"),
    path("custom/<str:name>/delete/", configurations.config_delete, name="config-delete"),
]
