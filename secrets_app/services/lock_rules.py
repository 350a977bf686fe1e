"""What a lock forbids (sm-api.md §2.5): a locked version's data cannot be deleted, and no new
version (rotation or restore) may push a locked previous version out, which would erase its data.

The rule lives apart from lock management (secrets_app.services.locks) because the version
services themselves enforce it: versions, rotation, restore and version_data import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from console.errors import LockedError
from secrets_app.models import Secret, SecretLock, SecretVersion, VersionAlias

LOCKED_MESSAGE = "The requested action can't be completed because the secret version is locked."


def lock_names_by_version(version_ids: Iterable[UUID | str]) -> dict[str, list[str]]:
    """{version id: lock names, sorted} for the given versions, in one query."""
    names: dict[str, list[str]] = {}
    rows = (
        SecretLock.objects.filter(version_id__in=list(version_ids))
        .order_by("name")
        .values_list("version_id", "name")
    )
    for version_id, name in rows:
        names.setdefault(str(version_id), []).append(name)
    return names


def locks_by_version(secret: Secret) -> dict[str, list[SecretLock]]:
    """{version id: its locks, by name} for every version of the secret, in one query."""
    found: dict[str, list[SecretLock]] = {}
    for lock in SecretLock.objects.filter(secret=secret).order_by("name"):
        found.setdefault(str(lock.version_id), []).append(lock)
    return found


def versions_lock_blocker(versions: Iterable[SecretVersion], *, doing: str) -> str:
    """Why these versions may not lose their data ("" when none holds a lock), naming the
    version and its locks."""
    by_version = {str(v.pk): v for v in versions}
    locked = lock_names_by_version(by_version)
    if not locked:
        return ""
    parts = [
        f"version {by_version[vid].serial} ({by_version[vid].alias or 'no alias'}) holds "
        f"{', '.join(names)}"
        for vid, names in sorted(locked.items(), key=lambda item: by_version[item[0]].serial)
    ]
    return f"{LOCKED_MESSAGE} To {doing}, first remove the locks: {'; '.join(parts)}."


def require_versions_unlocked(versions: Iterable[SecretVersion], *, doing: str) -> None:
    """Refuse (412) if any of these versions holds a lock, naming the version and its locks."""
    if blocker := versions_lock_blocker(versions, doing=doing):
        raise LockedError(blocker)


def rotation_lock_blocker(secret: Secret) -> str:
    """Why a new version (a rotation, or a restore) may not be added now: the previous version
    holds locks, and the new version would push it out and delete its data. "" otherwise."""
    previous = SecretVersion.objects.filter(secret=secret, alias=VersionAlias.PREVIOUS)
    return versions_lock_blocker(
        previous, doing="add a new version, which would delete the previous version's data"
    )


def require_rotation_unlocked(secret: Secret) -> None:
    if blocker := rotation_lock_blocker(secret):
        raise LockedError(blocker)


@dataclass(frozen=True)
class LockImpact:
    """What a new version (rotation or restore) does to the locks, for the previews: the
    previous version's locks block it; the current version's stay with it as it becomes
    previous (and keeps its data)."""

    current: SecretVersion | None
    current_locks: list[SecretLock]
    previous: SecretVersion | None
    previous_locks: list[SecretLock]


def lock_impact(secret: Secret) -> LockImpact:
    """The current and previous versions and their locks, in two queries."""
    aliased = {v.alias: v for v in SecretVersion.objects.filter(secret=secret, alias__isnull=False)}
    current, previous = aliased.get(VersionAlias.CURRENT), aliased.get(VersionAlias.PREVIOUS)
    locks: dict[str, list[SecretLock]] = {}
    ids = [v.pk for v in (current, previous) if v is not None]
    for lock in SecretLock.objects.filter(version_id__in=ids).order_by("name"):
        locks.setdefault(str(lock.version_id), []).append(lock)
    return LockImpact(
        current=current,
        current_locks=locks.get(str(current.pk), []) if current else [],
        previous=previous,
        previous_locks=locks.get(str(previous.pk), []) if previous else [],
    )
