from __future__ import annotations

from django.urls import path

from secrets_app.views import groups, lifecycle, secrets

app_name = "secrets"

urlpatterns = [
    path("secrets/", secrets.secret_list, name="list"),
    path("secrets/new/", secrets.secret_add, name="add"),
    path("secrets/<uuid:secret_id>/", secrets.secret_detail, name="detail"),
    path("secrets/<uuid:secret_id>/status/", secrets.secret_status, name="status"),
    path("secrets/<uuid:secret_id>/reveal/", lifecycle.secret_reveal_view, name="reveal"),
    path("secrets/<uuid:secret_id>/rotate/", lifecycle.secret_rotate_view, name="rotate"),
    path("secrets/<uuid:secret_id>/edit/", lifecycle.secret_edit, name="edit"),
    path("secrets/<uuid:secret_id>/delete/", lifecycle.secret_delete_view, name="delete"),
    path(
        "secrets/<uuid:secret_id>/versions/<uuid:version_id>/metadata/",
        lifecycle.version_metadata,
        name="version-metadata",
    ),
    path("groups/", groups.group_list, name="groups"),
    path("groups/new/", groups.group_create, name="group-create"),
    path("groups/<str:group_id>/edit/", groups.group_edit, name="group-edit"),
    path("groups/<str:group_id>/delete/", groups.group_delete, name="group-delete"),
]
