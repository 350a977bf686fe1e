"""The Audit page: who did what to which object, when, from where, and whether it was allowed.

Filters live in the URL's query (a plain GET form: without JavaScript "Apply" reloads the page,
with htmx the same request swaps only the table). Both exports take the same query and stream.
Only who may read the audit log (console.audit.require_audit_reader) gets past the first line.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from console.audit import require_audit_reader
from console.audit_export import FORMATS, audit_log_export
from console.audit_forms import AuditFilterForm
from console.audit_selectors import AuditPage, audit_events, audit_page
from console.htmx import render_page_or_partial
from console.http import AuthedRequest
from console.identity import actor_for_user
from console.models import AuditEvent


def _query(filters: dict[str, Any]) -> str:
    return urlencode(
        {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in filters.items()}
    )


def _page(request: AuthedRequest, form: AuditFilterForm) -> HttpResponse:
    status = 200
    filters: dict[str, Any] = {}
    if form.is_bound and not form.is_valid():
        status = 422
        page = AuditPage(rows=[], number=1, has_next=False)
    else:
        filters = form.filters() if form.is_bound else {}
        number = (form.cleaned_data.get("page") if form.is_bound else None) or 1
        page = audit_page(audit_events(filters), number=number)
    query = _query(filters)
    context = {
        "form": form,
        "page": page,
        "query": query,
        "page_query": f"{query}&" if query else "",
        "filtered": bool(filters),
        "outcomes": [("", "Any"), *AuditEvent.Outcome.choices],
    }
    return render_page_or_partial(request, "audit/log.html", "table", context, status=status)


@never_cache
@require_GET
@vary_on_headers("HX-Request")
def audit_log(request: AuthedRequest) -> HttpResponse:
    require_audit_reader(request.user)
    return _page(request, AuditFilterForm(request.GET or None))


@never_cache
@require_GET
def audit_export(request: AuthedRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    require_audit_reader(request.user)
    if fmt not in FORMATS:
        raise Http404("No such export format.")
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _page(request, form)  # 422: the filters, with what is wrong with them
    filters = form.filters() if form.is_bound else {}
    content = audit_log_export(actor=actor_for_user(request.user), fmt=fmt, filters=filters)
    response = StreamingHttpResponse(content, content_type=FORMATS[fmt])
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    return response
