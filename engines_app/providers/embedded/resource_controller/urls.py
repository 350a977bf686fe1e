from __future__ import annotations

from django.urls import path

from engines_app.providers.embedded.resource_controller import views

app_name = "resource_controller"

# Included by console/urls.py at "cloud/service-instances/".
urlpatterns = [
    path("", views.service_instance_list, name="instance-list"),
    path("<str:guid>/", views.service_instance_detail, name="instance-detail"),
]
