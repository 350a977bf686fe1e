from __future__ import annotations

from django.urls import path

from secrets_app import views, views_detail

app_name = "secrets"

urlpatterns = [
    path("secrets/", views.secret_list, name="list"),
    path("secrets/new/", views_detail.secret_add, name="add"),
    path("secrets/<uuid:secret_id>/", views_detail.secret_detail, name="detail"),
    path("secrets/<uuid:secret_id>/status/", views_detail.secret_status, name="status"),
    path("groups/", views.group_list, name="groups"),
    path("groups/new/", views.group_create, name="group-create"),
    path("groups/<str:group_id>/edit/", views.group_edit, name="group-edit"),
    path("groups/<str:group_id>/delete/", views.group_delete, name="group-delete"),
]
