"""The embedded Code Engine: projects, jobs and job runs."""

from __future__ import annotations

import uuid

from django.db import models

from console.models import SealedFields


def _uuid() -> str:
    return str(uuid.uuid4())


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=36, default=_uuid, editable=False)
    name = models.CharField(max_length=128)
    region = models.CharField(max_length=32)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["region", "name"]
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="ce_project_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.region})"


class Job(SealedFields):
    """A job definition. `command` is the argv to run (the equivalent of a container image).

    `{python}`, `{base_dir}`, `{external_dir}`, `{jobs_dir}` and `{sample_jobs_dir}` in the
    command and the variables are replaced at run time by the console's Python interpreter, its
    source directory, the embedded external services' folder, the operator's jobs directory
    (SM_JOBS_DIR) and the sample jobs' folder, so jobs work from any checkout. What a command
    may be when people give it: commands.py.

    Variables whose names mark them as secret (DB_PASSWORD, ..._TOKEN; see
    services.is_secret_env_name) are sealed, as Code Engine keeps secrets apart from plain
    variables: `env` holds the plain ones, `secret_names` the names of the sealed ones.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=128)
    command = models.JSONField(default=list)
    env = models.JSONField(
        default=dict, help_text="Plain environment variables, incl. SMIN_/SMOUT_ declarations"
    )
    secret_names = models.JSONField(
        default=list, blank=True, help_text="Names of the sealed (secret) variables"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="ce_job_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    # The supervisor vanished after the job had reported: the exit code is unknown.
    LOST = "lost", "Ended (supervisor lost)"


FINISHED_RUN_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.LOST}
)


class JobRun(models.Model):
    """One execution of a job. Its name is the secret task id it serves."""

    name = models.CharField(max_length=64)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    timeout_seconds = models.PositiveIntegerField()
    deadline = models.DateTimeField(null=True, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    stdout = models.TextField(blank=True, default="")
    stderr = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # When a finished run is removed (CE_REMOVE_COMPLETED_JOBS); None while it runs.
    remove_after = models.DateTimeField(null=True, blank=True)
    # When the job reported its result to Secrets Manager (the secret task's callback).
    reported_at = models.DateTimeField(null=True, blank=True)
    # Whether the run was started inside the bubblewrap sandbox.
    sandboxed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="ce_run_unique_name")
        ]
        indexes = [
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["remove_after"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES
