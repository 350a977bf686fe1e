"""Every API operation that takes a body, a query or a header, as data: a request that the API
accepts, and for its query and header parameters the bad values to send. test_api.py derives
the bad bodies from the valid one (every leaf of it, mutated) and checks that the table covers
every such operation of /api/v2/openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engines_app.providers.embedded import seed as embedded_seed
from engines_app.providers.embedded.code_engine import services as ce
from engines_app.providers.embedded.code_engine.models import Job, Project
from secrets_app import seed
from secrets_app.models import Secret, SecretTask, SecretType, TaskStatus
from tests.badinput.conftest import ADMIN, World
from tests.badinput.kit import COMBINING, NUL, OVERLONG, RTL

V2 = "/api/v2"
# Query values that no list takes: out of range, not a number, a NUL, longer than any limit.
PAGING = {
    "offset": ("-1", "ten", "10000001", "9" * 5000),
    "limit": ("0", "1001", "ten", "9" * 5000),
}
TEXT_QUERY = (NUL, "a" * 1000)
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Op:
    operation_id: str
    method: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]] | None = None
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # parameter -> bad values
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    content_type: str = "application/json"
    # Objects in a body whose keys and values are the caller's own (metadata, attributes):
    # within them only text that nothing can store is bad.
    free_form: frozenset[str] = frozenset(
        {"custom_metadata", "version_custom_metadata", "attributes", "payload"}
    )
    # Bodies (keys) whose strings are identifiers, so that RTL and combining marks are bad too.
    names: frozenset[str] = frozenset({"name", "secret_group_id", "configuration", "ttl"})
    # Run first: what the valid request needs that the world has not.
    prepare: Callable[[World], None] | None = None
    # Run before the bad requests: what a refusal records by design, done beforehand.
    expected_on_refusal: Callable[[World], None] | None = None


def _arbitrary(w: World) -> str:
    return str(w.arbitrary.pk)


def _version(w: World, alias: str = "current") -> str:
    return str(w.version(w.arbitrary, alias).pk)


def queued_task(w: World) -> SecretTask:
    """The demo certificate's creation task, which no job has run (no worker in these tests)."""
    return SecretTask.objects.get(
        secret__name="demo-example-com-certificate", status=TaskStatus.QUEUED
    )


def _new_job(w: World) -> dict[str, Any]:
    """A configuration body for a fresh job of the seeded (authorized) project."""
    project = Project.objects.get(pk=w.config.code_engine_project_id)
    token = next(job for job in embedded_seed.SAMPLE_JOBS if job.name == "token-provider")
    if not Job.objects.filter(project=project, name="api-token-job").exists():
        ce.job_create(
            actor=ADMIN,
            project=project,
            name="api-token-job",
            command=["{python}", "{sample_jobs_dir}/" + token.script],
            env=dict(token.env),
        )
    key = Secret.objects.get(secret_type=SecretType.IAM_CREDENTIALS, name=seed.JOB_KEY_SECRET)
    return {
        "config_type": "custom_credentials_configuration",
        "name": "api-configuration",
        "code_engine": {
            "project_id": project.pk,
            "job_name": "api-token-job",
            "region": "us-south",
        },
        "api_key_ref": str(key.pk),
        "task_timeout": "15m",
    }


def _refused_callback(w: World) -> None:
    """A callback refused with a 4xx marks its task no_retry (sm-api.md §5.6: the job must not
    send it again, and the retry sweep leaves the task alone): the one change a refusal makes."""
    SecretTask.objects.filter(pk=queued_task(w).pk).update(no_retry=True)


def _disposable_configuration(w: World) -> None:
    """A configuration that no secret uses, so that deleting it succeeds."""
    from engines_app import services as engine_services

    body = _new_job(w)
    engine_services.custom_configuration_create(
        actor=ADMIN,
        name="api-disposable",
        region="us-south",
        project_id=body["code_engine"]["project_id"],
        job_name=body["code_engine"]["job_name"],
        api_key_ref=body["api_key_ref"],
    )


LOCKS = {"locks": [{"name": "api-lock", "description": "held", "attributes": {"k": "v"}}]}
LOCK_QUERY = {**PAGING, "sort": ("bad sort", OVERLONG[:5000]), "search": TEXT_QUERY}
CONFIG_TYPE = {"X-Sm-Accept-Configuration-Type": ("nope", RTL, "a" * 1000)}

OPS: tuple[Op, ...] = (
    Op(
        "create_secret_group",
        "POST",
        lambda w: f"{V2}/secret_groups",
        lambda w: {"name": "api-group", "description": "made by a test"},
    ),
    Op(
        "update_secret_group",
        "PATCH",
        lambda w: f"{V2}/secret_groups/{w.group.pk}",
        lambda w: {"name": "api-renamed", "description": "renamed"},
        content_type=MERGE_PATCH,
    ),
    Op(
        "create_secret",
        "POST",
        lambda w: f"{V2}/secrets",
        lambda w: {
            "secret_type": "arbitrary",
            "name": "api-arbitrary",
            "description": "made by a test",
            "secret_group_id": str(w.group.pk),
            "labels": ["team-a", "us-south"],
            "custom_metadata": {"owner": "team-a"},
            "version_custom_metadata": {"reason": "initial"},
            "expiration_date": "2039-01-01T00:00:00Z",
            "payload": "the-value",
        },
    ),
    Op(
        "create_secret#custom_credentials",
        "POST",
        lambda w: f"{V2}/secrets",
        lambda w: {
            "secret_type": "custom_credentials",
            "name": "api-custom",
            "configuration": "token-provider",
            "secret_group_id": str(w.custom.secret_group_id),
            "parameters": {"user_name": "alice", "scope": "user", "expires": 600},
            "ttl": "30d",
            "rotation": {"auto_rotate": True, "interval": 7, "unit": "day"},
        },
    ),
    Op(
        "create_secret#iam_credentials",
        "POST",
        lambda w: f"{V2}/secrets",
        lambda w: {
            "secret_type": "iam_credentials",
            "name": "api-iam",
            "ttl": "1d",
            "service_id": w.service_id.pk,
            "reuse_api_key": True,
        },
        names=frozenset({"name", "ttl", "service_id"}),
    ),
    Op(
        "update_secret_metadata",
        "PATCH",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/metadata",
        lambda w: {
            "name": "api-renamed-secret",
            "description": "edited",
            "labels": ["team-b"],
            "custom_metadata": {"owner": "team-b"},
            "expiration_date": "2039-06-01T00:00:00Z",
        },
        content_type=MERGE_PATCH,
    ),
    Op(
        "update_secret_metadata#custom_credentials",
        "PATCH",
        lambda w: f"{V2}/secrets/{w.custom.pk}/metadata",
        lambda w: {
            "ttl": "20d",
            "rotation": {"auto_rotate": True, "interval": 5, "unit": "day"},
            "parameters": {"user_name": "demo-user", "expires": 300},
        },
        content_type=MERGE_PATCH,
    ),
    Op(
        "create_secret_version",
        "POST",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/versions",
        lambda w: {"payload": "third-value", "version_custom_metadata": {"reason": "rotated"}},
    ),
    Op(
        "update_secret_version_metadata",
        "PATCH",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/versions/{_version(w)}/metadata",
        lambda w: {"version_custom_metadata": {"reason": "reviewed"}},
        content_type=MERGE_PATCH,
    ),
    Op(
        "create_secret_locks_bulk",
        "POST",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/locks_bulk",
        lambda w: LOCKS,
        query={"mode": ("nope", NUL, RTL)},
    ),
    Op(
        "create_secret_version_locks_bulk",
        "POST",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/versions/{_version(w, 'previous')}/locks_bulk",
        lambda w: LOCKS,
        query={"mode": ("nope", NUL, RTL)},
    ),
    Op(
        "replace_secret_task",
        "PUT",
        lambda w: f"{V2}/secrets/{queued_task(w).secret_id}/tasks/{queued_task(w).pk}",
        lambda w: {
            "status": "failed",
            "errors": [{"code": "ERR10004", "description": "cannot create the certificate"}],
        },
        names=frozenset(),
        expected_on_refusal=_refused_callback,
    ),
    Op("create_configuration", "POST", lambda w: f"{V2}/configurations", _new_job),
    Op(
        "update_configuration",
        "PATCH",
        lambda w: f"{V2}/configurations/{w.config.name}",
        lambda w: {"task_timeout": "20m"},
        headers=CONFIG_TYPE,
        content_type=MERGE_PATCH,
    ),
    # Query and header parameters only
    Op(
        "list_secrets",
        "GET",
        lambda w: f"{V2}/secrets",
        query={
            **PAGING,
            "sort": ("bad sort", "-no_such_field", OVERLONG[:5000]),
            "search": (*TEXT_QUERY, "a"),
            "groups": (NUL, "not-a-group", "a" * 1000),
            "secret_types": ("nope", NUL),
            "match_all_labels": (NUL, "a" * 1000, "x"),
        },
    ),
    Op(
        "delete_secret",
        "DELETE",
        lambda w: f"{V2}/secrets/{w.unlocked.pk}",
        query={"force_delete": ("maybe", NUL, "2")},
    ),
    Op(
        "list_secrets_locks",
        "GET",
        lambda w: f"{V2}/secrets_locks",
        query={**PAGING, "search": TEXT_QUERY, "groups": (NUL, "not-a-group")},
    ),
    Op(
        "list_secret_locks",
        "GET",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/locks",
        query=LOCK_QUERY,
    ),
    Op(
        "delete_secret_locks_bulk",
        "DELETE",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/locks_bulk",
        query={"name": (NUL, OVERLONG[:5000], RTL, COMBINING)},
    ),
    Op(
        "list_secret_version_locks",
        "GET",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/versions/{_version(w)}/locks",
        query=LOCK_QUERY,
    ),
    Op(
        "delete_secret_version_locks_bulk",
        "DELETE",
        lambda w: f"{V2}/secrets/{w.arbitrary.pk}/versions/{_version(w)}/locks_bulk",
        query={"name": (NUL, OVERLONG[:5000], RTL, COMBINING)},
    ),
    Op(
        "list_configurations",
        "GET",
        lambda w: f"{V2}/configurations",
        query={**PAGING, "sort": ("bad sort",), "search": TEXT_QUERY, "secret_types": ("nope",)},
    ),
    Op(
        "get_configuration",
        "GET",
        lambda w: f"{V2}/configurations/{w.config.name}",
        headers=CONFIG_TYPE,
    ),
    Op(
        "delete_configuration",
        "DELETE",
        lambda w: f"{V2}/configurations/api-disposable",
        headers=CONFIG_TYPE,
        prepare=_disposable_configuration,
    ),
)
