"""Service instances and resource keys of the embedded resource controller.

A resource key's credentials are sealed (envelope-encrypted) through `SealedFields`, so they are
never stored in clear and root-key rotation re-wraps them with every other sealed row.

Deleting a key keeps its row and marks it deleted: `deleted_at` is set and the sealed credentials
are wiped in the same update, so the key cannot be read or used again, while its CRN, name and
dates stay for the record (IBM lists removed keys the same way). Every write goes through
`services`.
"""

from __future__ import annotations

import uuid

from django.db import models

from console.models import SealedFields
from engines_app.providers.embedded.resource_controller import catalog


class ServiceInstance(models.Model):
    guid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=180, unique=True)
    # The service's key as IBM names it in CRNs (catalog.SERVICES), e.g. "messagehub".
    service = models.CharField(max_length=64, db_index=True)
    region = models.CharField(max_length=32)
    account_id = models.CharField(max_length=32)
    crn = models.CharField(max_length=255, unique=True)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def service_label(self) -> str:
        spec = catalog.get_service(self.service)
        return spec.label if spec else self.service

    @staticmethod
    def build_crn(*, service: str, region: str, account_id: str, guid: uuid.UUID) -> str:
        return f"crn:v1:bluemix:public:{service}:{region}:a/{account_id}:{guid}::"


class ResourceKey(SealedFields):
    """One service credential. The sealed value is the credentials JSON."""

    guid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instance = models.ForeignKey(
        ServiceInstance, on_delete=models.PROTECT, related_name="resource_keys"
    )
    name = models.CharField(max_length=256)
    crn = models.CharField(max_length=320, unique=True)
    # Blank for the role "None": the service ID's own policies decide what the key may do.
    role_crn = models.CharField(max_length=255, blank=True, default="")
    iam_apikey_id = models.CharField(max_length=64)
    serviceid_crn = models.CharField(max_length=255)
    # True when the key got a service ID of its own rather than a pre-existing one.
    serviceid_generated = models.BooleanField(default=False)
    hmac = models.BooleanField(default=False)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_by = models.CharField(max_length=128, blank=True, default="")
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "guid"]
        indexes = [models.Index(fields=["instance", "deleted_at"])]
        constraints = [
            # A live key holds its credentials; a deleted one holds nothing.
            models.CheckConstraint(
                condition=(
                    models.Q(deleted_at__isnull=True, sealed_ciphertext__isnull=False)
                    & ~models.Q(sealed_key_id="")
                )
                | models.Q(
                    deleted_at__isnull=False, sealed_key_id="", sealed_ciphertext__isnull=True
                ),
                name="resource_key_sealed_iff_live",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def role_name(self) -> str:
        """The role's display name, or "None" for a key whose service ID brings its own policies."""
        spec = catalog.get_service(self.instance.service)
        if spec is None:
            return self.role_crn.rsplit(":", 1)[-1] if self.role_crn else "None"
        return spec.role_name(self.role_crn)

    @staticmethod
    def build_crn(*, instance: ServiceInstance, guid: uuid.UUID) -> str:
        return (
            f"crn:v1:bluemix:public:{instance.service}:{instance.region}:a/{instance.account_id}:"
            f"{instance.guid}:resource-key:{guid}"
        )
