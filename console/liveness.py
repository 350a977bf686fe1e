"""Worker liveness: the heartbeat that django-q2 workers write and /healthz and `serve` read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from console.models import WORKER_HEARTBEAT, WorkerHeartbeat


@dataclass(frozen=True)
class HeartbeatAge:
    beat_at: datetime
    age_seconds: float


def heartbeat_record(*, name: str = WORKER_HEARTBEAT, now: datetime | None = None) -> datetime:
    """Record a beat. The heartbeat task calls it, so a beat means a worker processed a task."""
    beat_at = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": beat_at, "pid": os.getpid()}
    )
    return beat_at


def heartbeat_age(
    *, name: str = WORKER_HEARTBEAT, now: datetime | None = None
) -> HeartbeatAge | None:
    """The last beat and its age (never negative), or None if no worker ever beat. One query."""
    beat_at = WorkerHeartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
    if beat_at is None:
        return None
    age = ((now or timezone.now()) - beat_at).total_seconds()
    return HeartbeatAge(beat_at=beat_at, age_seconds=max(0.0, age))
