"""Create a Code Engine job from a job_config.json and a command (for scripted setups).

    manage.py create_code_engine_job --project credentials-providers --name my-provider \\
        --command "my-provider --verbose" --job-config job_config.json --env CE_REMOVE_COMPLETED_JOBS=3d

The same service as the console's Create job page checks everything: the command policy
(README, "Code Engine jobs"), the declarations of the file (IBM's job generator rules), the
variables. It acts as Secrets Manager itself (the shell's user already controls this host).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from console.errors import ServiceError
from console.identity import SYSTEM
from engines_app.providers.code_engine import inspect_job
from engines_app.providers.embedded.code_engine import commands, definitions, services
from engines_app.providers.embedded.code_engine.models import Project
from engines_app.regions import REGIONS


def _variable(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise CommandError(f"--env takes NAME=VALUE, got {text!r}")
    return name, value


def _errors(exc: ValidationError) -> str:
    if not hasattr(exc, "error_dict"):
        return "\n".join(exc.messages)
    lines: list[str] = []
    for field, messages in exc.message_dict.items():
        label = {"job_config": "--job-config", "env": "variables"}.get(field, f"--{field}")
        lines.extend(f"{label}: {message}" for message in messages)
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Create a Code Engine job from a command and (optionally) a job_config.json."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", required=True, help="project name (or id)")
        parser.add_argument(
            "--region", default="us-south", choices=REGIONS, help="the project's region"
        )
        parser.add_argument(
            "--create-project", action="store_true", help="create the project if it is missing"
        )
        parser.add_argument("--name", required=True, help="job name")
        parser.add_argument(
            "--command",
            required=True,
            dest="job_command",
            help=f"what the job runs, e.g. 'NAME --flag' (in SM_JOBS_DIR) or '{commands.PYTHON} "
            f"{commands.SAMPLE_JOBS_DIR}/token_provider.py'",
        )
        parser.add_argument("--job-config", type=Path, help="path of a job_config.json")
        parser.add_argument(
            "--env", action="append", default=[], type=_variable, help="NAME=VALUE, repeatable"
        )

    def handle(
        self,
        *args: Any,
        project: str,
        region: str,
        create_project: bool,
        name: str,
        job_command: str,
        job_config: Path | None,
        env: list[tuple[str, str]],
        **options: Any,
    ) -> None:
        data = None
        if job_config is not None:
            try:
                data = job_config.read_bytes()
            except OSError as exc:
                raise CommandError(
                    f"--job-config: cannot read {job_config}: {exc.strerror}"
                ) from None
        try:
            found = self._project(project, region, create=create_project)
            job = definitions.job_define(
                actor=SYSTEM,
                project_id=found.pk,
                name=name,
                command=commands.parse(job_command),
                env=dict(env),
                job_config=data,
            )
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from None
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        schema, _ = inspect_job({k: str(v) for k, v in job.env.items()})
        parameters = len(schema["parameters"]) if schema else 0
        credentials = len(schema["credentials"]) if schema else 0
        self.stdout.write(
            f"Created job {job.name} in project {found.name} ({found.region}, {found.pk}): "
            f"{parameters} parameter(s), {credentials} credential(s), "
            f"{len(job.env) + len(job.secret_names)} variable(s)."
        )

    def _project(self, name_or_id: str, region: str, *, create: bool) -> Project:
        found = (
            Project.objects.filter(pk=name_or_id).first()
            or Project.objects.filter(name=name_or_id, region=region).first()
        )
        if found is not None:
            return found
        if not create:
            raise CommandError(
                f"no Code Engine project {name_or_id!r} in {region} (add --create-project to create it)"
            )
        return services.project_create(actor=SYSTEM, name=name_or_id, region=region)
