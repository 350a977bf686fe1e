from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from console.crypto import Sealed


class AuditEvent(models.Model):
    """Who did what to which object, when, from where, and whether it was allowed.

    It records names and ids, never a secret value. `console.audit` is its only writer: allowed
    operations write their row in the operation's own transaction (no row, no operation), and
    refusals are written once the refused request has finished (audit_denied).
    """

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        DENIED = "denied", "Denied"

    class Channel(models.TextChoices):
        CONSOLE = "console", "Console"
        API = "api", "API"
        # No HTTP request: a background task, a job run's supervisor or a management command.
        WORKER = "worker", "Worker"

    class ActorType(models.TextChoices):
        USER = "user", "User"
        SERVICE_ID = "service_id", "Service ID"
        SYSTEM = "system", "Secrets Manager"
        ANONYMOUS = "anonymous", "Not signed in"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_id = models.CharField(max_length=128, help_text="IAM id of the principal")
    actor_name = models.CharField(max_length=150, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices, blank=True)
    action = models.CharField(max_length=64, help_text="e.g. secret_group.create")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_name = models.CharField(max_length=256, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.ALLOWED)
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True)
    source_ip = models.GenericIPAddressField(
        null=True, blank=True, help_text="Client address of the request (none for the worker)"
    )
    detail = models.JSONField(default=dict, blank=True, help_text="Non-secret facts only")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # The Audit page's filters, newest first.
            models.Index(fields=["actor_id", "created_at"], name="audit_actor_created"),
            models.Index(fields=["action", "created_at"], name="audit_action_created"),
            models.Index(fields=["outcome", "created_at"], name="audit_outcome_created"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or self.actor_id} "
            f"{self.action} ({self.outcome})"
        )


class WizardDraft(models.Model):
    """Server-side state of one run of a wizard. It never holds a secret value.

    `data` maps each step to the raw values entered on it, so every step can be re-validated at
    finish. `finished_at` is claimed with a conditional UPDATE, so a double submit creates one
    object; `result_url` is where both submits end up.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wizard_drafts"
    )
    kind = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result_url = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return f"{self.kind} draft {self.pk}"


# The heartbeat the django-q2 workers write (console.tasks.worker_heartbeat); /healthz and
# `manage.py serve` read it.
WORKER_HEARTBEAT = "worker"


class WorkerHeartbeat(models.Model):
    """When a django-q2 worker last *processed* a heartbeat task, one row per name.

    A live qcluster process proves nothing (killed workers get reincarnated into a queue that no
    longer moves); a beat written by a task proves broker -> pusher -> worker -> database works.
    """

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()
    pid = models.PositiveIntegerField(default=0, help_text="Worker process that wrote the beat")

    def __str__(self) -> str:
        return f"{self.name} beat at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class SealedFields(models.Model):
    """Three columns that hold one envelope-encrypted value: root key id, wrapped key, ciphertext.

    Subclasses name the value (`sealed_prefix`) and the context it is bound to; the rotation
    command finds every such row through `sealed_models()`.
    """

    sealed_key_id = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    sealed_wrapped_key = models.BinaryField(null=True, editable=False)
    sealed_ciphertext = models.BinaryField(null=True, editable=False)

    class Meta:
        abstract = True

    def seal_context(self) -> str:
        return f"{self._meta.label_lower}:{self.pk}"

    @property
    def has_sealed_value(self) -> bool:
        return bool(self.sealed_key_id)

    def get_sealed(self) -> Sealed | None:
        if not self.sealed_key_id:
            return None
        return Sealed(
            key_id=self.sealed_key_id,
            wrapped_key=bytes(self.sealed_wrapped_key or b""),
            ciphertext=bytes(self.sealed_ciphertext or b""),
        )

    def set_sealed(self, sealed: Sealed | None) -> None:
        self.sealed_key_id = sealed.key_id if sealed else ""
        self.sealed_wrapped_key = sealed.wrapped_key if sealed else None
        self.sealed_ciphertext = sealed.ciphertext if sealed else None
