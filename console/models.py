from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, and when. It records names and ids, never a secret value."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_id = models.CharField(max_length=128, help_text="IAM id of the principal")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, help_text="e.g. secret_group.create")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_name = models.CharField(max_length=256, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Non-secret facts only")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or self.actor_id} {self.action}"
        )
