"""Secrets engine configurations (reference/sm-api.md §4.10)."""

from __future__ import annotations

from django.db import models

from secrets_app.models import SealedFields


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
