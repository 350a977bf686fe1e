"""Swagger UI for the REST API v2, at /api/v2/swagger-ui (as on an IBM instance).

Swagger UI is vendored from the npm registry's `swagger-ui-dist` into static/vendor/swagger-ui/
(its README says which version and how), so the page loads nothing from a CDN. The page has no
inline script, which the Content-Security-Policy forbids: static/js/swagger-ui-init.js starts
Swagger UI and reads the OpenAPI document's URL from the page's `data-openapi-url` attribute.
Like the document itself, the page needs no token (settings.SM_API_PUBLIC_PATHS); trying an
operation out needs one, entered through Swagger UI's Authorize button.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

# The vendored release; static/vendor/swagger-ui/README.md records it and the files' hashes.
SWAGGER_UI_VERSION = "5.35.0"


@login_not_required
@csrf_exempt  # it takes no form: any unsafe method gets 405, not a CSRF 403
@require_safe
def swagger_ui(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "api/swagger_ui.html",
        {"openapi_url": reverse("api-v2:openapi-json"), "swagger_ui_version": SWAGGER_UI_VERSION},
    )
