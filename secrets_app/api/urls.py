from __future__ import annotations

from django.urls import path

from secrets_app.api import views

urlpatterns = [
    path("secrets/<str:secret_id>/tasks", views.task_list, name="api-secret-tasks"),
    path("secrets/<str:secret_id>/tasks/<str:task_id>", views.task_detail, name="api-secret-task"),
]
