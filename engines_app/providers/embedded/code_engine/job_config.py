"""IBM's job generator file, job_config.json, read into a job's SMIN_/SMOUT_ declarations.

The file (reference/sm-api.md §5.2) is `{"job_env_variables": [{"name": ..., "value": ...}]}`.
This module checks its structure; the declaration rules themselves (names, the key:value
attributes, the types, at least one required output, the reserved SM_* names) are those that
schemas are derived with, reached through the Code Engine interface's job inspector. Every
problem is reported at once, each as its own message on the `job_config` field.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError

from engines_app.providers.code_engine import inspect_job_variables

FIELD = "job_config"
MAX_BYTES = 64 * 1024
MAX_VARIABLES = 100
DECLARATION_PREFIXES = ("SMIN_", "SMOUT_")


def _fail(*messages: str) -> ValidationError:
    return ValidationError({FIELD: list(messages)})


def _load(data: bytes) -> Any:
    if len(data) > MAX_BYTES:
        raise _fail(f"job_config.json is larger than {MAX_BYTES // 1024} KiB.")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _fail("job_config.json is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise _fail(
            f"job_config.json is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None


def _entries(document: Any) -> list[Any]:
    entries = document.get("job_env_variables") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise _fail(
            'job_config.json must be an object with a "job_env_variables" list, as IBM\'s job '
            'generator writes it: {"job_env_variables": [{"name": "SMIN_...", "value": "type:string, required:true"}]}.'
        )
    if not entries:
        raise _fail(
            "job_env_variables is empty: declare the job's SMIN_ inputs and SMOUT_ outputs."
        )
    if len(entries) > MAX_VARIABLES:
        raise _fail(f"job_env_variables has {len(entries)} entries; at most {MAX_VARIABLES}.")
    return entries


def declarations(data: bytes) -> dict[str, str]:
    """The declarations of a job_config.json, checked with the official tools' rules."""
    problems: list[str] = []
    found: dict[str, str] = {}
    for index, entry in enumerate(_entries(_load(data))):
        name = entry.get("name") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            problems.append(
                f"job_env_variables[{index}] must be an object with a name and a value, both strings."
            )
        elif name in found:
            problems.append(f"{name}: declared twice.")
        else:
            found[name] = value
    inspection = inspect_job_variables(found)
    for name in found:
        flagged = inspection.by_variable.get(name)
        if flagged:
            problems.extend(flagged)
        elif not name.startswith(DECLARATION_PREFIXES):
            problems.append(
                f"{name}: job_config.json declares only inputs and outputs; names must be SMIN_ "
                "or SMOUT_ followed by upper-case letters, digits and underscores."
            )
    problems.extend(inspection.general)
    if problems:
        raise _fail(*problems)
    return found
