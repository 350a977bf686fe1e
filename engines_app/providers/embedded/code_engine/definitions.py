"""Projects and job definitions as people change them: the Code Engine console pages and
`manage.py create_code_engine_job`.

Every writer checks that the actor may manage Code Engine (the Manager role on the instance),
applies the command policy (commands.py) to the command, and checks the job's variables:
their names and sizes, CE_REMOVE_COMPLETED_JOBS, and the SMIN_/SMOUT_ declarations with the
rules that configurations derive their schema with (so a job that no configuration could use is
refused). A variable whose name marks it as secret is sealed (services.is_secret_env_name); no
message here ever quotes a variable's value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from console.audit import audit_record
from console.errors import ConflictError, NotFoundError
from console.identity import Actor
from engines_app.providers.code_engine import inspect_job_variables, job_users
from engines_app.providers.embedded.code_engine import commands, services
from engines_app.providers.embedded.code_engine import job_config as job_config_file
from engines_app.providers.embedded.code_engine.models import Job, Project, RunStatus

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_NAME_MAX = 128
ENV_VALUE_MAX = 32 * 1024
ENV_VARIABLES_MAX = 100
RETENTION_SETTING = "CE_REMOVE_COMPLETED_JOBS"
RETENTION_VALUE_RE = re.compile(r"^(IMMEDIATELY|[1-9][0-9]{0,5}[mhd])$")
DECLARATION_PREFIXES = ("SMIN_", "SMOUT_")


class DefinitionError(ValidationError):
    """Field errors (name, command, job_config, env) plus the problems of each variable."""

    def __init__(
        self, fields: dict[str, list[str]], variables: dict[str, list[str]] | None = None
    ) -> None:
        self.variables = dict(variables or {})
        self.env_general = list(fields.get("env", []))
        merged = {key: list(messages) for key, messages in fields.items()}
        for messages in self.variables.values():
            merged.setdefault("env", []).extend(messages)
        super().__init__(merged)


def _retention_ok(value: str) -> bool:
    """IMMEDIATELY, or a duration of at most services.RETENTION_MAX (365 days)."""
    if not RETENTION_VALUE_RE.match(value):
        return False
    if value == "IMMEDIATELY":
        return True
    unit = {"m": "minutes", "h": "hours", "d": "days"}[value[-1]]
    return timedelta(**{unit: int(value[:-1])}) <= services.RETENTION_MAX


def check_env(
    env: dict[str, str], *, declarations: bool = True
) -> tuple[dict[str, list[str]], list[str]]:
    """(problems by variable, problems of the whole set) of a job's complete variables."""
    variables: dict[str, list[str]] = {}
    general: list[str] = []
    if len(env) > ENV_VARIABLES_MAX:
        general.append(f"A job has at most {ENV_VARIABLES_MAX} environment variables.")
    for name, value in env.items():
        if not ENV_NAME_RE.match(name) or len(name) > ENV_NAME_MAX:
            problem = (
                "a variable name is letters, digits and underscores, does not start with a "
                f"digit, and is at most {ENV_NAME_MAX} characters long."
            )
        elif len(value) > ENV_VALUE_MAX:
            problem = f"the value is longer than {ENV_VALUE_MAX // 1024} KiB."
        elif "\x00" in value:
            problem = "the value contains a NUL character."
        elif name == RETENTION_SETTING and not _retention_ok(value):
            problem = (
                "IMMEDIATELY removes each run when it ends; a duration keeps it (and its logs) "
                "that long: minutes, hours or days up to 365 days, e.g. 30m, 12h or 3d."
            )
        else:
            continue
        variables[name] = [f"{name}: {problem}"]
    if declarations:
        inspection = inspect_job_variables({k: v for k, v in env.items() if k not in variables})
        for name, problems in inspection.by_variable.items():
            variables.setdefault(name, []).extend(problems)
        general.extend(inspection.general)
    return variables, general


def _with_declarations(env: dict[str, str], declared: dict[str, str]) -> dict[str, str]:
    """A job_config.json is the job's whole contract: it replaces every SMIN_/SMOUT_ variable."""
    if not declared:
        return dict(env)
    kept = {k: v for k, v in env.items() if not k.startswith(DECLARATION_PREFIXES)}
    return {**kept, **declared}


def _read_job_config(data: bytes | None, fields: dict[str, list[str]]) -> dict[str, str] | None:
    """The file's declarations, {} without a file, None (and a field error) if it is invalid."""
    if data is None:
        return {}
    try:
        return job_config_file.declarations(data)
    except ValidationError as exc:
        fields[job_config_file.FIELD] = exc.message_dict[job_config_file.FIELD]
        return None


def _check_command(command: list[str], fields: dict[str, list[str]]) -> list[str]:
    try:
        return commands.check(command)
    except ValidationError as exc:
        fields["command"] = exc.message_dict["command"]
        return command


def project_get(project_id: str) -> Project:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFoundError(f"Code Engine project {project_id} does not exist.", field="project_id")
    return project


@transaction.atomic
def project_delete(*, actor: Actor, project_id: str) -> None:
    """Delete an empty project; one that still has jobs is refused, naming them."""
    services.authorize_manage(actor)
    project = project_get(project_id)
    jobs = list(project.jobs.order_by("name").values_list("name", flat=True))
    if jobs:
        raise ConflictError(
            f"Project {project.name} still has {len(jobs)} job{'s' if len(jobs) > 1 else ''}: "
            f"{', '.join(jobs)}. Delete {'them' if len(jobs) > 1 else 'it'} first."
        )
    project.delete()
    audit_record(
        actor=actor,
        action="code_engine.project.delete",
        object_type="ce_project",
        object_id=project_id,
        object_name=project.name,
    )


@transaction.atomic
def job_define(
    *,
    actor: Actor,
    project_id: str,
    name: str,
    command: list[str],
    env: dict[str, str],
    job_config: bytes | None = None,
) -> Job:
    """Create a job from a person's command and variables, and optionally a job_config.json,
    whose declarations replace any SMIN_/SMOUT_ variables given. Every problem at once."""
    services.authorize_manage(actor)
    project = project_get(project_id)
    fields: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not services.JOB_NAME_RE.match(name) or len(name) > 63:
        fields["name"] = [
            "A job name is lowercase letters, digits and dashes (not at either end), at most 63 characters."
        ]
    elif Job.objects.filter(project=project, name=name).exists():
        fields["name"] = [f"Project {project.name} already has a job named {name}."]
    argv = _check_command(command, fields)
    declared = _read_job_config(job_config, fields)
    final = _with_declarations(env, declared or {})
    variables, general = check_env(final, declarations=declared is not None)
    if general:
        fields["env"] = general
    if fields or variables:
        raise DefinitionError(fields, variables)
    return services.job_create(actor=actor, project=project, name=name, command=argv, env=final)


@transaction.atomic
def job_update_command(*, actor: Actor, project_id: str, job_name: str, command: list[str]) -> Job:
    services.authorize_manage(actor)
    job = services.job_get(project_id=project_id, job_name=job_name)
    fields: dict[str, list[str]] = {}
    argv = _check_command(command, fields)
    if fields:
        raise DefinitionError(fields)
    if argv != job.command:
        job.command = argv
        job.save(update_fields=["command", "updated_at"])
        audit_record(
            actor=actor,
            action="code_engine.job.update",
            object_type="ce_job",
            object_id=str(job.pk),
            object_name=job.name,
            detail={"changed": ["command"]},
        )
    return job


@dataclass(frozen=True)
class Deployment:
    job: Job
    changed: list[str]  # names of the variables added or given a new value
    removed: list[str]

    @property
    def retention(self) -> str:
        return str(self.job.env.get(RETENTION_SETTING, "IMMEDIATELY"))


@transaction.atomic
def job_deploy_env(
    *,
    actor: Actor,
    project_id: str,
    job_name: str,
    changes: dict[str, str],
    remove: Iterable[str] = (),
    job_config: bytes | None = None,
) -> Deployment:
    """Apply edits to a job's variables (the Environment variables tab's Deploy).

    Only what changed is sent: variables that others added in the meantime (a configuration's
    SM_ACCESS_APIKEY_REF, say) stay. A secret variable keeps its sealed value unless `changes`
    holds a new one. Later runs use the new variables; CE_REMOVE_COMPLETED_JOBS decides how long
    each run, and its logs, is kept after it ends.
    """
    services.authorize_manage(actor)
    found = services.job_get(project_id=project_id, job_name=job_name)
    job = Job.objects.select_for_update().select_related("project").get(pk=found.pk)
    current = services.job_runtime_env(job)
    removed = sorted(set(remove) & set(current))
    env = {k: v for k, v in current.items() if k not in removed}
    env.update(changes)
    fields: dict[str, list[str]] = {}
    declared = _read_job_config(job_config, fields)
    env = _with_declarations(env, declared or {})
    variables, general = check_env(env, declarations=declared is not None)
    if general:
        fields["env"] = general
    if fields or variables:
        raise DefinitionError(fields, variables)
    changed = sorted(k for k, v in env.items() if current.get(k) != v)
    removed = sorted(set(current) - set(env))
    if changed or removed:
        services.store_env(job, env)
        job.save(update_fields=["env", "secret_names", *services.SEALED_COLUMNS, "updated_at"])
        audit_record(
            actor=actor,
            action="code_engine.job.deploy",
            object_type="ce_job",
            object_id=str(job.pk),
            object_name=job.name,
            detail={"changed": changed, "removed": removed},  # names only, never values
        )
    return Deployment(job=job, changed=changed, removed=removed)


@transaction.atomic
def job_delete(*, actor: Actor, project_id: str, job_name: str) -> None:
    """Delete a job and its runs; refused while a configuration uses it or a run is going."""
    services.authorize_manage(actor)
    job = services.job_get(project_id=project_id, job_name=job_name)
    users = job_users(project_id=project_id, job_name=job_name)
    if users:
        raise ConflictError(
            f"Job {job.name} is used by configuration {', '.join(u.label for u in users)}: "
            "delete the configuration first (a job serves one configuration)."
        )
    if job.runs.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]).exists():
        raise ConflictError(f"A run of job {job.name} is still going: wait until it ends.")
    job_pk = job.pk
    job.delete()
    audit_record(
        actor=actor,
        action="code_engine.job.delete",
        object_type="ce_job",
        object_id=str(job_pk),
        object_name=job_name,
        detail={"project_id": project_id},
    )
