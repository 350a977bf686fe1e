"""Secret group services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from console import validation
from console.audit import audit_record
from console.errors import ConflictError, DuplicateNameError, LimitExceededError, NotFoundError
from console.identity import Actor
from secrets_app.models import DEFAULT_GROUP_ID, SecretGroup, SecretState


def default_group_ensure() -> SecretGroup:
    group, _ = SecretGroup.objects.get_or_create(
        pk=DEFAULT_GROUP_ID,
        defaults={"name": "default", "description": "Default Secret Group", "created_by": "system"},
    )
    return group


def group_get(group_id: str) -> SecretGroup:
    try:
        return SecretGroup.objects.get(pk=group_id)
    except SecretGroup.DoesNotExist:
        if group_id == DEFAULT_GROUP_ID:
            # The built-in group always exists: a migration creates it and nothing can delete
            # it, but a database restored or flushed by hand gets it back on first use.
            return default_group_ensure()
        raise NotFoundError(
            f"Secret group {group_id} does not exist.", field="secret_group_id"
        ) from None


def _group_name_free(name: str, *, exclude_id: str | None = None) -> None:
    clash = SecretGroup.objects.filter(name=name)
    if exclude_id:
        clash = clash.exclude(pk=exclude_id)
    if clash.exists():
        raise DuplicateNameError("name", f"A secret group named {name!r} already exists.")


@transaction.atomic
def group_create(*, actor: Actor, name: str, description: str = "") -> SecretGroup:
    validation.validate_group_name(name)
    description = validation.validate_description(description)
    # Locking the default group's row serialises group creation, so two concurrent requests
    # cannot both slip under the limit (SQLite serialises IMMEDIATE transactions anyway).
    default = default_group_ensure()
    SecretGroup.objects.select_for_update().filter(pk=default.pk).first()
    if SecretGroup.objects.count() >= validation.SECRET_GROUPS_MAX:
        raise LimitExceededError(
            f"This instance already has {validation.SECRET_GROUPS_MAX} secret groups, the maximum. "
            "Delete an empty group first."
        )
    _group_name_free(name)
    try:
        with transaction.atomic():
            group = SecretGroup.objects.create(
                name=name, description=description, created_by=actor.iam_id
            )
    except IntegrityError:
        raise DuplicateNameError("name", f"A secret group named {name!r} already exists.") from None
    audit_record(
        actor=actor,
        action="secret_group.create",
        object_type="secret_group",
        object_id=group.pk,
        object_name=name,
    )
    return group


@transaction.atomic
def group_update(
    *, actor: Actor, group_id: str, name: str | None = None, description: str | None = None
) -> SecretGroup:
    group = group_get(group_id)
    changed: list[str] = []
    if name is not None and name != group.name:
        if group.is_default:
            raise ValidationError({"name": "The default group cannot be renamed."})
        validation.validate_group_name(name)
        _group_name_free(name, exclude_id=group.pk)
        group.name = name
        changed.append("name")
    if description is not None and description != group.description:
        group.description = validation.validate_description(description)
        changed.append("description")
    if changed:
        group.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor,
            action="secret_group.update",
            object_type="secret_group",
            object_id=group.pk,
            object_name=group.name,
            detail={"changed": changed},
        )
    return group


@transaction.atomic
def group_delete(*, actor: Actor, group_id: str) -> None:
    group = group_get(group_id)
    if group.is_default:
        raise ConflictError("The default secret group cannot be deleted.")
    count = group.secrets.filter(probe=False).count()
    if count:
        raise ConflictError(
            f"Secret group {group.name!r} still holds {count} secret{'s' if count != 1 else ''}. "
            "A group must be empty before it can be deleted: delete its secrets first."
        )
    probes = group.secrets.filter(probe=True)
    if probes.exclude(state=SecretState.DESTROYED).exists():
        raise ConflictError(
            f"A configuration test is still running in secret group {group.name!r}; "
            "try again when it has finished."
        )
    # Finished configuration tests leave destroyed probe secrets behind: they go with the group.
    probes.delete()
    audit_record(
        actor=actor,
        action="secret_group.delete",
        object_type="secret_group",
        object_id=group.pk,
        object_name=group.name,
    )
    group.delete()
