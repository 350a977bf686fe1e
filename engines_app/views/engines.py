"""The Secrets engines page: IAM credentials and Custom credentials tabs."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from engines_app.models import ConfigType, Configuration


@require_GET
def index(request: AuthedRequest) -> HttpResponse:
    tab = request.GET.get("tab") if request.GET.get("tab") in {"iam", "custom"} else "iam"
    context = {
        "tab": tab,
        "iam_engine": Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).first(),
        "configurations": Configuration.objects.filter(config_type=ConfigType.CUSTOM_CREDENTIALS)
        .annotate(secret_count=Count("secrets"))
        .order_by("name"),
    }
    return render(request, "engines/index.html", context)
