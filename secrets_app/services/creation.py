"""The one path every new secret takes: details → type check → provider → row → first version → audit.

Each type's create service (arbitrary, IAM credentials, service credentials, custom credentials)
supplies two functions and calls `secret_create`:

- `check()` validates the type's own inputs and answers read-only lookups. Its field errors are
  reported together with those of the shared details (name, group, labels, metadata), so a form
  shows every problem at once. It writes nothing.
- `provision(checked)` runs only once everything is valid. It may ask a provider for something
  (an API key, a resource key) and returns a `SecretPlan`: the type's columns, the state the
  secret starts in, its first version (or none, for custom credentials, whose job creates it),
  what to do once the row exists (queue a task), and how to undo the provider's side effect if
  the write fails.

The write itself (row, labels, first version, follow-up, audit event) is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NotRequired, TypedDict, TypeVar, Unpack

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from console import validation
from console.audit import audit_record
from console.errors import ConflictError, ServiceError
from console.identity import Actor
from secrets_app.models import (
    DEFAULT_GROUP_ID,
    Secret,
    SecretGroup,
    SecretLabel,
    SecretState,
    SecretType,
)
from secrets_app.services.groups import group_get
from secrets_app.services.versions import Payload, version_add

Checked = TypeVar("Checked")


class SecretDetails(TypedDict):
    """The keyword arguments every create service takes for what all types share."""

    name: str
    secret_group_id: NotRequired[str]
    description: NotRequired[str]
    labels: NotRequired[list[str] | None]
    custom_metadata: NotRequired[dict[str, Any] | None]
    version_custom_metadata: NotRequired[dict[str, Any] | None]


@dataclass(frozen=True)
class SecretBasics:
    """What every secret type shares, as the caller entered it."""

    name: str
    secret_group_id: str = DEFAULT_GROUP_ID
    description: str = ""
    labels: list[str] | None = None
    custom_metadata: dict[str, Any] | None = None
    version_custom_metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class FirstVersion:
    payload: Payload
    version_data: dict[str, Any] = field(default_factory=dict)
    credentials_id: str = ""
    expiration_date: datetime | None = None


@dataclass(frozen=True)
class SecretPlan:
    """A type's part of a new secret, once its inputs are valid and its provider has answered."""

    # The type's own columns (ttl_seconds, rotation, configuration, source_service, ...).
    columns: dict[str, Any]
    state: int = SecretState.ACTIVE
    first_version: FirstVersion | None = None
    # Runs in the write's transaction once the row exists: (secret, cleaned shared details).
    then: Callable[[Secret, dict[str, Any]], None] | None = None
    audit_detail: dict[str, Any] | None = None
    # Undoes the provider's side effect (a key created outside this database) if the write
    # fails; the original error is re-raised either way.
    undo: Callable[[], None] | None = None


def set_labels(secret: Secret, labels: list[str], *, new: bool = False) -> None:
    """The label index rows of the secret's labels; `new`: the secret was just inserted, so it
    has none to delete yet."""
    if not new:
        secret.label_rows.all().delete()
    SecretLabel.objects.bulk_create([SecretLabel(secret=secret, name=label) for label in labels])


def _clean_basics(basics: SecretBasics) -> dict[str, Any]:
    """Validate the shared details; collect every field error before raising."""
    errors: dict[str, list[ValidationError]] = {}
    cleaned: dict[str, Any] = {}
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("name", lambda: validation.validate_name(basics.name)),
        ("description", lambda: validation.validate_description(basics.description)),
        ("labels", lambda: validation.validate_labels(basics.labels)),
        ("custom_metadata", lambda: validation.validate_metadata(basics.custom_metadata)),
        (
            "version_custom_metadata",
            lambda: validation.validate_metadata(
                basics.version_custom_metadata, field="version_custom_metadata"
            ),
        ),
        (
            "secret_group_id",
            lambda: validation.validate_secret_group_id(basics.secret_group_id),
        ),
    ]
    for name, check in checks:
        try:
            cleaned[name] = check()
        except ValidationError as exc:
            exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _group_and_unique_name(basics: SecretBasics, secret_type: str) -> SecretGroup:
    group = group_get(basics.secret_group_id)
    if Secret.objects.filter(secret_type=secret_type, name=basics.name).exists():
        raise _name_taken(secret_type, basics.name)
    return group


def _name_taken(secret_type: str, name: str) -> ConflictError:
    return ConflictError(
        f"A {SecretType(secret_type).label} secret named {name!r} already exists. "
        "Names are unique per secret type across all groups.",
        field="name",
    )


@transaction.atomic
def secret_create(
    *,
    actor: Actor,
    secret_type: str,
    check: Callable[[], Checked],
    provision: Callable[[Checked], SecretPlan],
    **details: Unpack[SecretDetails],
) -> Secret:
    basics = SecretBasics(**details)
    errors: dict[str, list[ValidationError]] = {}
    cleaned: dict[str, Any] = {}
    try:
        cleaned = _clean_basics(basics)
    except ValidationError as exc:
        exc.update_error_dict(errors)
    group = None if errors else _group_and_unique_name(basics, secret_type)
    try:
        checked = check()
    except ValidationError as exc:
        raise ValidationError(exc.update_error_dict(errors)) from None
    except ServiceError:
        # e.g. an engine that is not configured: the details' own field errors come first.
        if errors:
            raise ValidationError(errors) from None
        raise
    if errors:
        raise ValidationError(errors)
    assert group is not None
    plan = provision(checked)
    try:
        with transaction.atomic():
            secret = Secret.objects.create(
                name=cleaned["name"],
                description=cleaned["description"],
                secret_type=secret_type,
                secret_group=group,
                state=plan.state,
                labels=cleaned["labels"],
                custom_metadata=cleaned["custom_metadata"],
                created_by=actor.iam_id,
                **plan.columns,
            )
            set_labels(secret, cleaned["labels"], new=True)
            if (first := plan.first_version) is not None:
                version_add(
                    actor=actor,
                    secret=secret,
                    payload=first.payload,
                    version_custom_metadata=cleaned["version_custom_metadata"],
                    version_data=first.version_data,
                    credentials_id=first.credentials_id,
                    expiration_date=first.expiration_date,
                )
            if plan.then is not None:
                plan.then(secret, cleaned)
            audit_record(
                actor=actor,
                action="secret.create",
                object_type="secret",
                object_id=str(secret.pk),
                object_name=secret.name,
                detail=plan.audit_detail,
            )
    except IntegrityError:
        if plan.undo is not None:
            plan.undo()
        # Two creates with one name at the same moment: both passed the check above, and the
        # unique constraint stopped the second. It gets the same 409 as if it had come later.
        if Secret.objects.filter(secret_type=secret_type, name=cleaned["name"]).exists():
            raise _name_taken(secret_type, cleaned["name"]) from None
        raise
    except Exception:
        if plan.undo is not None:
            plan.undo()
        raise
    return secret
