"""Secret locks (sm-api.md §2.5; IBM's secret-locks docs): creating, listing and deleting them,
and what a lock forbids.

A lock is a named pin on the current or previous version of a secret, telling that something
still uses that version's data. A locked version's data cannot be deleted, and no rotation or
restore may push a locked version out of current/previous (which would erase its data). Every
service that would do either calls `lock_rules.require_versions_unlocked` first (that module
holds the rule, which the version services import), so the console and the API refuse alike,
with the names of the locks in the message.

Decided here, with IBM's sources:
- lock names are unique per version (SecretLockPrototype: "unique per secret version"); a create
  with a name the version already holds replaces that lock's description and attributes;
- mode `remove_previous` removes the locks of the same names from the secret's other versions
  (the lock moves); `remove_previous_and_delete` also deletes the data of the previous version
  when no lock is left on it (not for custom credentials: 400);
- only the current and previous versions can be locked (the docs: "you attach one or more locks
  to its current or previous version"); at most 1000 locks per secret;
- a custom credentials secret can be locked only when none of its tasks is queued or
  processing (409);
- creating and deleting locks needs the Manager role (IBM's docs: "To manage locks on your
  secrets, you need the Manager service role"; IAM action `secret_lock.manage`); listing them
  needs Reader. Every create and delete is audited (names, never values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet

from console import validation
from console.audit import audit_record
from console.errors import ConflictError, LimitExceededError, ServiceError
from engines_app.providers.iam import Principal, get_iam
from secrets_app.models import (
    Secret,
    SecretLock,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskStatus,
    TaskTrigger,
    VersionAlias,
)
from secrets_app.permissions import get_secret_for_principal
from secrets_app.services.credentials import credentials_retire
from secrets_app.services.lock_rules import lock_names_by_version
from secrets_app.services.reading import version_for
from secrets_app.services.versions import payload_erase

LOCK_ACTION = "secret_lock.manage"
READ_ACTION = "secret.metadata.read"
LOCKS_PER_SECRET_MAX = 1000
LOCK_NAME_MAX = 64
MODE_REMOVE_PREVIOUS = "remove_previous"
MODE_REMOVE_PREVIOUS_AND_DELETE = "remove_previous_and_delete"
MODES = (MODE_REMOVE_PREVIOUS, MODE_REMOVE_PREVIOUS_AND_DELETE)
SORT_FIELDS = ("created_at", "updated_at", "name")


# ---------------------------------------------------------------------------------------------
# Creating and deleting


@dataclass(frozen=True)
class LockSpec:
    name: str
    description: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


def _clean_specs(locks: Sequence[Mapping[str, Any]]) -> list[LockSpec]:
    if not locks:
        raise ValidationError({"locks": "Give at least one lock."})
    if len(locks) > LOCKS_PER_SECRET_MAX:
        raise ValidationError({"locks": f"Give at most {LOCKS_PER_SECRET_MAX} locks."})
    specs: list[LockSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(locks):
        where = f"locks.{i}"
        name = validation.validate_name(
            raw.get("name"),  # type: ignore[arg-type]
            field=f"{where}.name",
            max_length=LOCK_NAME_MAX,
            what="Lock name",
        )
        if name in seen:
            raise ValidationError({f"{where}.name": f"Lock {name} is given twice."})
        seen.add(name)
        description = validation.validate_description(
            raw.get("description"), field=f"{where}.description"
        )
        attributes = raw.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise ValidationError({f"{where}.attributes": "Attributes must be a JSON object."})
        attributes = validation.validate_metadata(attributes, field=f"{where}.attributes")
        specs.append(LockSpec(name=name, description=description, attributes=attributes))
    return specs


def secret_for_lock_change(principal: Principal, secret_id: UUID | str) -> Secret:
    """The secret, locked for update, if the caller may manage its locks (404 outside their
    scope, 403 for a weaker role)."""
    secret = get_secret_for_principal(principal, secret_id, LOCK_ACTION)
    return Secret.objects.select_for_update().select_related("secret_group").get(pk=secret.pk)


def _version_to_lock(secret: Secret, version: str) -> SecretVersion:
    found = version_for(secret, version)
    if found.alias is None:
        raise ServiceError(
            f"Version {found.serial} of secret {secret.name} is neither current nor previous: "
            "only those versions can be locked.",
            field="id",
        )
    return found


def _tasks_open(secret: Secret) -> bool:
    return SecretTask.objects.filter(
        secret=secret, status__in=[TaskStatus.QUEUED, TaskStatus.PROCESSING]
    ).exists()


def _delete_previous_data(
    *, principal: Principal, secret: Secret, target: SecretVersion
) -> SecretVersion | None:
    """Mode remove_previous_and_delete: erase the data of the version before `target` (the
    previous one, when `target` is current) if it keeps data and no lock is left on it."""
    if target.alias != VersionAlias.CURRENT:
        return None
    previous = SecretVersion.objects.filter(secret=secret, alias=VersionAlias.PREVIOUS).first()
    if previous is None or not previous.payload_available:
        return None
    if SecretLock.objects.filter(version=previous).exists():
        return None
    payload_erase(previous)
    if not (previous.credentials_id and previous.credentials_id == target.credentials_id):
        credentials_retire(
            actor=principal.actor,
            secret=secret,
            version=previous,
            trigger=TaskTrigger.SECRET_VERSION_DATA_DELETION,
        )
    return previous


@transaction.atomic
def locks_create(
    *,
    principal: Principal,
    secret_id: UUID | str,
    locks: Sequence[Mapping[str, Any]],
    version: str = VersionAlias.CURRENT,
    mode: str | None = None,
) -> Secret:
    """Attach `locks` ({name, description?, attributes?}) to a version of the secret (its
    current one by default; a version id or `previous`). Needs Manager. Audited."""
    secret = secret_for_lock_change(principal, secret_id)
    if mode is not None and mode not in MODES:
        raise ServiceError(f"mode must be one of {', '.join(MODES)}.", field="mode")
    custom = secret.secret_type == SecretType.CUSTOM_CREDENTIALS
    if custom and mode == MODE_REMOVE_PREVIOUS_AND_DELETE:
        raise ServiceError(
            "Mode remove_previous_and_delete is not supported for custom credentials secrets.",
            field="mode",
        )
    specs = _clean_specs(locks)
    if custom and _tasks_open(secret):
        raise ConflictError(
            f"Secret {secret.name} can be locked only once all its tasks completed: a task is "
            "still queued or processing."
        )
    target = _version_to_lock(secret, version)
    names = [s.name for s in specs]
    held = {lock.name: lock for lock in SecretLock.objects.filter(version=target, name__in=names)}
    moving = SecretLock.objects.filter(secret=secret, name__in=names).exclude(version=target)
    moved = sorted(set(moving.values_list("name", flat=True))) if mode else []
    total = SecretLock.objects.filter(secret=secret).count()
    after = total + len(names) - len(held) - (moving.count() if mode else 0)
    if after > LOCKS_PER_SECRET_MAX:
        raise LimitExceededError(
            f"A secret holds at most {LOCKS_PER_SECRET_MAX} locks; this would make {after}.",
            field="locks",
        )
    if mode:
        moving.delete()
    for spec in specs:
        if spec.name in held:
            lock = held[spec.name]
            lock.description, lock.attributes = spec.description, spec.attributes
            lock.save(update_fields=["description", "attributes", "updated_at"])
        else:
            SecretLock.objects.create(
                secret=secret,
                version=target,
                name=spec.name,
                description=spec.description,
                attributes=spec.attributes,
                created_by=principal.iam_id,
            )
    erased = None
    if mode == MODE_REMOVE_PREVIOUS_AND_DELETE:
        erased = _delete_previous_data(principal=principal, secret=secret, target=target)
    secret.save(update_fields=["updated_at"])
    audit_record(
        actor=principal.actor,
        action="secret.lock_create",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail={
            "version_id": str(target.pk),
            "serial": target.serial,
            "locks": names,
            "replaced": sorted(held),
            **({"mode": mode, "moved": moved} if mode else {}),
            **({"data_deleted_version_id": str(erased.pk)} if erased else {}),
        },
    )
    return secret


@transaction.atomic
def locks_delete(
    *,
    principal: Principal,
    secret_id: UUID | str,
    names: Sequence[str] | None = None,
    version: str | None = None,
) -> Secret:
    """Delete the secret's locks named `names` (all of them when None), on one version when
    `version` is given, else on every version. Names it does not hold are ignored. Needs
    Manager. Audited."""
    secret = secret_for_lock_change(principal, secret_id)
    locks = SecretLock.objects.filter(secret=secret)
    target = version_for(secret, version) if version is not None else None
    if target is not None:
        locks = locks.filter(version=target)
    if names is not None:
        for i, name in enumerate(names):
            if not name or len(name) > LOCK_NAME_MAX:
                raise ServiceError(
                    f"name: a lock name is 1 to {LOCK_NAME_MAX} characters.", field="name"
                )
            if not validation.NAME_RE.match(name):
                raise ServiceError(
                    f"name: {name!r} is not a lock name. {validation.NAME_HINT}", field="name"
                )
            if i >= LOCKS_PER_SECRET_MAX:
                raise ServiceError(f"name: at most {LOCKS_PER_SECRET_MAX} names.", field="name")
        locks = locks.filter(name__in=list(names))
    removed = list(locks.select_related("version").order_by("version__serial", "name"))
    SecretLock.objects.filter(pk__in=[lock.pk for lock in removed]).delete()
    secret.save(update_fields=["updated_at"])
    audit_record(
        actor=principal.actor,
        action="secret.lock_delete",
        object_type="secret",
        object_id=str(secret.pk),
        object_name=secret.name,
        detail={
            "locks": [{"name": lock.name, "serial": lock.version.serial} for lock in removed],
            **({"version_id": str(target.pk)} if target is not None else {}),
        },
    )
    return secret


# ---------------------------------------------------------------------------------------------
# Reading


def secret_lock_state(secret: Secret) -> list[tuple[SecretVersion, list[str]]]:
    """The versions that can hold locks (current and previous, and any other that holds some),
    newest first, each with its lock names: IBM's SecretLocks.versions."""
    names = lock_names_by_version(
        SecretLock.objects.filter(secret=secret).values_list("version_id", flat=True)
    )
    versions = SecretVersion.objects.filter(secret=secret).filter(
        Q(alias__isnull=False) | Q(pk__in=list(names))
    )
    return [(v, names.get(str(v.pk), [])) for v in versions.order_by("-serial")]


def _readable_secret(principal: Principal, secret_id: UUID | str) -> Secret:
    return get_secret_for_principal(principal, secret_id, READ_ACTION)


def _sorted(locks: QuerySet[SecretLock], sort: str | None) -> QuerySet[SecretLock]:
    sort = sort or "created_at"
    key = sort.removeprefix("-")
    if key not in SORT_FIELDS:
        raise ServiceError(
            f"sort: sort by {', '.join(SORT_FIELDS)}, with a leading - for descending order.",
            field="sort",
        )
    order = "-" if sort.startswith("-") else ""
    return locks.order_by(f"{order}{key}", f"{order}id")


@dataclass(frozen=True)
class LockPage:
    locks: list[SecretLock]
    total: int


def secret_locks_page(
    *,
    principal: Principal,
    secret_id: UUID | str,
    version: str | None = None,
    offset: int = 0,
    limit: int = 25,
    sort: str | None = None,
    search: str | None = None,
) -> LockPage:
    """A page of a secret's locks (or one version's), for a Reader or more."""
    secret = _readable_secret(principal, secret_id)
    locks = SecretLock.objects.filter(secret=secret).select_related("version", "secret")
    if version is not None:
        locks = locks.filter(version=version_for(secret, version))
    if search:
        locks = locks.filter(name__icontains=search)
    locks = _sorted(locks, sort)
    return LockPage(locks=list(locks[offset : offset + limit]), total=locks.count())


@dataclass(frozen=True)
class SecretsLocksPage:
    # Each secret with its versions that hold (matching) locks, newest first, and their names.
    secrets: Sequence[tuple[Secret, list[tuple[SecretVersion, list[str]]]]]
    total: int


def secrets_locks_page(
    *,
    principal: Principal,
    offset: int = 0,
    limit: int = 200,
    search: str | None = None,
    groups: Sequence[str] | None = None,
) -> SecretsLocksPage:
    """The secrets that hold locks (whose names contain `search`), in the groups the caller may
    read (and among `groups`), by name, with their locked versions: two queries a page."""
    lock_filter = Q(locks__name__icontains=search) if search else Q()
    secrets = Secret.objects.filter(probe=False).annotate(n=Count("locks", filter=lock_filter))
    secrets = secrets.filter(n__gt=0)
    readable = get_iam().group_ids_allowing(principal, READ_ACTION)
    if readable is not None:
        secrets = secrets.filter(secret_group_id__in=readable)
    if groups:
        secrets = secrets.filter(secret_group_id__in=list(groups))
    secrets = secrets.order_by("name", "id")
    page = list(secrets[offset : offset + limit])
    locks = SecretLock.objects.filter(secret__in=page).select_related("version")
    if search:
        locks = locks.filter(name__icontains=search)
    by_secret: dict[str, dict[str, tuple[SecretVersion, list[str]]]] = {}
    for lock in locks.order_by("-version__serial", "name"):
        versions = by_secret.setdefault(str(lock.secret_id), {})
        versions.setdefault(str(lock.version_id), (lock.version, []))[1].append(lock.name)
    rows = [(s, list(by_secret.get(str(s.pk), {}).values())) for s in page]
    return SecretsLocksPage(secrets=rows, total=secrets.count())
