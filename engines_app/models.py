"""Secrets engine configurations (reference/sm-api.md §4.10)."""

from __future__ import annotations

import uuid

from django.db import models

from console.models import SealedFields


class ConfigType(models.TextChoices):
    CUSTOM_CREDENTIALS = "custom_credentials_configuration", "Custom credentials"
    IAM_CREDENTIALS = "iam_credentials_configuration", "IAM credentials"


SECRET_TYPE_FOR_CONFIG = {
    ConfigType.CUSTOM_CREDENTIALS: "custom_credentials",
    ConfigType.IAM_CREDENTIALS: "iam_credentials",
}


class Configuration(SealedFields):
    """An engine configuration. For IAM credentials the sealed value is the engine's api_key."""

    name = models.CharField(max_length=128)
    config_type = models.CharField(max_length=40, choices=ConfigType.choices)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # custom_credentials_configuration (all immutable except task_timeout)
    code_engine_project_id = models.CharField(max_length=64, blank=True, default="")
    code_engine_job_name = models.CharField(max_length=128, blank=True, default="")
    code_engine_region = models.CharField(max_length=32, blank=True, default="")
    code_engine_key_ref = models.CharField(max_length=64, blank=True, default="")
    api_key_ref = models.ForeignKey(
        "secrets_app.Secret",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referencing_configurations",
    )
    task_timeout = models.CharField(max_length=6, blank=True, default="10m")
    # 5 minutes to 24 hours, enforced by the services (validation.parse_task_timeout).
    task_timeout_seconds = models.PositiveIntegerField(default=600)
    # {"parameters": [{name, format, env_variable_name}], "credentials": [{name, format}]}
    schema = models.JSONField(default=dict, blank=True)

    # iam_credentials_configuration
    disabled = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["config_type", "name"], name="configuration_unique_type_name"
            ),
            # "A single configuration for IAM credentials" per instance.
            models.UniqueConstraint(
                fields=["config_type"],
                condition=models.Q(config_type="iam_credentials_configuration"),
                name="configuration_single_iam",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_type(self) -> str:
        return SECRET_TYPE_FOR_CONFIG[ConfigType(self.config_type)]


class ConfigTestStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ConfigurationTest(models.Model):
    """One "Test configuration" round trip: a probe secret created, then its credentials deleted.

    `create_status` and `delete_status` record each step's outcome as the job reports it (the
    secret task statuses, or "skipped" for a delete that never ran because the create failed).
    While a step runs, its live status is that of the probe's task.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    configuration = models.ForeignKey(Configuration, on_delete=models.CASCADE, related_name="tests")
    probe = models.ForeignKey(
        "secrets_app.Secret",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="configuration_tests",
    )
    status = models.CharField(
        max_length=16, choices=ConfigTestStatus.choices, default=ConfigTestStatus.RUNNING
    )
    create_status = models.CharField(max_length=32, blank=True, default="")
    delete_status = models.CharField(max_length=32, blank=True, default="")
    # The provider's (or the task runner's) error code and message when the test failed.
    error_code = models.CharField(max_length=256, blank=True, default="")
    message = models.CharField(max_length=2048, blank=True, default="")
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"test of {self.configuration_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != ConfigTestStatus.RUNNING
