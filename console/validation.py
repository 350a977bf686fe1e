"""The limits and validation rules of reference/sm-api.md §7.2, as plain functions.

Each raises django's ValidationError keyed by the field it is about, so a console form shows the
message beside the field and the API can name the field in IBM's error body. Services call these
before writing anything; forms may call them too, but the service is the gate.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

# Names of secrets, groups and configurations (the CLI's regex): start with a letter, digit or
# underscore, end with a letter or digit; dashes, dots and underscores in between.
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_]*(?:_*-*\.*[A-Za-z0-9]*)*[A-Za-z0-9]+$")
NAME_HINT = (
    "Use letters, digits, dashes, dots and underscores; start with a letter, digit or "
    "underscore and end with a letter or digit."
)
TTL_RE = re.compile(r"^[0-9]+[smhd]?$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
GROUP_ID_RE = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|default)$"
)
TASK_ID_RE = re.compile(r"^sm-task-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SERVICE_ID_RE = re.compile(
    r"^ServiceId-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
ACCESS_GROUP_RE = re.compile(r"^AccessGroupId-[a-z0-9-]+[a-z0-9]$")
ACCOUNT_ID_RE = re.compile(r"^[a-z0-9]{32}$")
CONFIGURATION_REF_RE = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9\-_\.]*)?$")

SECRET_NAME_MAX = 256
GROUP_NAME_MAX = 64
CONFIGURATION_NAME_MAX = 128
DESCRIPTION_MAX = 1024
LABELS_MAX = 30
LABEL_MIN, LABEL_MAX = 2, 64
METADATA_MAX_BYTES = 10 * 1024
ARBITRARY_PAYLOAD_MAX = 1_000_000
# The largest file a console form reads: an arbitrary secret's value of ARBITRARY_PAYLOAD_MAX
# characters, at up to 4 bytes each in UTF-8. A console request may carry this much in files on
# top of settings.DATA_UPLOAD_MAX_MEMORY_SIZE of other form data (console.middleware).
UPLOAD_MAX_BYTES = 4 * ARBITRARY_PAYLOAD_MAX
SECRET_GROUPS_MAX = 200
VERSIONS_KEPT = 50
CUSTOM_CONFIGURATIONS_MAX = 10
ACCESS_GROUPS_MAX = 10

MINUTE, HOUR, DAY = 60, 3600, 86400
# A "month" in a rotation policy counts as 30 days when compared with other durations.
MONTH = 30 * DAY
TTL_UNITS = {"": 1, "s": 1, "m": MINUTE, "h": HOUR, "d": DAY}
ROTATION_UNITS = {"hour": HOUR, "day": DAY, "month": MONTH}

# (minimum, maximum, required) ttl in seconds per secret type (§4.6).
TTL_RANGES: dict[str, tuple[int, int, bool]] = {
    "iam_credentials": (MINUTE, 90 * DAY, True),
    "service_credentials": (DAY, 90 * DAY, False),
    "custom_credentials": (DAY, 90 * DAY, False),
}
# (minimum, maximum) rotation interval in seconds per secret type (§4.5).
ROTATION_RANGES: dict[str, tuple[int, int]] = {
    "custom_credentials": (6 * HOUR, 3 * MONTH),
    "service_credentials": (DAY, 3 * MONTH),
    "iam_credentials": (DAY, 3 * MONTH),
}
TASK_TIMEOUT_MIN, TASK_TIMEOUT_MAX, TASK_TIMEOUT_DEFAULT = 5 * MINUTE, 24 * HOUR, "10m"


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored, or None: a NUL character (PostgreSQL text and JSON cannot
    hold one) or an unpaired surrogate (not Unicode: it has no UTF-8 form)."""
    if "\x00" in value:
        return "contains a NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate, which is not valid Unicode"
    return None


def first_text_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, why) for the first string or object key inside a parsed JSON value that cannot be
    stored (text_problem), walked without recursion; None when there is none."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if problem := text_problem(node):
                return where or "body", problem
        elif isinstance(node, dict):
            for key, child in node.items():
                inner = f"{where}.{key}" if where else str(key)
                if problem := text_problem(str(key)):
                    return where or "body", f"has a key that {problem}"
                stack.append((child, inner))
        elif isinstance(node, list):
            stack.extend(
                (child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(node)
            )
    return None


def _fail(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def human_duration(seconds: int) -> str:
    for size, unit in ((DAY, "day"), (HOUR, "hour"), (MINUTE, "minute")):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def validate_name(
    value: str, *, field: str = "name", max_length: int = SECRET_NAME_MAX, what: str = "Name"
) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(field, f"{what} is required.", "required")
    if len(value) < 2 or len(value) > max_length:
        raise _fail(
            field, f"{what} must be 2 to {max_length} characters long; it has {len(value)}."
        )
    if not NAME_RE.match(value):
        raise _fail(field, f"{what} {value!r} is not allowed. {NAME_HINT}")
    return value


def validate_group_name(value: str, *, field: str = "name") -> str:
    return validate_name(value, field=field, max_length=GROUP_NAME_MAX, what="Group name")


def validate_configuration_name(value: str, *, field: str = "name") -> str:
    return validate_name(
        value, field=field, max_length=CONFIGURATION_NAME_MAX, what="Configuration name"
    )


def validate_description(value: str | None, *, field: str = "description") -> str:
    value = value or ""
    if not isinstance(value, str):
        raise _fail(field, "Description must be text.")
    if problem := text_problem(value):
        raise _fail(field, f"The description {problem}.")
    if len(value) > DESCRIPTION_MAX:
        raise _fail(
            field, f"Description must be at most {DESCRIPTION_MAX} characters; it has {len(value)}."
        )
    return value


def validate_labels(value: list[str] | None, *, field: str = "labels") -> list[str]:
    labels = list(value or [])
    if len(labels) > LABELS_MAX:
        raise _fail(
            field, f"A secret can have at most {LABELS_MAX} labels; {len(labels)} were given."
        )
    seen: set[str] = set()
    for label in labels:
        if not isinstance(label, str):
            raise _fail(field, "Each label must be text.")
        if not LABEL_MIN <= len(label) <= LABEL_MAX:
            raise _fail(
                field, f"Label {label!r} must be {LABEL_MIN} to {LABEL_MAX} characters long."
            )
        if label in seen:
            raise _fail(field, f"Label {label!r} is listed twice.")
        seen.add(label)
    return labels


def validate_metadata(value: Any, *, field: str = "custom_metadata") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(field, 'Metadata must be a JSON object, such as {"owner": "team-a"}.')
    # A NUL (PostgreSQL's JSON cannot hold one) or an unpaired surrogate (no UTF-8 form), e.g.
    # from a \u0000 or \ud800 escape in the JSON text.
    if found := first_text_problem(value):
        where, problem = found
        raise _fail(field, f"Metadata{'' if where == 'body' else f' at {where}'} {problem}.")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        raise _fail(
            field,
            f"Metadata must be at most 10 KB ({METADATA_MAX_BYTES} bytes) as JSON; it is {size} bytes.",
        )
    return value


def parse_metadata_json(text: str, *, field: str = "custom_metadata") -> dict[str, Any]:
    """Parse metadata typed or uploaded as JSON, pointing at the line and column of a syntax error."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            field, f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    return validate_metadata(value, field=field)


def validate_secret_group_id(value: str, *, field: str = "secret_group_id") -> str:
    if not isinstance(value, str) or not GROUP_ID_RE.match(value):
        raise _fail(field, "Secret group id must be a lowercase UUID or 'default'.")
    return value


def parse_duration(value: str, *, field: str, max_chars: int) -> int:
    """'90', '90s', '30m', '24h', '90d' -> seconds."""
    if not isinstance(value, str) or not value:
        raise _fail(field, "A duration is required.", "required")
    if len(value) > max_chars or not TTL_RE.match(value):
        raise _fail(
            field,
            f"{value!r} is not a duration. Use a whole number of seconds, or a number followed by "
            f"s, m, h or d (e.g. 30m, 24h, 90d), at most {max_chars} characters.",
        )
    unit = value[-1] if value[-1].isalpha() else ""
    return int(value[: len(value) - len(unit)]) * TTL_UNITS[unit]


def parse_ttl(value: str | None, *, secret_type: str, field: str = "ttl") -> int | None:
    """Validate a ttl for the secret type; return seconds, or None when none was given."""
    minimum, maximum, required = TTL_RANGES.get(secret_type, (0, 0, False))
    if value in (None, ""):
        if required:
            raise _fail(
                field, "A lease duration (ttl) is required for this secret type.", "required"
            )
        return None
    if secret_type not in TTL_RANGES:
        raise _fail(field, f"Secrets of type {secret_type} do not take a ttl.")
    seconds = parse_duration(str(value), field=field, max_chars=10)
    if seconds == 0 and secret_type == "service_credentials":
        return None  # 0 means "no expiry" for service credentials
    if not minimum <= seconds <= maximum:
        if seconds == 0:
            given = (
                "this type of secret always needs a lease, so 0 is not allowed"
                if required
                else "leave it empty for credentials that do not expire"
            )
        else:
            given = f"{value} is {human_duration(seconds)}"
        raise _fail(
            field,
            f"The lease duration must be between {human_duration(minimum)} and "
            f"{human_duration(maximum)}; {given}.",
        )
    return seconds


def parse_task_timeout(value: str | None, *, field: str = "task_timeout") -> tuple[str, int]:
    """Validate a configuration's task_timeout; return (as given, seconds). Default 10m."""
    text = value if value not in (None, "") else TASK_TIMEOUT_DEFAULT
    seconds = parse_duration(str(text), field=field, max_chars=6)
    if not TASK_TIMEOUT_MIN <= seconds <= TASK_TIMEOUT_MAX:
        raise _fail(
            field,
            f"The task timeout must be between 5 minutes and 24 hours; {text} is {human_duration(seconds)}.",
        )
    return str(text), seconds


def validate_rotation(
    value: dict[str, Any] | None,
    *,
    secret_type: str,
    ttl_seconds: int | None = None,
    reuse_api_key: bool | None = None,
    field: str = "rotation",
) -> dict[str, Any] | None:
    """Check a rotation policy {auto_rotate, interval, unit}; return it normalised, or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(field, "Rotation must be an object with auto_rotate, interval and unit.")
    unknown = set(value) - {"auto_rotate", "interval", "unit"}
    if unknown:
        raise _fail(field, f"Unknown rotation field(s): {', '.join(sorted(unknown))}.")
    auto = value.get("auto_rotate")
    if not isinstance(auto, bool):
        raise _fail(field, "Rotation needs auto_rotate set to true or false.", "required")
    if not auto:
        return {"auto_rotate": False}
    if secret_type not in ROTATION_RANGES:
        raise _fail(field, f"Secrets of type {secret_type} cannot rotate automatically.")
    if secret_type == "iam_credentials" and reuse_api_key is False:
        raise _fail(
            field,
            "Automatic rotation needs 'Reuse IAM credentials until lease expires' turned on.",
        )
    interval, unit = value.get("interval"), value.get("unit")
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise _fail(field, "The rotation interval must be a whole number of at least 1.")
    if unit not in ROTATION_UNITS:
        raise _fail(field, "The rotation unit must be hour, day or month.")
    seconds = interval * ROTATION_UNITS[unit]
    minimum, maximum = ROTATION_RANGES[secret_type]
    if not minimum <= seconds <= maximum:
        raise _fail(
            field,
            f"The rotation interval must be between {human_duration(minimum)} and 3 months; "
            f"{interval} {unit}(s) is outside that range.",
        )
    if ttl_seconds is not None and seconds > ttl_seconds:
        raise _fail(
            field,
            f"The rotation interval ({interval} {unit}(s)) cannot be longer than the lease "
            f"duration ({human_duration(ttl_seconds)}).",
        )
    return {"auto_rotate": True, "interval": interval, "unit": unit}


def validate_arbitrary_payload(value: Any, *, field: str = "payload") -> str:
    if not isinstance(value, str) or value == "":
        raise _fail(field, "A secret value is required.", "required")
    if problem := text_problem(value):
        raise _fail(field, f"The secret value {problem}; encode binary data as base64 first.")
    if len(value) > ARBITRARY_PAYLOAD_MAX:
        raise _fail(
            field,
            f"The secret value must be at most 1 MB ({ARBITRARY_PAYLOAD_MAX} characters); it has {len(value)}.",
        )
    return value


def validate_expiration_date(
    value: datetime | None, *, field: str = "expiration_date"
) -> datetime | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        raise _fail(field, "The expiration date needs a time zone (e.g. 2030-01-01T00:00:00Z).")
    if value <= timezone.now():
        raise _fail(field, "The expiration date must be in the future.")
    return value


def validate_task_id(value: str, *, field: str = "id") -> str:
    if not isinstance(value, str) or not TASK_ID_RE.match(value):
        raise _fail(field, "A task id looks like sm-task-<uuid>.")
    return value


def validate_service_id(value: str, *, field: str = "service_id") -> str:
    if not isinstance(value, str) or not SERVICE_ID_RE.match(value):
        raise _fail(field, "A service ID looks like ServiceId-<uuid> (46 characters).")
    return value


def validate_access_groups(value: list[str], *, field: str = "access_groups") -> list[str]:
    groups = list(value or [])
    if not 1 <= len(groups) <= ACCESS_GROUPS_MAX:
        raise _fail(
            field, f"Select 1 to {ACCESS_GROUPS_MAX} access groups; {len(groups)} were given."
        )
    for group in groups:
        if not isinstance(group, str) or not ACCESS_GROUP_RE.match(group):
            raise _fail(field, f"{group!r} is not an access group id (AccessGroupId-...).")
    return groups


def validate_account_id(value: str, *, field: str = "account_id") -> str:
    if not isinstance(value, str) or not ACCOUNT_ID_RE.match(value):
        raise _fail(field, "An account id is 32 lowercase letters and digits.")
    return value
