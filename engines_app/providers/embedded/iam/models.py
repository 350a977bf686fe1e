"""The embedded IAM: identities, API keys, access policies and service authorizations."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


def _service_id() -> str:
    return f"ServiceId-{uuid.uuid4()}"


def _access_group_id() -> str:
    return f"AccessGroupId-{uuid.uuid4()}"


def _api_key_id() -> str:
    return f"ApiKey-{uuid.uuid4()}"


class Account(models.Model):
    id = models.CharField(primary_key=True, max_length=32)
    name = models.CharField(max_length=128)

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class IamUser(models.Model):
    """The IAM identity of a console user (IBMid-...)."""

    iam_id = models.CharField(primary_key=True, max_length=64)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="iam"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT)

    def __str__(self) -> str:
        return self.iam_id


class ServiceId(models.Model):
    id = models.CharField(primary_key=True, max_length=46, default=_service_id, editable=False)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=1024, blank=True, default="")
    account = models.ForeignKey(Account, on_delete=models.PROTECT)
    locked = models.BooleanField(default=False)
    # True when Secrets Manager generated it for an IAM credentials secret (and owns its lifecycle).
    managed_by_secrets_manager = models.BooleanField(default=False)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def iam_id(self) -> str:
        return f"iam-{self.id}"

    @property
    def crn(self) -> str:
        return f"crn:v1:bluemix:public:iam-identity::a/{self.account_id}::serviceid:{self.id}"


class AccessGroup(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=_access_group_id, editable=False)
    name = models.CharField(max_length=128, unique=True)
    description = models.CharField(max_length=1024, blank=True, default="")
    account = models.ForeignKey(Account, on_delete=models.PROTECT)
    service_ids = models.ManyToManyField(ServiceId, blank=True, related_name="access_groups")
    users = models.ManyToManyField(IamUser, blank=True, related_name="access_groups")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """An API key. The value is shown once at creation; only its SHA-256 is stored."""

    id = models.CharField(primary_key=True, max_length=44, default=_api_key_id, editable=False)
    name = models.CharField(max_length=256)
    description = models.CharField(max_length=1024, blank=True, default="")
    account = models.ForeignKey(Account, on_delete=models.PROTECT)
    service_id = models.ForeignKey(
        ServiceId, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    user = models.ForeignKey(
        IamUser, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    key_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    # Locked here means disabled: no token is issued for it and its tokens stop working.
    locked = models.BooleanField(default=False)
    # IBM's "lock" on the keys Secrets Manager issues (iam-credentials.md): the key keeps
    # working, but nobody can lock, unlock or delete it by hand; only Secrets Manager does.
    protected = models.BooleanField(default=False)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(service_id__isnull=False, user__isnull=True)
                    | models.Q(service_id__isnull=True, user__isnull=False)
                ),
                name="apikey_exactly_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def owner_iam_id(self) -> str:
        if self.service_id_id:
            service_id = self.service_id
            assert service_id is not None  # service_id_id is set
            return service_id.iam_id
        return str(self.user_id)


class Role(models.TextChoices):
    READER = "Reader", "Reader"
    SECRETS_READER = "SecretsReader", "SecretsReader"
    WRITER = "Writer", "Writer"
    MANAGER = "Manager", "Manager"
    SECRET_TASK_UPDATER = "SecretTaskUpdater", "SecretTaskUpdater"


class AccessPolicy(models.Model):
    """Subject (a user, service ID or access group) × role × scope (instance or one group)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        IamUser, null=True, blank=True, on_delete=models.CASCADE, related_name="policies"
    )
    service_id = models.ForeignKey(
        ServiceId, null=True, blank=True, on_delete=models.CASCADE, related_name="policies"
    )
    access_group = models.ForeignKey(
        AccessGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="policies"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    # None: the whole Secrets Manager instance.
    secret_group = models.ForeignKey(
        "secrets_app.SecretGroup",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="policies",
    )
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "access policies"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, service_id__isnull=True, access_group__isnull=True)
                    | models.Q(
                        user__isnull=True, service_id__isnull=False, access_group__isnull=True
                    )
                    | models.Q(
                        user__isnull=True, service_id__isnull=True, access_group__isnull=False
                    )
                ),
                name="policy_exactly_one_subject",
            )
        ]

    def __str__(self) -> str:
        scope = f"group {self.secret_group_id}" if self.secret_group_id else "instance"
        return f"{self.subject_label} {self.role} on {scope}"

    @property
    def subject_label(self) -> str:
        return str(self.user_id or self.service_id_id or self.access_group_id)

    @property
    def subject_kind(self) -> str:
        if self.user_id:
            return "user"
        return "service_id" if self.service_id_id else "access_group"

    @property
    def subject_name(self) -> str:
        """The subject as people know it: a username, a service ID's or an access group's name."""
        if self.user is not None:
            return self.user.user.get_username()
        subject = self.service_id or self.access_group
        return subject.name if subject is not None else ""


class ServiceAuthorization(models.Model):
    """Source service → target service (or one target resource), with roles."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source_service = models.CharField(max_length=64)
    source_instance = models.CharField(
        max_length=64, blank=True, default="", help_text="blank: every instance"
    )
    target_service = models.CharField(max_length=64)
    target_resource = models.CharField(
        max_length=512, blank=True, default="", help_text="blank: every resource"
    )
    roles = models.JSONField(default=list)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        target = self.target_resource or "all"
        return f"{self.source_service} → {self.target_service} ({target}): {', '.join(self.roles)}"
