"""The few helpers every htmx view shares: partial-or-page rendering and finishing a POST."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from console.http import HtmxHttpRequest


def render_page_or_partial(
    request: HtmxHttpRequest,
    template: str,
    partial: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    """Render `template#partial` for htmx requests that target it, the whole page otherwise.

    History restores are full-page requests (historyRestoreAsHxRequest is off), so a page never
    comes back as a fragment.
    """
    name = f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def finish(request: HtmxHttpRequest, url: str) -> HttpResponse | HttpResponseRedirect:
    """End a successful POST: an HX-Redirect for htmx, a 302 (post/redirect/get) otherwise."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
