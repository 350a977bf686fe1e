"""django-q2 entry points of the embedded Code Engine (scheduled by engines_app.schedules)."""

from __future__ import annotations

from engines_app.providers.embedded.code_engine.services import job_runs_cleanup


def cleanup_job_runs() -> str:
    """Remove runs past their retention, and finish runs whose supervisor vanished."""
    runs = job_runs_cleanup()
    return f"job runs removed: {runs['removed']}, orphaned: {runs['orphaned']}"
