"""Recurring background work, as data. `manage.py setup_schedules` applies it (the only writer)."""

from __future__ import annotations

from dataclasses import dataclass

from django_q.models import Schedule


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int


SCHEDULES = [
    # Fails tasks past their task_timeout.
    ScheduleSpec(name="secret-tasks-sweep", func="secrets_app.tasks.sweep", minutes=1),
    # Sends again the tasks still queued after 5 minutes (the Redis broker loses a task taken by
    # a cluster that died).
    ScheduleSpec(name="secret-tasks-resend", func="secrets_app.tasks.resend_sweep", minutes=1),
    # Rotates secrets whose automatic rotation is due.
    ScheduleSpec(name="secret-rotations", func="secrets_app.tasks.rotation_sweep", minutes=1),
    # Ends leases: versions and secrets whose ttl or expiration date has come.
    ScheduleSpec(name="secret-leases", func="secrets_app.tasks.lease_sweep", minutes=1),
    # Queues the daily retries of failed credential deletions (up to 10).
    ScheduleSpec(
        name="secret-delete-retries", func="secrets_app.tasks.delete_retry_sweep", minutes=10
    ),
    # Removes force-deleted secrets once their delete tasks are over.
    ScheduleSpec(name="secret-purge", func="secrets_app.tasks.purge_sweep", minutes=10),
    # Removes finished job runs past their retention; finishes runs whose supervisor vanished.
    ScheduleSpec(
        name="job-runs-cleanup",
        func="engines_app.providers.embedded.code_engine.tasks.cleanup_job_runs",
        minutes=1,
    ),
    # Wizard drafts untouched for a day are removed.
    ScheduleSpec(
        name="wizard-drafts-cleanup", func="console.tasks.cleanup_wizard_drafts", minutes=60
    ),
    # SQLite's planner statistics (console/planner_statistics.py); nothing on PostgreSQL.
    ScheduleSpec(
        name="database-statistics", func="console.tasks.refresh_planner_statistics", minutes=60
    ),
    # Proves a worker processes tasks, for /healthz (manage.py serve probes more often itself).
    ScheduleSpec(name="worker-heartbeat", func="console.tasks.worker_heartbeat", minutes=1),
]


def ensure_schedules() -> list[str]:
    names = []
    for spec in SCHEDULES:
        Schedule.objects.update_or_create(
            name=spec.name,
            defaults={
                "func": spec.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": spec.minutes,
                "repeats": -1,
            },
        )
        names.append(spec.name)
    Schedule.objects.filter(name__in=[s.name for s in SCHEDULES]).exclude(
        func__in=[s.func for s in SCHEDULES]
    ).delete()
    return names
