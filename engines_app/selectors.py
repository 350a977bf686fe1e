"""What the Secrets engines pages show, read from the models and the providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from console.errors import NotFoundError
from engines_app import schema as schemas
from engines_app.forms import TaskTimeoutForm
from engines_app.models import Configuration
from engines_app.panels import configuration_panel_context
from engines_app.permissions import can_manage_engines
from engines_app.providers.access import require_configuration_read
from engines_app.providers.code_engine import get_code_engine


@dataclass(frozen=True)
class SchemaRow:
    name: str
    env_name: str
    kind: str
    type: str
    required: bool
    format: str


def schema_rows(schema: dict[str, Any], kind: str) -> list[SchemaRow]:
    rows = []
    for decl in schemas.declarations(schema, kind):
        shown = f"enum: {' | '.join(decl.options)}" if decl.type == "enum" else decl.type
        env_name = f"SM_{decl.name.upper()}_VALUE" if kind == "parameter" else decl.env_name
        rows.append(SchemaRow(decl.name, env_name, kind, shown, decl.required, decl.format))
    return rows


def configuration_page_context(
    request: HttpRequest, config: Configuration, **overrides: Any
) -> dict[str, Any]:
    # Every view that renders the page checks this first; checked here again for the views
    # that re-render it on an error, so none can show it to a stranger.
    require_configuration_read(request.user)
    try:
        job = get_code_engine().get_job(
            project_id=config.code_engine_project_id, job_name=config.code_engine_job_name
        )
        project_name, job_missing = job.project_name, False
    except NotFoundError:
        project_name, job_missing = "", True
    context: dict[str, Any] = {
        "config": config,
        "can_manage": can_manage_engines(request.user),
        "project_name": project_name,
        "job_missing": job_missing,
        "parameters": schema_rows(config.schema, "parameter"),
        "credentials": schema_rows(config.schema, "credential"),
        "timeout_form": TaskTimeoutForm(initial={"task_timeout": config.task_timeout}),
        "delete_error": "",
        # The secrets using it, its IAM credentials secret, and Test configuration.
        **configuration_panel_context(request, config),
    }
    context.update(overrides)
    return context
