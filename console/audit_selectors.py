"""What the Audit page and its exports read: filtered events, a page of rows, export records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from console.models import AuditEvent

PAGE_SIZE = 50
EXPORT_CHUNK = 1000
EXPORT_COLUMNS = (
    "created_at",
    "actor_id",
    "actor_name",
    "actor_type",
    "action",
    "object_type",
    "object_id",
    "object_name",
    "outcome",
    "channel",
    "source_ip",
    "detail",
)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def audit_events(filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """Events matching the Audit page's filters (AuditFilterForm.filters()), newest first."""
    events = AuditEvent.objects.all()
    if actor := filters.get("actor"):
        events = events.filter(Q(actor_id=actor) | Q(actor_name=actor))
    if action := filters.get("action"):
        events = (
            events.filter(action__startswith=action)
            if action.endswith(".")
            else events.filter(action=action)
        )
    for name in ("object_type", "object_id", "outcome"):
        if value := filters.get(name):
            events = events.filter(**{name: value})
    if start := filters.get("date_from"):
        events = events.filter(created_at__gte=_day_start(start))
    if end := filters.get("date_to"):
        events = events.filter(created_at__lt=_day_start(end + timedelta(days=1)))
    return events.order_by("-created_at", "-id")


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    when_iso: str
    when_text: str
    detail_text: str


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, dict) or not detail:
        return ""
    parts = []
    for key, value in detail.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


def audit_page(events: QuerySet[AuditEvent], *, number: int) -> AuditPage:
    """One page of events. No COUNT over the whole log: one row more than a page tells whether
    another page follows."""
    offset = (number - 1) * PAGE_SIZE
    found = list(events[offset : offset + PAGE_SIZE + 1])
    zone = timezone.get_current_timezone()
    rows = []
    for event in found[:PAGE_SIZE]:
        local = event.created_at.astimezone(zone)
        rows.append(
            AuditRow(
                event=event,
                when_iso=local.isoformat(),
                when_text=local.strftime("%Y-%m-%d %H:%M:%S"),
                detail_text=_detail_text(event.detail),
            )
        )
    return AuditPage(rows=rows, number=number, has_next=len(found) > PAGE_SIZE)


def export_records(events: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    """Every matching event as a plain record, read in chunks (never the whole log at once)."""
    for values in events.values_list(*EXPORT_COLUMNS).iterator(chunk_size=EXPORT_CHUNK):
        record = dict(zip(EXPORT_COLUMNS, values, strict=True))
        record["created_at"] = record["created_at"].isoformat()
        yield record
