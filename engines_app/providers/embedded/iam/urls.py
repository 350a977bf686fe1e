"""The embedded IAM's URLs: the token endpoint at the root (as IBM IAM serves it), and its
console pages, which engines_app.providers.embedded.urls mounts under /cloud/."""

from __future__ import annotations

from django.urls import path

from engines_app.providers.embedded.iam import access_views, views

urlpatterns = [path("identity/token", views.token, name="iam-token")]

console_urlpatterns = [
    path("iam/service-ids/", views.service_ids, name="iam-service-ids"),
    path("iam/access-groups/", views.access_groups, name="iam-access-groups"),
    path("iam/api-keys/", views.api_keys, name="iam-api-keys"),
    path("iam/api-keys/<str:key_id>/lock/", views.api_key_lock, name="iam-api-key-lock"),
    path("iam/authorizations/", views.authorizations, name="iam-authorizations"),
    path("iam/access/", access_views.access_page, name="iam-access"),
    path(
        "iam/access/<uuid:policy_id>/revoke/",
        access_views.policy_revoke_view,
        name="iam-policy-revoke",
    ),
]
