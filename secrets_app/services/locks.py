"""Secret locks (sm-api.md §2.5): what a lock forbids.

A locked version's data cannot be deleted, and no rotation or restore may push a locked version
out of current/previous (which would erase its data). Every service that would do either calls
`require_versions_unlocked` first, so the console and the API refuse alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from console.errors import ConflictError
from secrets_app.models import SecretLock, SecretVersion

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


def require_versions_unlocked(versions: Iterable[SecretVersion], *, doing: str) -> None:
    """Refuse (409) if any of these versions holds a lock, naming the version and its locks."""
    by_version = {str(v.pk): v for v in versions}
    locked = lock_names_by_version(by_version)
    if not locked:
        return
    parts = [
        f"version {by_version[vid].serial} ({by_version[vid].alias or 'no alias'}) holds "
        f"{', '.join(names)}"
        for vid, names in sorted(locked.items(), key=lambda item: by_version[item[0]].serial)
    ]
    raise ConflictError(f"{LOCKED_MESSAGE} To {doing}, first remove the locks: {'; '.join(parts)}.")
