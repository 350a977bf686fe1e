"""A secret's history, read-only: the redacted diff between two versions, and the timeline.

The diff compares the keyed hashes each version got when it was written
(`versions.payload_digests`), so it works for versions whose payload is gone and never reads,
shows or sends a value. Metadata is not secret: its differences are shown in full.

The timeline interleaves versions, tasks (with their status history), the inbox's resolutions
and the audit log's events about the secret (rotations, reveals, edits, leases), newest first.
It runs a fixed number of queries, however many events there are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from console.models import AuditEvent
from secrets_app.models import Secret, SecretTask, SecretVersion, TaskStatus

# ---------------------------------------------------------------------------------------------
# The redacted diff

CHANGED, UNCHANGED, ADDED, REMOVED = "changed", "unchanged", "added", "removed"


@dataclass(frozen=True)
class FieldMark:
    """One payload field: its path and how it changed. Never a value."""

    path: str
    mark: str


@dataclass(frozen=True)
class ValueChange:
    """One metadata entry, with both values in full (metadata is not secret)."""

    name: str
    mark: str
    old: str
    new: str


@dataclass(frozen=True)
class VersionDiff:
    a: SecretVersion  # the older ("from") version
    b: SecretVersion  # the newer ("to") version
    comparable: bool
    why_not: str  # why the payload fields cannot be compared, when they cannot
    fields: list[FieldMark]
    facts: list[ValueChange]
    metadata: list[ValueChange]

    @property
    def counts(self) -> dict[str, int]:
        found = {CHANGED: 0, UNCHANGED: 0, ADDED: 0, REMOVED: 0}
        for row in self.fields:
            found[row.mark] += 1
        return found


def _marks(old: dict[str, str], new: dict[str, str]) -> list[FieldMark]:
    rows = []
    for path in sorted(set(old) | set(new)):
        if path not in old:
            mark = ADDED
        elif path not in new:
            mark = REMOVED
        else:
            mark = UNCHANGED if old[path] == new[path] else CHANGED
        rows.append(FieldMark(path=path, mark=mark))
    return rows


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, str):
        return value or "—"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, inner in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(inner, dict) and inner:
            found.update(_flat(inner, path))
        else:
            found[path] = inner
    return found


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[ValueChange]:
    rows = []
    for name in sorted(set(old) | set(new), key=str):
        if name not in old:
            mark = ADDED
        elif name not in new:
            mark = REMOVED
        else:
            mark = UNCHANGED if old[name] == new[name] else CHANGED
        rows.append(
            ValueChange(
                name=name,
                mark=mark,
                old=_text(old[name]) if name in old else "",
                new=_text(new[name]) if name in new else "",
            )
        )
    return rows


def _facts(version: SecretVersion) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "Created": version.created_at,
        "Created by": version.created_by,
        "Automatic rotation": version.auto_rotated,
        "Expires": version.expiration_date,
        "Payload kept": version.payload_available,
        "Downloaded": version.downloaded,
        "Credentials ID": version.credentials_id,
    }
    for key, value in _flat(version.version_data).items():
        facts[key] = value
    return facts


def version_diff(*, secret: Secret, a: SecretVersion, b: SecretVersion) -> VersionDiff:
    """Compare two versions of `secret` (the caller checked the viewer may read it). The older
    one is always `a`, whatever order they were given in."""
    if a.secret_id != secret.pk or b.secret_id != secret.pk:
        raise ValueError("both versions must belong to the secret")
    if a.serial > b.serial:
        a, b = b, a
    old, new = a.payload_digests or {}, b.payload_digests or {}
    why_not = ""
    if not old.get("fields") or not new.get("fields"):
        missing = [str(v.serial) for v in (a, b) if not (v.payload_digests or {}).get("fields")]
        why_not = (
            f"not comparable: version {' and '.join(missing)} was written before field hashes "
            "were recorded."
        )
    elif old.get("key_id") != new.get("key_id"):
        why_not = (
            "not comparable: the root key changed between these versions, so their field "
            "hashes differ whatever the values."
        )
    fields = [] if why_not else _marks(old["fields"], new["fields"])
    return VersionDiff(
        a=a,
        b=b,
        comparable=not why_not,
        why_not=why_not,
        fields=fields,
        facts=_changes(_facts(a), _facts(b)),
        metadata=_changes(_flat(a.version_custom_metadata), _flat(b.version_custom_metadata)),
    )


# ---------------------------------------------------------------------------------------------
# The timeline

KINDS: dict[str, str] = {
    "versions": "Versions",
    "tasks": "Tasks",
    "rotations": "Rotations",
    "reveals": "Reveals",
    "edits": "Metadata edits",
    "leases": "Leases",
    "resolutions": "Inbox resolutions",
}
_ACTION_KINDS = {
    "secret.rotate": "rotations",
    "secret.rotate_failed": "rotations",
    "secret.rotation_scheduled": "rotations",
    "secret.restore": "rotations",
    "secret.read_payload": "reveals",
    "secret.create": "edits",
    "secret.update": "edits",
    "secret_version.update": "edits",
    "secret_version.expire": "leases",
    "secret.expire": "leases",
}
_ACTION_TITLES = {
    "secret.rotate": "Rotation",
    "secret.rotate_failed": "Automatic rotation failed",
    "secret.rotation_scheduled": "Automatic rotation rescheduled",
    "secret.restore": "Restored from an earlier version",
    "secret.read_payload": "Value revealed",
    "secret.create": "Secret created",
    "secret.update": "Metadata edited",
    "secret_version.update": "Version metadata edited",
    "secret_version.expire": "Version lease ended",
    "secret.expire": "Secret expired",
}
AUDIT_EVENTS_SHOWN = 200


@dataclass(frozen=True)
class Step:
    status: str
    label: str
    at: datetime | None


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    actor: str = ""
    facts: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    mark: str = ""  # "ok", "failed", "open" or "": an icon and a word in the page

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


def task_steps(task: SecretTask) -> list[Step]:
    labels = dict(TaskStatus.choices)
    steps = []
    for entry in task.status_history or []:
        status = str(entry.get("status", ""))
        at = parse_datetime(str(entry.get("at", "")))
        steps.append(Step(status=status, label=labels.get(status, status), at=at))
    return steps


def _task_events(task: SecretTask) -> Iterable[TimelineEvent]:
    mark = "failed" if task.status == TaskStatus.FAILED else "ok" if task.is_terminal else "open"
    facts = [f"Trigger: {task.get_trigger_display()}", f"Status: {task.get_status_display()}"]
    if task.attempt > 1:
        facts.append(f"Attempt {task.attempt}")
    facts += [f"{e.get('code', '')}: {e.get('description', '')}" for e in task.errors or []]
    yield TimelineEvent(
        at=task.creation_date,
        kind="tasks",
        title=f"Task {task.pk}: {task.get_type_display().lower()}",
        actor=task.created_by,
        facts=facts,
        steps=task_steps(task),
        mark=mark,
    )
    if task.resolution and task.resolved_at:
        yield TimelineEvent(
            at=task.resolved_at,
            kind="resolutions",
            title=f"Task {task.pk} {task.get_resolution_display().lower()}",
            actor=task.resolved_by,
            facts=[task.resolution_note] if task.resolution_note else [],
        )


def _version_event(version: SecretVersion) -> TimelineEvent:
    facts = ["By an automatic rotation"] if version.auto_rotated else []
    if version.credentials_id:
        facts.append(f"Credentials ID: {version.credentials_id}")
    if version.credentials_orphaned_at:
        facts.append(
            f"Credentials recorded as orphaned on {version.credentials_orphaned_at:%Y-%m-%d %H:%M} UTC"
        )
    return TimelineEvent(
        at=version.created_at,
        kind="versions",
        title=f"Version {version.serial} created",
        actor=version.created_by,
        facts=facts,
        mark="ok",
    )


def _audit_event(event: AuditEvent) -> TimelineEvent:
    detail = event.detail or {}
    facts = []
    if "serial" in detail:
        facts.append(f"Version {detail['serial']}")
    if detail.get("trigger"):
        facts.append(f"Trigger: {detail['trigger']}")
    if detail.get("reason"):
        facts.append(f"Reason: {detail['reason']}")
    if detail.get("fields"):
        facts.append("Changed: " + ", ".join(str(f) for f in detail["fields"]))
    return TimelineEvent(
        at=event.created_at,
        kind=_ACTION_KINDS[event.action],
        title=_ACTION_TITLES[event.action],
        actor=event.actor_name or event.actor_id,
        facts=facts,
        mark="failed" if event.action == "secret.rotate_failed" else "",
    )


def secret_timeline(
    *,
    secret: Secret,
    kinds: Sequence[str] = (),
    versions: Sequence[SecretVersion] | None = None,
    tasks: Sequence[SecretTask] | None = None,
) -> list[TimelineEvent]:
    """Every event of the secret of the given `kinds` (all when empty), newest first. The caller
    checked the viewer may read the secret; it may pass the versions and tasks it loaded."""
    wanted = set(kinds) or set(KINDS)
    events: list[TimelineEvent] = []
    if "versions" in wanted:
        found = versions if versions is not None else list(secret.versions.all())
        events += [_version_event(v) for v in found]
    if wanted & {"tasks", "resolutions"}:
        found_tasks = tasks if tasks is not None else list(secret.tasks.all())
        for task in found_tasks:
            events += [e for e in _task_events(task) if e.kind in wanted]
    actions = [a for a, kind in _ACTION_KINDS.items() if kind in wanted]
    if actions:
        audit = AuditEvent.objects.filter(
            object_type="secret", object_id=str(secret.pk), action__in=actions
        ).order_by("-created_at", "-id")[:AUDIT_EVENTS_SHOWN]
        events += [_audit_event(e) for e in audit]
    epoch = timezone.now().replace(year=1970)
    events.sort(key=lambda e: e.at or epoch, reverse=True)
    return events
