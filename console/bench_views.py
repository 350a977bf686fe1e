"""The benchmark's floor (bench/run.py): the cheapest page a signed-in user can get.

It goes through the same middleware as every console page (session, authentication, CSRF,
CSP, sign-in required) and renders a three-line template, so the benchmark can state every
other page's time as a multiple of it. Routed only while SM_BENCH_FLOOR is on; a deployment
never has it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from console.http import AuthedRequest


@require_GET
def floor(request: AuthedRequest) -> HttpResponse:
    return render(request, "bench/floor.html")


def bench_urlpatterns() -> list[URLPattern]:
    """The floor's URL while SM_BENCH_FLOOR is on, else nothing."""
    if not settings.SM_BENCH_FLOOR:
        return []
    return [path("bench/floor/", floor, name="bench-floor")]
