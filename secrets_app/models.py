"""Secret groups, secrets, their versions and secret tasks (reference/sm-api.md §4).

Models hold invariants and derived values; every write goes through secrets_app.services.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from console.models import SealedFields

DEFAULT_GROUP_ID = "default"


def _uuid_str() -> str:
    return str(uuid.uuid4())


def _task_id() -> str:
    return f"sm-task-{uuid.uuid4()}"


class SecretType(models.TextChoices):
    CUSTOM_CREDENTIALS = "custom_credentials", "Custom credentials"
    IAM_CREDENTIALS = "iam_credentials", "IAM credentials"
    SERVICE_CREDENTIALS = "service_credentials", "Service credentials"
    ARBITRARY = "arbitrary", "Arbitrary"


class SecretState(models.IntegerChoices):
    # NIST SP 800-57 states as IBM numbers them; 4 does not exist.
    PRE_ACTIVATION = 0, "Pre-activation"
    ACTIVE = 1, "Active"
    SUSPENDED = 2, "Suspended"
    DEACTIVATED = 3, "Deactivated"
    DESTROYED = 5, "Destroyed"


STATE_DESCRIPTIONS = {
    SecretState.PRE_ACTIVATION: "pre_activation",
    SecretState.ACTIVE: "active",
    SecretState.SUSPENDED: "suspended",
    SecretState.DEACTIVATED: "deactivated",
    SecretState.DESTROYED: "destroyed",
}


class SecretGroup(models.Model):
    id = models.CharField(primary_key=True, max_length=36, default=_uuid_str, editable=False)
    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=1024, blank=True, default="")
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_GROUP_ID


class LiveSecretManager(models.Manager["Secret"]):
    """Secrets that exist for users: a force-deleted secret (deleted_at set) is kept only until
    its delete tasks are done, and no query of the console or the API sees it."""

    def get_queryset(self) -> models.QuerySet[Secret]:
        return super().get_queryset().filter(deleted_at__isnull=True)


class Secret(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=256)
    description = models.CharField(max_length=1024, blank=True, default="")
    secret_type = models.CharField(max_length=32, choices=SecretType.choices)
    secret_group = models.ForeignKey(SecretGroup, on_delete=models.PROTECT, related_name="secrets")
    state = models.PositiveSmallIntegerField(
        choices=SecretState.choices, default=SecretState.ACTIVE
    )
    # Free text explaining the state, e.g. why a custom credentials secret is pre-activation.
    state_reason = models.CharField(max_length=1024, blank=True, default="")
    labels = models.JSONField(default=list, blank=True)
    custom_metadata = models.JSONField(default=dict, blank=True)
    rotation = models.JSONField(null=True, blank=True, help_text="{auto_rotate, interval, unit}")
    ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    expiration_date = models.DateTimeField(null=True, blank=True)
    next_rotation_date = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    downloaded = models.BooleanField(default=False)
    retrieved_at = models.DateTimeField(null=True, blank=True)
    versions_total = models.PositiveIntegerField(default=0)
    # A throwaway secret made by "Test configuration"; hidden from lists.
    probe = models.BooleanField(default=False)
    # The last rotation (manual or automatic) failed; cleared by the next one that succeeds.
    last_rotation_failed = models.BooleanField(default=False)
    # Force-deleted while its versions' credentials were still being deleted at the provider:
    # hidden everywhere, purged once its delete tasks are over (secrets_app.services.deletion).
    deleted_at = models.DateTimeField(null=True, blank=True)

    # custom_credentials
    configuration = models.ForeignKey(
        "engines_app.Configuration",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="secrets",
    )
    parameters = models.JSONField(default=dict, blank=True)
    # iam_credentials
    service_id = models.CharField(max_length=64, blank=True, default="")
    service_id_is_static = models.BooleanField(default=False)
    access_groups = models.JSONField(default=list, blank=True)
    account_id = models.CharField(max_length=32, blank=True, default="")
    reuse_api_key = models.BooleanField(default=False)
    # service_credentials: {"instance": {"crn"}, "role": {"crn"}, "parameters": {...}}
    source_service = models.JSONField(default=dict, blank=True)

    objects = LiveSecretManager()
    # Every row, force-deleted ones included: for the task callback, the sweeps and the purge.
    all_objects = models.Manager()  # noqa: DJ012  (a second manager, not a field)

    class Meta:
        ordering = ["-updated_at", "id"]
        base_manager_name = "all_objects"
        constraints = [
            # IBM: one secret per (type, name) in the whole instance, whatever the group. A
            # force-deleted secret frees its name at once.
            models.UniqueConstraint(
                fields=["secret_type", "name"],
                condition=models.Q(deleted_at__isnull=True),
                name="secret_unique_type_name",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=[0, 1, 2, 3, 5]), name="secret_state_valid"
            ),
        ]
        # The Secrets table's default and name orders over the rows it shows (selectors): a
        # page is an index range, and "more than N" counts stop early. The search index
        # (migration 0009) is SQL of each database's own, outside the model.
        indexes = [
            models.Index(
                fields=["-updated_at", "id"],
                condition=models.Q(deleted_at__isnull=True, probe=False),
                name="secret_live_by_updated",
            ),
            models.Index(
                fields=["name", "id"],
                condition=models.Q(deleted_at__isnull=True, probe=False),
                name="secret_live_by_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def state_description(self) -> str:
        return STATE_DESCRIPTIONS[SecretState(self.state)]

    @property
    def ttl(self) -> str | None:
        # Echoed as a string of seconds, as the real service does (sm-api.md §4.6).
        return None if self.ttl_seconds is None else str(self.ttl_seconds)

    @property
    def crn(self) -> str:
        return (
            f"crn:v1:bluemix:public:secrets-manager:{settings.SM_REGION}:a/{settings.SM_ACCOUNT_ID}:"
            f"{settings.SM_INSTANCE_ID}:secret:{self.id}"
        )


class SecretLabel(models.Model):
    """One row per label, so that search and "all labels must match" work on every database."""

    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="label_rows")
    name = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["secret", "name"], name="label_unique_per_secret")
        ]
        # "Secrets carrying label X" reads this index alone (name, then secret_id).
        indexes = [models.Index(fields=["name", "secret"], name="label_name_secret")]

    def __str__(self) -> str:
        return self.name


class VersionAlias(models.TextChoices):
    CURRENT = "current", "current"
    PREVIOUS = "previous", "previous"


class SecretVersion(SealedFields):
    """One version of a secret. Only `current` and `previous` keep their (encrypted) payload."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="versions")
    serial = models.PositiveIntegerField(
        help_text="1 for the first version of the secret, then 2, 3..."
    )
    # NULL (not "") for versions without an alias, so the unique (secret, alias) constraint
    # applies only to current and previous.
    alias = models.CharField(max_length=8, choices=VersionAlias.choices, null=True, blank=True)  # noqa: DJ001
    payload_available = models.BooleanField(default=False)
    version_custom_metadata = models.JSONField(default=dict, blank=True)
    # Non-secret facts about the issued credentials (api_key_id, service_id, resource_key...).
    version_data = models.JSONField(default=dict, blank=True)
    credentials_id = models.CharField(max_length=256, blank=True, default="")
    auto_rotated = models.BooleanField(default=False)
    expiration_date = models.DateTimeField(null=True, blank=True)
    downloaded = models.BooleanField(default=False)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the provider confirmed the credentials gone (API key or resource key deleted, or the
    # job's delete task reported credentials_deleted). Null while they may still exist there.
    credentials_deleted_at = models.DateTimeField(null=True, blank=True)
    # An admin gave up deleting them (the failed-task inbox's Give up): they may still exist at
    # the provider, and nothing will try again.
    credentials_orphaned_at = models.DateTimeField(null=True, blank=True)
    # Keyed hashes of the payload's fields, made when the version was written, so that two
    # versions can be compared field by field without any value, even after a payload is gone:
    # {"key_id": <root key id the hash key derives from>, "fields": {<field path>: <hex>}}.
    payload_digests = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["secret", "serial"]
        constraints = [
            models.UniqueConstraint(fields=["secret", "serial"], name="version_unique_serial"),
            models.UniqueConstraint(
                fields=["secret", "alias"],
                condition=models.Q(alias__isnull=False),
                name="version_unique_alias",
            ),
            models.CheckConstraint(
                condition=models.Q(payload_available=False) | ~models.Q(sealed_key_id=""),
                name="version_payload_available_has_ciphertext",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.secret_id} v{self.serial}"


class SecretLock(models.Model):
    """A named lock on one version of a secret (sm-api.md §2.5).

    A locked version's data cannot be deleted, and a rotation that would push it out of
    current/previous (and so erase its data) is refused. A lock's name is unique per secret
    version, as IBM's (SecretLockPrototype): the same name may pin both the current and the
    previous version, until a create with mode remove_previous moves it to one.
    """

    id = models.BigAutoField(primary_key=True)
    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="locks")
    version = models.ForeignKey(SecretVersion, on_delete=models.CASCADE, related_name="locks")
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=1024, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["secret", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "name"], name="lock_unique_name_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.version_id}"


class TaskType(models.TextChoices):
    CREATE_CREDENTIALS = "create_credentials", "Create credentials"
    DELETE_CREDENTIALS = "delete_credentials", "Delete credentials"


class TaskStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    CREDENTIALS_CREATED = "credentials_created", "Credentials created"
    CREDENTIALS_DELETED = "credentials_deleted", "Credentials deleted"
    FAILED = "failed", "Failed"


TERMINAL_TASK_STATUSES = frozenset(
    {TaskStatus.CREDENTIALS_CREATED, TaskStatus.CREDENTIALS_DELETED, TaskStatus.FAILED}
)


class TaskTrigger(models.TextChoices):
    SECRET_CREATION = "secret_creation", "Secret creation"
    MANUAL_SECRET_ROTATION = "manual_secret_rotation", "Manual rotation"
    AUTOMATIC_SECRET_ROTATION = "automatic_secret_rotation", "Automatic rotation"
    SECRET_VERSION_EXPIRATION = "secret_version_expiration", "Version expiration"
    SECRET_VERSION_DATA_DELETION = "secret_version_data_deletion", "Version data deletion"


class TaskResolution(models.TextChoices):
    RETRIED = "retried", "Retried"  # a retry task was made for it (retry_of points here)
    ACKNOWLEDGED = "acknowledged", "Acknowledged"  # resolved without a retry, with a note
    GAVE_UP = "gave_up", "Gave up"  # a delete ladder stopped; credentials recorded as orphaned
    SUCCEEDED_LATER = "succeeded_later", "Succeeded later"  # a later retry of it succeeded


class SecretTask(models.Model):
    """A unit of background work on a custom credentials secret, reported back by its job."""

    id = models.CharField(primary_key=True, max_length=44, default=_task_id, editable=False)
    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="tasks")
    type = models.CharField(max_length=32, choices=TaskType.choices)
    trigger = models.CharField(max_length=40, choices=TaskTrigger.choices)
    status = models.CharField(max_length=32, choices=TaskStatus.choices, default=TaskStatus.QUEUED)
    # [{"code": "...", "description": "..."}], as the job reported them.
    errors = models.JSONField(default=list, blank=True)
    secret_version = models.ForeignKey(
        SecretVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # The version a delete task deletes, kept even after that version's row is pruned.
    secret_version_ref = models.UUIDField(null=True, blank=True)
    # The provider's id of the credentials a delete task deletes (SM_CREDENTIALS_ID), kept here
    # for the same reason.
    credentials_id = models.CharField(max_length=256, blank=True, default="")
    # The job's callback for this task was refused with 400 or 404: no automatic retry
    # (sm-api.md §5.6).
    no_retry = models.BooleanField(default=False)
    # Every status the task went through, oldest first: [{"status": ..., "at": ISO 8601}].
    status_history = models.JSONField(default=list, blank=True)
    # How a failed task was dealt with in the failed-task inbox ("" while unresolved).
    resolution = models.CharField(
        max_length=16, choices=TaskResolution.choices, blank=True, default=""
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=128, blank=True, default="")
    resolution_note = models.CharField(max_length=1024, blank=True, default="")
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    # Metadata for the version a create task produces (never secret).
    version_custom_metadata = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=128)
    updated_by = models.CharField(max_length=128)
    creation_date = models.DateTimeField(auto_now_add=True, db_index=True)
    last_update_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-creation_date"]
        indexes = [models.Index(fields=["status", "last_update_date"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(attempt__gte=1), name="task_attempt_positive")
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_TASK_STATUSES
