"""django-q2 entry points of the console app."""

from __future__ import annotations

from console.liveness import heartbeat_record
from console.planner_statistics import planner_statistics_refresh
from console.wizards import drafts_cleanup


def cleanup_wizard_drafts() -> str:
    return f"wizard drafts removed: {drafts_cleanup()}"


def worker_heartbeat() -> str:
    """Prove a worker processes tasks: the schedule and `manage.py serve`'s probes enqueue this."""
    return f"heartbeat at {heartbeat_record().isoformat()}"


def refresh_planner_statistics() -> str:
    took = planner_statistics_refresh()
    if took is None:
        return "planner statistics: kept by the database itself"
    return f"planner statistics refreshed in {took:.2f} s"
