"""The one check every fault test ends with: nothing lost, nothing duplicated, nothing left open.

`assert_consistent(secret)` reads a secret back from the database and asserts the three promises
of issue 14's "Faults: nothing lost" for it:

1. Every task ended (credentials_created, credentials_deleted or failed), or is a retry that the
   rules schedule: the delete-retry ladder retries a failed delete task (sm-api.md §5.7); create
   failures are never retried by themselves, only by a person (the inbox's Retry). Each task went
   queued → (processing →) its end, once, and its job run (if it had one) ended too.
2. No version is lost or duplicated: serials are unique and consecutive, exactly one current
   (the newest), versions_total counts them, and for a custom credentials secret every
   credentials_created task stored exactly one version of its own, with distinct credentials ids.
   Every payload the secret still keeps opens under the root keys at hand.
3. The secret's state agrees with the rest: pre_activation has no version, active has a current
   version with its payload, and a custom credentials secret is active exactly when one of its
   create tasks stored credentials.

It returns what it read, so a test can then say what the outcome should have been.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.apps import apps

from console import crypto, validation
from console.models import SealedFields
from engines_app.providers.embedded.code_engine.models import JobRun, RunStatus
from secrets_app.models import (
    Secret,
    SecretState,
    SecretTask,
    SecretType,
    SecretVersion,
    TaskResolution,
    TaskStatus,
    TaskType,
    VersionAlias,
)
from secrets_app.services.versions import payload_open

OPEN = (TaskStatus.QUEUED, TaskStatus.PROCESSING)
TERMINAL = (TaskStatus.CREDENTIALS_CREATED, TaskStatus.CREDENTIALS_DELETED, TaskStatus.FAILED)


@dataclass(frozen=True)
class Consistent:
    """What assert_consistent read: the secret, its tasks oldest first, its versions by serial."""

    secret: Secret
    tasks: list[SecretTask]
    versions: list[SecretVersion]

    @property
    def statuses(self) -> list[str]:
        return [t.status for t in self.tasks]

    @property
    def codes(self) -> list[str]:
        return [t.errors[0]["code"] if t.errors else "" for t in self.tasks]

    @property
    def current(self) -> SecretVersion | None:
        return next((v for v in self.versions if v.alias == VersionAlias.CURRENT), None)


def _history(task: SecretTask) -> list[str]:
    return [str(step.get("status")) for step in task.status_history]


def _check_task(task: SecretTask, by_id: dict[str, SecretTask]) -> None:
    history = _history(task)
    assert history and history[0] == TaskStatus.QUEUED, f"{task.pk} began as {history}"
    assert history[-1] == task.status, f"{task.pk} is {task.status}, its history says {history}"
    middle = history[1:-1] if task.status in TERMINAL else history[1:]
    assert middle in ([], [TaskStatus.PROCESSING]), f"{task.pk} went {history}"
    assert sum(step in TERMINAL for step in history) == (task.status in TERMINAL), (
        f"{task.pk} ended more than once: {history}"
    )
    if task.status in OPEN:
        parent = by_id.get(task.retry_of_id or "")
        assert (
            parent is not None
            and parent.type == TaskType.DELETE_CREDENTIALS
            and parent.status == TaskStatus.FAILED
        ), f"{task.pk} is still {task.status}, and it is no scheduled retry of a failed deletion"
    if task.status == TaskStatus.FAILED:
        assert task.errors and all(e.get("code") and e.get("description") for e in task.errors), (
            f"{task.pk} failed without saying why: {task.errors}"
        )
    retries = [t for t in by_id.values() if t.retry_of_id == task.pk]
    if retries and task.type == TaskType.CREATE_CREDENTIALS:
        assert task.resolution in (TaskResolution.RETRIED, TaskResolution.SUCCEEDED_LATER), (
            f"{task.pk} was retried by itself"
        )
    assert len(retries) <= 1, f"{task.pk} was retried {len(retries)} times at once"
    if TaskStatus.PROCESSING in history and task.status in TERMINAL:
        open_runs = JobRun.objects.filter(
            name=task.pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
        )
        assert not open_runs.exists(), f"the job run of {task.pk} never ended"


def _check_versions(secret: Secret, versions: list[SecretVersion]) -> None:
    assert secret.versions_total == len(versions), (
        f"versions_total is {secret.versions_total}, {len(versions)} versions are kept"
    )
    serials = [v.serial for v in versions]
    if not versions:
        return
    assert serials == list(range(serials[0], serials[0] + len(serials))), f"serials {serials}"
    aliases = Counter(v.alias for v in versions)
    assert aliases[VersionAlias.CURRENT] == 1, f"{aliases[VersionAlias.CURRENT]} current versions"
    assert aliases[VersionAlias.PREVIOUS] <= 1, "more than one previous version"
    current = next(v for v in versions if v.alias == VersionAlias.CURRENT)
    assert current.serial == serials[-1], "the current version is not the newest"
    for version in versions:
        if version.alias is None:
            assert not version.payload_available, f"v{version.serial} kept a payload"
        if version.payload_available:
            payload_open(version)  # raises if it does not open under the root keys at hand


def _check_custom_credentials(
    secret: Secret, tasks: list[SecretTask], versions: list[SecretVersion]
) -> None:
    created = [
        t
        for t in tasks
        if t.type == TaskType.CREATE_CREDENTIALS and t.status == TaskStatus.CREDENTIALS_CREATED
    ]
    stored = [t.secret_version_ref for t in created]
    assert None not in stored, "a task reported credentials_created without storing a version"
    assert len(set(stored)) == len(stored), "two tasks claim one version"
    kept = {v.pk for v in versions}
    if len(versions) < validation.VERSIONS_KEPT:  # else the oldest versions were pruned
        assert len(created) == len(versions), (
            f"{len(created)} create tasks stored credentials, {len(versions)} versions exist"
        )
        assert kept == set(stored), "the versions and the tasks that stored them differ"
    else:
        assert kept <= set(stored), "a version that no task stored"
    ids = [v.credentials_id for v in versions]
    assert len(set(ids)) == len(ids), f"one credentials id stored twice: {ids}"
    if secret.state in (SecretState.PRE_ACTIVATION, SecretState.ACTIVE):
        assert (secret.state == SecretState.ACTIVE) == bool(created), (
            f"state {secret.state} with {len(created)} stored credentials"
        )


def assert_consistent(secret: Secret | Any) -> Consistent:
    """Assert the three promises for one secret (see the module's docstring); what it read."""
    secret = Secret.all_objects.get(pk=getattr(secret, "pk", secret))
    tasks = list(SecretTask.objects.filter(secret=secret).order_by("creation_date", "pk"))
    by_id = {t.pk: t for t in tasks}
    for task in tasks:
        _check_task(task, by_id)
    versions = list(SecretVersion.objects.filter(secret=secret).order_by("serial"))
    _check_versions(secret, versions)
    if secret.state == SecretState.PRE_ACTIVATION:
        assert not versions, "a secret in pre_activation has versions"
    if secret.state == SecretState.ACTIVE:
        current = next(v for v in versions if v.alias == VersionAlias.CURRENT)
        assert current.payload_available, "an active secret whose current version has no payload"
    if secret.secret_type == SecretType.CUSTOM_CREDENTIALS:
        _check_custom_credentials(secret, tasks, versions)
    else:
        assert not tasks, "only custom credentials secrets have tasks"
    return Consistent(secret=secret, tasks=tasks, versions=versions)


def sealed_rows() -> list[SealedFields]:
    """Every row of every model that holds an envelope-encrypted value."""
    models = [m for m in apps.get_models() if issubclass(m, SealedFields)]
    return [row for m in models for row in m._default_manager.exclude(sealed_key_id="")]


def open_every_sealed_value() -> dict[str, bytes]:
    """Open every sealed value under the root keys at hand (raises if one does not open);
    the plaintexts by row, for comparing before and after."""
    opened = {}
    for row in sealed_rows():
        sealed = row.get_sealed()
        assert sealed is not None
        opened[row.seal_context()] = crypto.open_sealed(sealed, context=row.seal_context())
    return opened
