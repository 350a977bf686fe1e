"""Custom credentials schemas: derived from a job's SMIN_/SMOUT_ variables (sm-api.md §5.2, §5.3).

A job declares its inputs and outputs as environment variables whose values are attribute lists,
e.g. SMIN_KEY_ALGO="type:enum[RSA|ECDSA], required:false". A configuration stores the derived
schema; secrets validate their parameters, and job callbacks their payload, against JSON Schemas
generated from it.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator

DECLARATION_NAME_RE = re.compile(r"^(SMIN_|SMOUT_)[A-Z0-9_]+$")
ENUM_RE = re.compile(r"^enum\[(.*)\]$")
SCALAR_TYPES = {"string", "integer", "boolean", "secret_id"}
OUTPUT_TYPES = {"string", "integer", "boolean"}
OUTPUT_STRING_MAX = 100_000
# A string parameter's value, which reaches the job as an environment variable (Linux takes at
# most 128 KiB for one); the console's forms take the same.
PARAMETER_STRING_MAX = 10_000
UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Variables the job protocol sets on every run; a job may not declare them itself (§5.4).
RESERVED = {
    "SM_ACTION",
    "SM_TRIGGER",
    "SM_INSTANCE_URL",
    "SM_SECRET_TASK_ID",
    "SM_SECRET_ID",
    "SM_SECRET_NAME",
    "SM_SECRET_GROUP_ID",
    "SM_CREDENTIALS_ID",
    "SM_SECRET_VERSION_ID",
    "SM_ACCESS_APIKEY",
}


@dataclass(frozen=True)
class Declaration:
    env_name: str
    kind: str  # "parameter" | "credential"
    name: str
    type: str  # string | integer | boolean | secret_id | enum
    options: tuple[str, ...]
    required: bool
    format: str


def _error(env_name: str, message: str) -> ValidationError:
    return ValidationError(f"{env_name}: {message}", code="invalid_declaration")


def parse_declaration(env_name: str, value: str) -> Declaration:
    """Parse one SMIN_/SMOUT_ variable with the official tools' rules."""
    if not DECLARATION_NAME_RE.match(env_name):
        raise _error(
            env_name,
            "names must be SMIN_ or SMOUT_ followed by upper-case letters, digits and underscores.",
        )
    kind = "parameter" if env_name.startswith("SMIN_") else "credential"
    attrs: dict[str, str] = {}
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition(":")
        key, val = key.strip(), val.strip()
        if not sep or not key or not val:
            raise _error(
                env_name,
                f"{part!r} is not a key:value attribute (e.g. type:string, required:true).",
            )
        if key not in {"type", "required"}:
            raise _error(
                env_name, f"unknown attribute {key!r}; only type and required are allowed."
            )
        if key in attrs:
            raise _error(env_name, f"attribute {key!r} is given twice.")
        attrs[key] = val
    if "type" not in attrs:
        raise _error(env_name, "the type attribute is mandatory (e.g. type:string).")
    required_text = attrs.get("required", "false")
    if required_text not in {"true", "false"}:
        raise _error(env_name, f"required must be true or false, not {required_text!r}.")
    type_text = attrs["type"]
    options: tuple[str, ...] = ()
    if enum := ENUM_RE.match(type_text):
        options = tuple(o.strip() for o in enum.group(1).split("|"))
        if len(options) < 2 or any(not o for o in options):
            raise _error(
                env_name,
                "an enum needs at least two non-empty options separated by |, e.g. enum[RSA|ECDSA].",
            )
        if len(set(options)) != len(options):
            raise _error(env_name, "enum options must be distinct.")
        type_name = "enum"
    elif type_text in SCALAR_TYPES:
        type_name = type_text
    else:
        raise _error(
            env_name,
            f"unknown type {type_text!r}; use string, integer, boolean, secret_id or enum[a|b].",
        )
    if kind == "credential" and type_name not in OUTPUT_TYPES:
        raise _error(env_name, f"outputs can be string, integer or boolean, not {type_text}.")
    prefix = "SMIN_" if kind == "parameter" else "SMOUT_"
    return Declaration(
        env_name=env_name,
        kind=kind,
        name=env_name.removeprefix(prefix).lower(),
        type=type_name,
        options=options,
        required=required_text == "true",
        format=value.strip(),
    )


def derive_schema(env: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """The configuration schema for a job's environment; every problem is reported at once."""
    problems: list[ValidationError] = []
    parameters: list[dict[str, str]] = []
    credentials: list[dict[str, str]] = []
    required_outputs = 0
    for env_name in sorted(env):
        if env_name in RESERVED:
            problems.append(
                _error(
                    env_name,
                    "this variable is set by Secrets Manager on each run; a job cannot declare it.",
                )
            )
            continue
        if not env_name.startswith(("SMIN_", "SMOUT_")):
            if env_name.upper().startswith(("SMIN", "SMOUT")):
                problems.append(
                    _error(
                        env_name,
                        "names must be SMIN_ or SMOUT_ followed by upper-case letters, digits and underscores.",
                    )
                )
            continue
        try:
            decl = parse_declaration(env_name, str(env[env_name]))
        except ValidationError as exc:
            problems.append(exc)
            continue
        if decl.kind == "parameter":
            parameters.append(
                {
                    "name": decl.name,
                    "format": decl.format,
                    "env_variable_name": f"SM_{decl.name.upper()}_VALUE",
                }
            )
        else:
            credentials.append({"name": decl.name, "format": decl.format})
            required_outputs += decl.required
    if not problems and not required_outputs:
        problems.append(
            ValidationError(
                "The job declares no required output: at least one SMOUT_ variable needs required:true.",
                code="invalid_declaration",
            )
        )
    if problems:
        raise ValidationError(problems)
    return {"parameters": parameters, "credentials": credentials}


def declarations(schema: dict[str, Any], kind: str) -> list[Declaration]:
    key, prefix = ("parameters", "SMIN_") if kind == "parameter" else ("credentials", "SMOUT_")
    return [
        parse_declaration(prefix + item["name"].upper(), item["format"])
        for item in schema.get(key, [])
    ]


def _property(decl: Declaration) -> dict[str, Any]:
    if decl.type == "enum":
        return {"type": "string", "enum": list(decl.options)}
    if decl.type == "secret_id":
        return {"type": "string", "pattern": UUID_PATTERN}
    if decl.type == "string":
        limit = OUTPUT_STRING_MAX if decl.kind == "credential" else PARAMETER_STRING_MAX
        return {"type": "string", "maxLength": limit}
    return {"type": decl.type}


def json_schema(schema: dict[str, Any], kind: str) -> dict[str, Any]:
    """A JSON Schema (2020-12) for a secret's parameters or a job's credentials payload."""
    decls = declarations(schema, kind)
    result = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {d.name: _property(d) for d in decls},
        "required": [d.name for d in decls if d.required],
        "additionalProperties": False,
    }
    Draft202012Validator.check_schema(result)
    return result


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str, kind: str) -> Draft202012Validator:
    """The validator of one stored schema (as canonical JSON), built and self-checked once.

    Issue 13's profile: checking the generated schema against the 2020-12 metaschema on every
    call was 28 % of a custom credentials create's CPU (2.5 of 9 ms), and again in each job's
    callback. A configuration's schema changes only with a new configuration version, which is
    a new key here; the validator holds no per-call state, so it is shared across threads.
    """
    return Draft202012Validator(json_schema(json.loads(schema_json), kind))


def _describe(error: Any, kind: str) -> tuple[str, str]:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return missing, f"{missing} is required."
    if error.validator == "additionalProperties":
        extra = ", ".join(sorted(set(error.instance) - set(error.schema.get("properties", {}))))
        what = "parameter" if kind == "parameter" else "output"
        return extra, f"unknown {what}(s): {extra}; the configuration does not declare them."
    if error.validator == "enum":
        return (
            path,
            f"{path} must be one of {', '.join(error.validator_value)}; got {error.instance!r}.",
        )
    if error.validator == "type":
        return path, f"{path} must be of type {error.validator_value}; got {error.instance!r}."
    if error.validator == "pattern":
        return path, f"{path} must be a secret id (a lowercase UUID); got {error.instance!r}."
    if error.validator == "maxLength":
        return path, f"{path} is longer than {error.validator_value} characters."
    return path, error.message


def validate_against(
    schema: dict[str, Any], values: Any, *, kind: str, field: str
) -> dict[str, Any]:
    """Validate parameters (kind="parameter") or a payload (kind="credential"); errors name the key.

    Payload errors never quote the offending value: it may be secret.
    """
    if not isinstance(values, dict):
        raise ValidationError({field: f"{field} must be a JSON object."})
    validator = _validator(json.dumps(schema, sort_keys=True), kind)
    errors = sorted(
        validator.iter_errors(values), key=lambda e: (list(e.absolute_path), e.validator)
    )
    if errors:
        messages = []
        for err in errors:
            key, message = _describe(err, kind)
            if kind == "credential" and err.validator in {"enum", "type", "pattern"}:
                message = f"{key} does not match the declared format"
            messages.append(f"{message}")
        raise ValidationError({field: messages})
    return values


def env_value(value: Any) -> str:
    """How a parameter value is passed to a job: booleans as true/false, the rest as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def inspect_declarations(env: dict[str, str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The schema a job's variables declare, or the problems that stop it (for the job's page;
    registered with the Code Engine interface from AppConfig.ready)."""
    try:
        return derive_schema(env), []
    except ValidationError as exc:
        return None, list(exc.messages)
